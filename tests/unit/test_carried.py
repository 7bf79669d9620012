"""The one line the CLI states after its verdicts: a counted rate only where the shipped counts back it."""

import json

import pytest

from normcheck import carried

RECORD = {"schema": carried.SCHEMA, "rule": "abc", "backends": {"jax": {"seeds": "10-29", "runs": {
    "1": {"failing": 3, "trials": 20, "upper": 0.33, "fit": []},
    "5": {"failing": 0, "trials": 4, "upper": 0.53, "fit": ["some_claim"]}}}}}


@pytest.fixture
def shipped(tmp_path):
    path = tmp_path / "carried-rates.json"
    path.write_text(json.dumps(RECORD))
    return path


def test_a_counted_run_states_its_count_bound_and_rule(shipped):
    text = carried.line("jax", 5, "abc", shipped)
    assert text == ("with its initial weights redrawn, a healthy jax stack failed some claim in 0/4 replica runs of 5 "
                    "seeds on held-out seeds plus 1 claim counted on real fit's seeds, 95% upper 5.3e-01 for both "
                    "(rule abc, seeds 10-29: calibration/jax.md)")
    assert "in 3/20 replica runs of 1 seed on held-out seeds, 95% upper 3.3e-01 (" in carried.line("jax", 1, "abc", shipped)


@pytest.mark.parametrize(("backend", "seeds", "rule", "says"), [
    ("jax", 5, "new", "the shipped counts are for rule abc, the claims here are rule new"),
    ("torch", 5, "abc", "no counted false-fail rate on torch: counted on jax"),
    ("jax", 3, "abc", "no counted false-fail rate for a run of 3 seeds on jax: counted for runs of 1 and 5"),
])
def test_no_rate_is_stated_that_the_counts_do_not_back(shipped, backend, seeds, rule, says):
    assert says in carried.line(backend, seeds, rule, shipped)


def test_fits_own_batch_order_is_not_given_the_counts_of_normcheck_s_order(shipped):
    assert carried.line("jax", 5, "abc", shipped, order="fit").startswith("no counted false-fail rate for batch order 'fit'")


def test_a_held_out_fit_count_says_so(tmp_path):
    record = json.loads(json.dumps(RECORD))
    record["backends"]["jax"]["runs"]["5"]["fit_seeds"] = "held-out fit seeds"
    path = tmp_path / "carried-rates.json"
    path.write_text(json.dumps(record))
    assert "plus 1 claim counted on real fit's held-out seeds, 95% upper" in carried.line("jax", 5, "abc", path)


def test_a_missing_or_foreign_file_states_no_rate(tmp_path):
    assert carried.line("jax", 5, "abc", tmp_path / "none.json").startswith("no counted false-fail rate is shipped")
    (tmp_path / "other.json").write_text('{"schema": "other/1"}')
    assert carried.line("jax", 5, "abc", tmp_path / "other.json").startswith("no counted false-fail rate is shipped")


@pytest.mark.parametrize("broken", [
    {"backends": []}, {"backends": {"jax": []}}, {"backends": {"jax": {"seeds": "1-2"}}},
    {"backends": {"jax": {"seeds": "1-2", "runs": {"5": {"failing": 0, "trials": 4, "fit": []}}}}},
    {"backends": {"jax": {"seeds": "1-2", "runs": {"5": {"failing": 0, "trials": 4, "upper": "0.5", "fit": []}}}}},
    {"backends": {"jax": {"seeds": "1-2", "runs": {"abc": {"failing": 0, "trials": 4, "upper": 0.5, "fit": []}}}}},
    {"backends": {"jax": {"seeds": "1-2", "runs": {"5": {"failing": 0, "trials": 4, "upper": 0.5, "fit": 3}}}}},
])
def test_a_malformed_file_states_no_rate_instead_of_failing_the_run(tmp_path, broken):
    """The CLI reads the file after training: a broken shipped file costs the sentence, not the run."""
    path = tmp_path / "carried-rates.json"
    path.write_text(json.dumps({**RECORD, **broken}))
    assert carried.line("jax", 5, "abc", path).startswith("no counted false-fail rate is shipped")
