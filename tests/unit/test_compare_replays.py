"""compare's false alarms are replayed once per unordered pair of backends: that rests on its rule being symmetric."""

import dataclasses
from pathlib import Path

import pytest

from normcheck import baseline
from normcheck.calibration import rates, spread, store
from normcheck.run import by_seed, disjoint_groups

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


@pytest.fixture(scope="module")
def groups():
    held = {b: by_seed(store.load_replica_runs(p)) for b, p in store.HOLDOUT_RUNS.by_backend(CALIBRATION).items()}
    if set(held) != {"jax", "tensorflow"}:
        pytest.skip("no held-out seeds of both backends stored")
    return {b: disjoint_groups(m, spread.GROUP)[:4] for b, m in held.items()}


def test_comparing_b_with_a_flags_what_comparing_a_with_b_flags(groups):
    for a, b in (("jax", "tensorflow"), ("tensorflow", "tensorflow")):
        first, second = groups[a][:2], groups[b][2:4]
        for x, y in zip(first, second, strict=True):
            there = baseline.flagged_pairs([x], [y], a, b)
            back = baseline.flagged_pairs([y], [x], b, a)
            assert there == back, (a, b, sorted(x), sorted(y))


def test_each_pair_of_backends_is_replayed_once_on_groups_that_share_no_seed(groups, monkeypatch):
    held = {b: {s: rs for g in gs for s, rs in g.items()} for b, gs in groups.items()}
    seen = []

    def record(then, today, backend_then, backend_today):
        seen.append((backend_then, backend_today, [(set(a), set(b)) for a, b in zip(then, today, strict=True)]))
        return 0, len(then)

    monkeypatch.setattr(baseline, "flagged_pairs", record)
    spread.redraw_replays(held, sizes=(spread.GROUP,))
    assert [(a, b) for a, b, _ in seen] == [("jax", "jax"), ("jax", "tensorflow"), ("tensorflow", "tensorflow")]
    for _, _, pairs in seen:
        assert pairs
        assert all(not (x & y) for x, y in pairs)


def _moved(runs_by_seed, variant, shift):
    """The same runs with one variant's eval accuracy shifted at every epoch (a float-level change, or a real one)."""
    return {s: {v: (dataclasses.replace(r, eval_accuracy=[a + shift for a in r.eval_accuracy]) if v == variant else r)
                for v, r in rs.items()} for s, rs in runs_by_seed.items()}


def test_close_replays_count_only_what_compare_reads_as_close(groups):
    runs = {s: rs for g in groups["jax"] for s, rs in g.items()}
    same = spread.close_replays([("a", runs, "b", runs)], sizes=(spread.GROUP,))
    assert [(r.flagged.trials, r.not_close.trials) for r in same] == [(0, len(groups["jax"]))]  # identical, not close
    tiny = spread.close_replays([("a", runs, "b", _moved(runs, "input_norm", 1e-7))], sizes=(spread.GROUP,))
    assert [(r.flagged.failing, r.flagged.trials, r.not_close.trials) for r in tiny] == [(0, len(groups["jax"]), 0)]
    moved = spread.close_replays([("a", runs, "b", _moved(runs, "input_norm", 0.01))], sizes=(spread.GROUP,))
    assert [(r.flagged.failing, r.flagged.trials) for r in moved] == [(len(groups["jax"]), len(groups["jax"]))]


def test_replays_of_a_range_counted_in_stages_pair_groups_within_each_stage(groups, monkeypatch):
    held = {b: {s: rs for g in gs for s, rs in g.items()} for b, gs in groups.items()}
    seeds = sorted(held["jax"])
    stages = [range(seeds[0], seeds[10]), range(seeds[10], seeds[-1] + 1)]
    seen = []

    def record(then, today, backend_then, backend_today):
        seen.append([(set(a), set(b)) for a, b in zip(then, today, strict=True)])
        return 1, len(then)

    monkeypatch.setattr(baseline, "flagged_pairs", record)
    rows = spread.staged_redraw_replays(held, stages, sizes=(spread.GROUP,))
    for pairs in seen:
        for a, b in pairs:
            assert any(a | b <= set(st) for st in stages), "a replay straddles the stages"
    for row in rows:
        assert row.flagged.stages == ((1, 1), (1, 1))
        assert row.flagged.upper == rates.staged_upper_bound([(1, 1), (1, 1)])
    assert spread.staged_redraw_replays(held, [], sizes=(spread.GROUP,)) == spread.redraw_replays(held, sizes=(spread.GROUP,))


def test_close_replays_of_seeds_counted_in_stages_are_staged(groups):
    runs = {s: rs for g in groups["jax"] for s, rs in g.items()}
    seeds = sorted(runs)
    stages = {"a": [range(seeds[0], seeds[7]), range(seeds[7], seeds[-1] + 1)]}
    moved = spread.close_replays([("a", runs, "b", _moved(runs, "input_norm", 0.01))], sizes=(spread.GROUP,),
                                 stages=stages)
    assert [(r.flagged.trials, r.flagged.stages) for r in moved] == [(3, ((1, 1), (2, 2)))], "no group straddles"
    assert moved[0].flagged.upper == rates.staged_upper_bound([(1, 1), (2, 2)])
