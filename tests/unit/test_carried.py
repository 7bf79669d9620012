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
                    "seeds on held-out seeds plus 1 claim counted on real fit's calibration seeds, 95% upper 5.3e-01 for both "
                    "(rule abc, seeds 10-29: calibration/jax.md)")
    assert "in 3/20 replica runs of 1 seed on held-out seeds, 95% upper 3.3e-01 (" in carried.line("jax", 1, "abc", shipped)


def test_a_count_made_in_stages_says_so(tmp_path):
    record = json.loads(json.dumps(RECORD))
    record["backends"]["jax"]["runs"]["1"]["stages"] = [[3, 10], [0, 10]]
    path = tmp_path / "carried-rates.json"
    path.write_text(json.dumps(record))
    assert ("in 3/20 replica runs of 1 seed on held-out seeds counted in 2 stages (3/10 then 0/10; staged bound), 95% "
            "upper 3.3e-01 (") in carried.line("jax", 1, "abc", path)
    record["backends"]["jax"]["runs"]["1"]["stages"] = [[3]]
    path.write_text(json.dumps(record))
    assert carried.line("jax", 1, "abc", path).startswith("no counted false-fail rate is shipped")


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


COMPARE = [
    {"engine": "replica", "size": 5, "a": "jax", "b": "tensorflow", "flagged": 4, "trials": 2000, "upper": 0.0046,
     "left_out": ["batch_norm_before_activation"]},
    {"engine": "replica", "size": 5, "a": "tensorflow", "b": "tensorflow", "flagged": 2, "trials": 2000,
     "upper": 0.0031, "left_out": ["batch_norm_before_activation"], "joint_upper": 0.031},
    {"engine": "fit", "size": 5, "a": "tensorflow", "b": "tensorflow", "flagged": 0, "trials": 100, "upper": 0.0295,
     "variants": ["batch_norm_before_activation"]},
    {"engine": "replica", "size": 10, "a": "jax", "b": "jax", "flagged": 3, "trials": 1000, "upper": 0.0077,
     "left_out": []},
    {"engine": "xla-defaults", "size": 5, "a": "tensorflow", "b": "tensorflow", "flagged": 1, "trials": 2000,
     "upper": 0.0024, "left_out": ["batch_norm_before_activation"]},
]


@pytest.fixture
def with_compare(tmp_path):
    path = tmp_path / "carried-rates.json"
    path.write_text(json.dumps({**RECORD, "compare": COMPARE}))
    return path


def test_compare_states_the_held_out_replays_of_its_pair_and_group_size(with_compare):
    line = carried.compare_line("tensorflow", "jax", 5, "redrawn", "abc", with_compare)
    assert line == ("5 seeds a side, jax against tensorflow, initial weights redrawn: a healthy stack was flagged in "
                    "4/2000 held-out replica replays without batch_norm_before_activation, 95% upper 0.46%; no count "
                    "covers the cells of batch_norm_before_activation here (the replica does not stand for fit there) "
                    "(rule abc: calibration/compare.md)")
    both = carried.compare_line("tensorflow", "tensorflow", 5, "redrawn", "abc", with_compare)
    assert ("2/2000 held-out replica replays without batch_norm_before_activation and 0/100 held-out real-fit replays "
            "of batch_norm_before_activation, 95% upper 3.10% for both together (rule abc") in both
    assert "no count covers" not in both
    assert "3/1000 held-out replica replays, 95% upper 0.77% (rule abc" in carried.compare_line(
        "jax", "jax", 10, "redrawn", "abc", with_compare)


def test_compare_states_the_close_regimes_held_out_count_apart_from_the_redrawn_ones(with_compare):
    line = carried.compare_line("tensorflow", "tensorflow", 5, "close", "abc", with_compare)
    assert line == ("5 seeds a side, tensorflow, the same initial weights: held-out replica runs against the same seeds "
                    "with float-level differences (JAX's default XLA options) were flagged in 1/2000 replays, 95% upper "
                    "0.24%; no count covers the cells of batch_norm_before_activation here (the replica does not stand "
                    "for fit there) (rule abc: calibration/compare.md)")
    assert "1/2000" not in carried.compare_line("tensorflow", "tensorflow", 5, "redrawn", "abc", with_compare)


@pytest.mark.parametrize(("then", "now", "seeds", "regime", "rule", "question", "says"), [
    ("jax", "jax", 50, "redrawn", "abc", True, "no counted false-alarm rate for 50 seeds a side: counted for 10"),
    ("torch", "jax", 5, "redrawn", "abc", True, "no counted false-alarm rate for jax against torch"),
    ("jax", "jax", 5, "close", "abc", True, "no counted false-alarm rate for the close regime, jax against jax"),
    ("tensorflow", "tensorflow", 10, "close", "abc", True, "close regime with 10 seeds a side: counted for 5"),
    ("jax", "jax", 5, "redrawn", "new", True, "the shipped counts are for rule abc, compare here is rule new"),
    ("jax", "jax", 5, "redrawn", "abc", False, "compare's counts are for the question's experiment"),
    ("jax", "jax", 5, "identical", "abc", True, "no cell can move"),
])
def test_compare_states_no_rate_the_counts_do_not_back(with_compare, then, now, seeds, regime, rule, question, says):
    assert says in carried.compare_line(then, now, seeds, regime, rule, with_compare, question=question)


def test_a_file_without_compare_counts_or_with_a_malformed_row_states_no_compare_rate(shipped, tmp_path):
    assert carried.compare_line("jax", "jax", 5, "redrawn", "abc", shipped).startswith("no counted false-alarm rate")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**RECORD, "compare": [{**COMPARE[0], "trials": 0}]}))
    assert carried.read(path) is None
    assert carried.compare_line("jax", "tensorflow", 5, "redrawn", "abc", path).startswith("no counted false-alarm")
