"""Where the replica does not stand for real fit, compare's spread comes from fit's seeds, and replays of the
replica leave that variant out."""

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from normcheck import framework, redraw
from normcheck.calibration import engine, jobs, rates, spread, store
from normcheck.errors import InputError
from normcheck.run import by_seed
from normcheck.variants import VARIANTS

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
VARIANT = "batch_norm_before_activation"


@pytest.fixture(scope="module")
def runs():
    path = store.REPLICA_RUNS.path(CALIBRATION, "jax")
    if not path.exists():
        pytest.skip("no stored replica calibration of jax")
    return [r for r in store.load_replica_runs(path) if r.seed < 40]


def _fit(runs, seeds):
    """Stand-ins for real fit's runs of VARIANT: the replica's, moved so that where a value came from is visible."""
    return [dataclasses.replace(r, eval_accuracy=[a - 0.5 for a in r.eval_accuracy])
            for r in runs if r.variant == VARIANT and r.seed in seeds]


def test_the_spread_takes_fits_values_for_its_variants_on_the_seeds_fit_ran(runs):
    data = spread.condensed(runs, _fit(runs, range(10, 30)), [VARIANT])
    cells = redraw.parse(data, Path("redraw-jax.npz"), "jax", min_seeds=0)
    assert cells.from_fit == (VARIANT,)
    assert cells.seeds == 20
    replica = by_seed(runs)
    moved = cells.column(VARIANT, "eval_accuracy", 1)
    kept = cells.column("none", "eval_accuracy", 1)
    for i, seed in enumerate(range(10, 30)):
        assert moved[i] == pytest.approx(replica[seed][VARIANT].eval_accuracy[0] - 0.5, abs=1e-6)
        assert kept[i] == pytest.approx(replica[seed]["none"].eval_accuracy[0], abs=1e-6)


def test_without_fit_the_header_names_no_variant(runs):
    data = spread.condensed(runs)
    cells = redraw.parse(data, Path("redraw-jax.npz"), "jax", min_seeds=0)
    assert cells.from_fit == ()
    assert "from_fit" not in cells.header


def test_fit_that_ran_none_of_the_seeds_is_refused(runs):
    with pytest.raises(InputError, match=VARIANT):
        spread.condensed(runs, [], [VARIANT])


def test_a_spread_naming_an_unknown_variant_from_fit_is_refused(runs):
    with np.load(io.BytesIO(spread.condensed(runs, _fit(runs, range(40)), [VARIANT]))) as f:
        arrays = {k: f[k] for k in f.files}
    header = str(arrays["header"]).replace(f'"from_fit": ["{VARIANT}"]', '"from_fit": ["nope"]')
    assert '"nope"' in header
    out = io.BytesIO()
    np.savez(out, **{**arrays, "header": np.array(header)})
    with pytest.raises(InputError, match=r"from_fit is \['nope'\]"):
        redraw.parse(out.getvalue(), Path("redraw-jax.npz"), "jax", min_seeds=0)


@pytest.fixture
def seen(monkeypatch):
    """TensorFlow's spread takes VARIANT from fit; every replay compare would make is recorded, not made:
    (baseline's backend, today's, the variants its groups hold)."""
    monkeypatch.setattr(spread, "from_fit", lambda backend: (VARIANT,) if backend == "tensorflow" else ())
    replays = []

    def record(then, today, backend_then, backend_today):
        replays.append((backend_then, backend_today, {v for g in (*then, *today) for rs in g.values() for v in rs}))
        return 0, len(then)

    monkeypatch.setattr(spread.baseline, "flagged_pairs", record)
    return replays


def test_replays_of_the_replica_leave_out_what_comes_from_fit(runs, seen):
    held = {"jax": by_seed(runs), "tensorflow": by_seed(runs)}
    replays = spread.redraw_replays(held, sizes=(spread.GROUP,))
    variants = {r.variant for r in runs}
    assert [(a, b, v == variants - {VARIANT}) for a, b, v in seen] == [
        ("jax", "jax", False), ("jax", "tensorflow", True), ("tensorflow", "tensorflow", True)]
    assert seen[0][2] == variants
    assert [r.left_out for r in replays] == [(), (VARIANT,), (VARIANT,)]
    seen.clear()
    spread.redraw_replays(held, sizes=(spread.GROUP,), replica=False)
    assert all(v == variants for _, _, v in seen)


def test_held_out_fit_is_replayed_against_itself_and_against_another_backends_replica(runs, seen, monkeypatch):
    held = {"jax": by_seed(runs), "tensorflow": by_seed(runs)}
    fit = {s: {VARIANT: rs[VARIANT]} for s, rs in by_seed(runs).items()}
    replays = spread.held_fit_replays(held, {"tensorflow": fit}, sizes=(spread.GROUP,))
    assert [(r.backend_a, r.backend_b) for r in replays] == [("jax", "tensorflow"), ("tensorflow", "tensorflow")]
    assert all(variants == {VARIANT} for _, _, variants in seen), "only the variants real fit ran"
    monkeypatch.setattr(spread, "from_fit", lambda backend: (VARIANT,))
    assert [(r.backend_a, r.backend_b) for r in spread.held_fit_replays(held, {"tensorflow": fit}, (spread.GROUP,))] == [
        ("tensorflow", "tensorflow")], "no replica where it does not stand for fit"


def test_replays_of_real_fit_compare_only_the_variants_both_sides_ran(runs, seen):
    every = by_seed(runs)
    held = {"jax": every, "tensorflow": spread.without(every, [VARIANT])}
    replays = spread.redraw_replays(held, sizes=(spread.GROUP,), replica=False)
    assert [(r.backend_a, r.backend_b, r.left_out) for r in replays] == [
        ("jax", "jax", ()), ("jax", "tensorflow", (VARIANT,)), ("tensorflow", "tensorflow", ())]
    variants = {r.variant for r in runs}
    assert [v for _, _, v in seen] == [variants, variants - {VARIANT}, variants - {VARIANT}]


def test_sides_that_ran_no_seed_in_common_pair_every_group(runs, monkeypatch):
    paired = []

    def record(then, today, backend_then, backend_today):
        paired.append([(min(a), min(b)) for a, b in zip(then, today, strict=True)])
        return 0, len(then)

    monkeypatch.setattr(spread.baseline, "flagged_pairs", record)
    every = by_seed(runs)
    held = {"jax": {s: rs for s, rs in every.items() if s < 20}, "tensorflow": {s: rs for s, rs in every.items() if s >= 20}}
    replays = spread.redraw_replays(held, sizes=(5,), replica=False)
    assert [(r.backend_a, r.backend_b, r.flagged.trials) for r in replays] == [
        ("jax", "jax", 2), ("jax", "tensorflow", 4), ("tensorflow", "tensorflow", 2)]
    assert paired == [[(0, 10), (5, 15)], [(0, 20), (5, 25), (10, 30), (15, 35)], [(20, 30), (25, 35)]]



def test_a_side_counted_in_stages_keeps_each_stages_replays_and_is_counted_staged(runs, monkeypatch):
    """A continued held-out range (ledger.stages): the first stage's replays are the ones counted before the range was
    continued; later pairs count in the later stage, and no group straddles two (unstaged, seeds 27-31 would be one)."""
    paired = []

    def record(then, today, backend_then, backend_today):
        paired.append([(sorted(a), sorted(b)) for a, b in zip(then, today, strict=True)])
        return len(then), len(then)

    monkeypatch.setattr(spread.baseline, "flagged_pairs", record)
    every = by_seed(runs)
    held = {"jax": {s: rs for s, rs in every.items() if s < 15}, "tensorflow": {s: rs for s, rs in every.items() if s >= 22}}
    first = {"jax": held["jax"], "tensorflow": {s: rs for s, rs in held["tensorflow"].items() if s < 30}}
    before = spread.redraw_replays(first, sizes=(5,), replica=False)
    earlier = list(paired)
    paired.clear()
    replays = spread.redraw_replays(held, sizes=(5,), replica=False, stages={"tensorflow": [range(22, 30), range(30, 40)]})
    assert [(r.backend_a, r.backend_b, r.flagged.failing, r.flagged.stages) for r in replays] == [
        ("jax", "jax", 1, ()), ("jax", "tensorflow", 3, ((1, 1), (2, 2))), ("tensorflow", "tensorflow", 1, ())]
    assert [(r.backend_a, r.backend_b, r.flagged.failing) for r in before] == [("jax", "jax", 1), ("jax", "tensorflow", 1)]
    assert paired[1] == earlier[1], "the first stage's replays, as counted before"
    assert paired[2] == [(list(range(5, 10)), list(range(30, 35))), (list(range(10, 15)), list(range(35, 40)))]
    assert paired[3] == [(list(range(30, 35)), list(range(35, 40)))]
    assert replays[1].flagged.upper == rates.staged_upper_bound([(1, 1), (2, 2)])


def test_stages_that_would_change_a_counted_stages_pairs_are_refused(runs):
    """Sides that share seeds are half-split: staging one side alone would pair other groups than its first stage's
    count did."""
    every = by_seed(runs)
    held = {"jax": {s: rs for s, rs in every.items() if s < 30}, "tensorflow": {s: rs for s, rs in every.items() if s >= 10}}
    with pytest.raises(InputError, match=r"stages none and 10-29, 30-39 on two sides that ran seeds in common"):
        spread.redraw_replays(held, sizes=(5,), replica=False, stages={"tensorflow": [range(10, 30), range(30, 40)]})
    with pytest.raises(InputError, match=r"\(only since a continuation\)"):
        spread.redraw_replays(held, sizes=(5,), replica=False, stages={"jax": [range(0, 10), range(10, 30)]})

class _Trained(Exception):
    pass


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_the_close_job_trains_only_what_the_close_regime_compares(backend, tmp_path, monkeypatch):
    held = store.HOLDOUT_RUNS.path(CALIBRATION, backend)
    if not held.exists():
        pytest.skip(f"no stored held-out replica runs of {backend}")
    (tmp_path / held.name).symlink_to(held)
    asked = []

    def collect(seeds, path, experiment, variants, **kwargs):
        asked.append(list(variants))
        raise _Trained

    monkeypatch.setattr(framework, "default_backend", lambda: backend)
    monkeypatch.setattr(engine, "collect", collect)
    with pytest.raises(_Trained):
        jobs.calibrate_close_fit(tmp_path, range(9500000, 9500005))
    assert asked == [[v for v in VARIANTS if v not in spread.from_fit(backend)]]
    assert (VARIANT in asked[0]) == (backend == "jax")
