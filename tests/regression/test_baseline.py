"""Baselines: record on one framework version, compare on another (here: against itself)."""

import dataclasses
import json

import pytest

from normcheck import Experiment, baseline, cli, fitorder, framework
from normcheck.calibration import engine

pytestmark = pytest.mark.upgrade

SMALL = Experiment(n_samples=2000, epochs=2)
SEEDS = (0, 1)
VARIANTS = ("input_norm", "input_and_batch_norm")


@pytest.fixture(scope="module")
def small_matrix(normcheck_runs):
    return {s: normcheck_runs.for_seed(s, VARIANTS, SMALL) for s in SEEDS}


@pytest.fixture
def small_baseline(small_matrix, tmp_path):
    runs = [r for s in SEEDS for r in small_matrix[s].values()]
    path = tmp_path / "base.json"
    baseline.save(baseline.make(runs, SMALL, SEEDS, framework.versions()), path)
    return path


def test_recorded_baseline_round_trips_and_matches_itself(small_baseline, small_matrix):
    base = baseline.load(small_baseline)
    assert base.seeds == list(SEEDS)
    assert base.variants == list(VARIANTS)
    result = baseline.compare(base, small_matrix, framework.versions())
    assert result.ok
    assert result.identical
    assert "all identical to the baseline" in result.table()


@pytest.fixture
def moved_comparison(small_baseline, small_matrix):
    """input_norm's train-mode accuracy 5 points lower in every epoch of every seed: a change compare must report."""
    base = baseline.load(small_baseline)
    moved = {s: dict(rs) for s, rs in small_matrix.items()}
    for s in SEEDS:
        r = moved[s]["input_norm"]
        moved[s]["input_norm"] = dataclasses.replace(r, accuracy=[a - 0.05 for a in r.accuracy])
    return baseline.compare(base, moved, framework.versions())


def test_a_moved_metric_is_reported_with_its_tolerance(moved_comparison):
    result = moved_comparison
    assert not result.ok
    bad = [m for m in result.cells if not m.ok]
    assert {(m.variant, m.metric) for m in bad} == {("input_norm", "accuracy")}
    assert "MOVED" in result.table()


def test_refuses_to_overwrite_without_force(small_baseline, small_matrix):
    base = baseline.load(small_baseline)
    with pytest.raises(ValueError, match="exists; pass --force"):
        baseline.save(base, small_baseline)
    baseline.save(base, small_baseline, force=True)


def test_cli_compare_exits_0_on_an_unchanged_framework(small_baseline, capsys, tmp_path):
    markdown = tmp_path / "compare.md"
    assert cli.main(["baseline", "compare", str(small_baseline), "--quiet", "--jobs", "1", "--markdown", str(markdown)]) == 0
    assert "all identical to the baseline" in capsys.readouterr().out
    assert markdown.read_text().startswith("### normcheck baseline compare: identical")


def test_what_moved_is_a_markdown_table(moved_comparison):
    result = moved_comparison
    bad = [m for m in result.cells if not m.ok]
    text = result.markdown()
    assert text.startswith(f"### normcheck baseline compare: {len(bad)} cells moved")
    for m in bad:
        assert f"| {m.variant} | {m.metric} | {m.epoch} | {m.rule} | {m.baseline:.4f} | {m.today:.4f} |" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{", "is not JSON"),
        ("[]", "has schema 'list'"),
        ('{"schema": "normcheck.run/1"}', "expected 'normcheck.baseline/2'"),
        ('{"schema": "normcheck.baseline/1"}', "lacks the field"),
        ('{"schema": "normcheck.baseline/1", "experiment": {"epochs": 0}, "seeds": [0], "runs": [], "fingerprint": {}}',
         r"malformed: Experiment\.epochs=0"),
        ('{"schema": "normcheck.baseline/1", "experiment": {}, "seeds": [0], "runs": [], "fingerprint": {}}', "holds no runs"),
    ],
)
def test_bad_baseline_files_are_clear_errors(tmp_path, capsys, content, message):
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        baseline.load(path)
    assert cli.main(["baseline", "compare", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("normcheck: error: baseline")


def test_a_run_for_another_experiment_makes_the_baseline_inconsistent(small_baseline):
    data = json.loads(small_baseline.read_text())
    data["runs"][0]["experiment"]["epochs"] = 3
    data["runs"][0]["loss"].append(0.1)
    for k in ("accuracy", "eval_loss", "eval_accuracy", "seconds"):
        data["runs"][0][k].append(0.1)
    data["runs"][0]["diagnostics"].append(data["runs"][0]["diagnostics"][-1])
    small_baseline.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="inconsistent"):
        baseline.load(small_baseline)


def test_matches_the_baseline_given_on_the_command_line(pytestconfig, normcheck_runs, normcheck_backend, normcheck_property):
    """`pytest --normcheck-baseline PATH`: today's framework against a recorded one (its summary goes to JUnit XML)."""
    path = pytestconfig.getoption("--normcheck-baseline")
    if not path:
        pytest.skip("no --normcheck-baseline PATH given")
    base = baseline.load(path)
    today = {s: normcheck_runs.for_seed(s, base.variants, base.experiment) for s in base.seeds}
    order = fitorder.read_orders_in_fresh_process(normcheck_backend) if base.fit_order is not None else None
    result = baseline.compare(base, today, framework.versions(), order)
    normcheck_property("baseline", result.summary)
    assert result.ok, "\n" + result.table()


STABLE = ("input_norm", "input_and_batch_norm")


@pytest.fixture(scope="module")
def close_pair(normcheck_runs, normcheck_backend):
    """A baseline of real fit runs and, as today, the replica from the same initial weights: float-level differences only."""
    pytest.importorskip("jax")
    if framework.legacy_keras():
        pytest.skip("the replica follows Keras 3's fit")
    seeds = [0, 1]
    fit = {s: normcheck_runs.for_seed(s, STABLE) for s in seeds}
    initial = engine.initial_weights(seeds)
    mode = framework.traits(normcheck_backend).loss_mode
    today = {s: {} for s in seeds}
    for v in STABLE:
        for r in engine.simulate(v, seeds, initial, loss_mode=mode):
            today[r.seed][v] = r
    base = baseline.make([r for s in seeds for r in fit[s].values()], Experiment(), seeds, framework.versions())
    return base, today


def test_close_trajectories_are_compared_seed_by_seed_and_pass(close_pair):
    base, today = close_pair
    moves, kind, _ = baseline.compare_cells(base, today, framework.versions())
    assert kind == "close"
    assert {m.rule for m in moves} == {"seed"}
    assert all(m.ok for m in moves), [m for m in moves if not m.ok]


def test_a_one_point_shift_under_close_trajectories_is_flagged(close_pair):
    """input_and_batch_norm's epoch-1 train-mode accuracy one point lower in every seed: the cell issue 12 names."""
    base, today = close_pair
    shifted = {s: dict(rs) for s, rs in today.items()}
    for _s, rs in shifted.items():
        r = rs["input_and_batch_norm"]
        rs["input_and_batch_norm"] = dataclasses.replace(r, accuracy=[r.accuracy[0] - 0.01, *r.accuracy[1:]])
    moves, kind, _ = baseline.compare_cells(base, shifted, framework.versions())
    assert kind == "close"
    assert [(m.variant, m.metric, m.epoch) for m in moves if not m.ok] == [("input_and_batch_norm", "accuracy", 1)]
