"""calibration/seed-ranges.json is the record every "held out" rests on: it must cover what is stored and match the rule."""

import dataclasses
import itertools
import json
from pathlib import Path

import pytest

from normcheck.calibration import ledger, store
from normcheck.claims import CLAIMS
from normcheck.errors import InputError

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


def _stored_ranges():
    """(file, engine, backend, seeds) for every stored calibration file."""
    for kind, engine in ((store.REPLICA_RUNS, "replica"), (store.HOLDOUT_RUNS, "replica"),
                         (store.CLOSE_RUNS, "xla-defaults")):
        for backend, path in kind.by_backend(CALIBRATION).items():
            seeds = sorted({r.seed for r in store.load_replica_runs(path)})
            yield path.name, engine, backend, range(seeds[0], seeds[-1] + 1)
    for kind, engine in ((store.fit_runs("owned"), "fit"), (store.fit_runs("fit"), "fit"), (store.HOLDOUT_FIT_RUNS, "fit"),
                         (store.CLOSE_FIT_RUNS, store.CLOSE_FIT_ENGINE)):
        for backend, path in kind.by_backend(CALIBRATION).items():
            seeds = sorted({r.seed for r in store.load_fit_runs(path)})
            yield path.name, engine, backend, range(seeds[0], seeds[-1] + 1)


def test_every_stored_range_is_recorded():
    ranges = ledger.load(CALIBRATION)
    for name, engine, backend, seeds in _stored_ranges():
        assert ledger.find(ranges, seeds, backend, engine), f"{name}: seeds {seeds} are not in {ledger.RANGES}"


def test_held_out_ranges_are_for_todays_rule_and_were_never_development():
    ranges = ledger.load(CALIBRATION)
    for r in ranges:
        if r.role != "held-out":
            continue
        assert r.rule_version == ledger.rule_version(), (
            f"seeds {r.span()} were held out for rule {r.rule_version}; the rule is now {ledger.rule_version()}: "
            "record them as development and draw a fresh range for the new rule")
        for d in ranges:
            if d.role == "development" and set(d.backends) & set(r.backends):
                assert d.last < r.first or r.last < d.first, f"held-out {r.span()} overlaps development {d.span()}"


def test_the_rule_version_moves_with_any_threshold(monkeypatch):
    before = ledger.rule_version()
    moved = dataclasses.replace(CLAIMS[0], threshold=CLAIMS[0].threshold + 1e-9)
    monkeypatch.setattr(ledger, "CLAIMS", (moved, *CLAIMS[1:]))
    assert ledger.rule_version() != before


def test_a_malformed_record_is_one_error_naming_the_place(tmp_path):
    (tmp_path / ledger.RANGES).write_text('{"ranges": [{"first": 5, "last": 2, "role": "development", "backends": ["jax"]}]}')
    with pytest.raises(InputError, match=r"ranges\[0\]: first/last are 5/2"):
        ledger.load(tmp_path)


def test_the_frozen_rule_is_todays():
    frozen = json.loads((CALIBRATION / ledger.RULE).read_text())
    assert frozen == {"version": ledger.rule_version(), "rule": json.loads(json.dumps(ledger.rule()))}, (
        "a claim's threshold, each/median, compare's rule or its shipped spread changed after calibration/rule.json was "
        "frozen: every held-out count is for the old rule. Run `python -m normcheck calibrate --freeze`, commit, and "
        "record a fresh held-out range in calibration/seed-ranges.json before running it")


def test_holdout_runs_the_range_recorded_for_todays_rule_and_refuses_without_one():
    ranges = ledger.load(CALIBRATION)
    held = [r for r in ranges if r.role == "held-out" and r.rule_version == ledger.rule_version()
            and r.engine == "replica"]
    for backend in {b for r in held for b in r.backends}:
        mine = sorted((r for r in held if backend in r.backends), key=lambda r: r.first)
        assert all(a.last + 1 == b.first for a, b in itertools.pairwise(mine)), f"{backend}: held-out records with a gap"
        assert ledger.held_out_range(ranges, backend) == range(mine[0].first, mine[-1].last + 1)
    with pytest.raises(InputError, match="no held-out range for rule"):
        ledger.held_out_range([r for r in ranges if r.role != "held-out"], "jax")
    huge = [dataclasses.replace(r, last=r.first + 10**12) for r in held]
    with pytest.raises(InputError, match=r"are invalid; allowed: .*at most 100000 seeds"):
        ledger.held_out_range(huge, huge[0].backends[0])


def _range(first, last, role="held-out", backends=("jax",), version=None, note="", looked=()):
    return ledger.SeedRange(first, last, "replica", backends, role, version or ledger.rule_version(), "abc1234", note,
                            looked)


def test_a_held_out_range_takes_one_continuation_and_no_more(tmp_path):
    def record(first, last):
        return {"first": first, "last": last, "engine": "replica", "backends": ["jax"], "role": "held-out",
                "rule_version": "abc", "frozen_in": "abc1234"}

    (tmp_path / ledger.RANGES).write_text(json.dumps({"ranges": [record(10, 19), record(20, 29)]}))
    assert len(ledger.load(tmp_path)) == 2
    (tmp_path / ledger.RANGES).write_text(json.dumps({"ranges": [record(10, 19), record(20, 29), record(30, 39)]}))
    with pytest.raises(InputError, match=r"held-out seeds 10-19 on jax are continued by 20-29, 30-39; allowed: at most 1"):
        ledger.load(tmp_path)


def test_a_continuation_makes_every_count_on_the_range_staged_whichever_count_added_it():
    first, more = _range(10, 19, backends=("jax", "tensorflow")), _range(20, 29, backends=("jax", "tensorflow"),
                                                                          looked=("jax",))
    assert ledger.stages([first, more], range(10, 30), "jax", "replica") == [range(10, 20), range(20, 30)]
    assert ledger.stages([first, more], range(10, 25), "jax", "replica") == [range(10, 20), range(20, 25)]
    assert ledger.stages([first, more], range(10, 30), "tensorflow", "replica") == [range(10, 20), range(20, 30)]
    assert ledger.held_stages([first, more], {"jax": {10: 0, 29: 0}, "tensorflow": {10: 0, 29: 0}}) == [range(10, 20),
                                                                                                    range(20, 30)]
    assert ledger.stages([first], range(10, 20), "jax", "replica") == []
    assert "recorded in 2 stages, 10-19, 20-29: each later stage added after jax's count" in ledger.label(
        [first, more], range(10, 30), "jax", "replica")


def test_a_record_that_continues_a_held_out_range_extends_it_and_nothing_else_does():
    first, more = _range(10, 19, note="drawn at the freeze"), _range(20, 29, note="added after 10-19 was counted")
    assert ledger.held_out_range([more, first], "jax") == range(10, 30)
    found = ledger.find([more, first], range(10, 30), "jax", "replica")
    assert (found.first, found.last) == (10, 29)
    assert found.note == "10-19: drawn at the freeze; then 20-29: added after 10-19 was counted"
    assert ledger.find([first, more], range(20, 25), "jax", "replica").first == 20
    development = [_range(0, 9, role="development", note="a"), _range(10, 19, role="development", note="b")]
    assert ledger.find(development, range(0, 10), "jax", "replica").note == "a"
    assert ledger.find(development, range(0, 20), "jax", "replica") is None
    for other in (_range(20, 29, role="development"), _range(20, 29, version="000000000000"),
                  _range(21, 29), _range(20, 29, backends=("tensorflow",))):
        assert ledger.held_out_range([first, other], "jax") == range(10, 20)
        assert ledger.find([first, other], range(10, 30), "jax", "replica") is None
    beside = _range(20, 29, backends=("tensorflow",))
    assert ledger.held_out_range([first, beside], "tensorflow") == range(20, 30), "another backend's range of its own"


def test_a_job_of_its_own_engine_runs_only_the_range_recorded_for_it(tmp_path):
    version = ledger.rule_version()
    record = {"first": 70, "last": 79, "engine": store.CLOSE_FIT_ENGINE, "backends": ["jax"], "role": "held-out",
              "rule_version": version, "frozen_in": "abc1234"}
    other = {**record, "first": 10, "last": 19, "engine": "fit"}
    (tmp_path / ledger.RANGES).write_text(json.dumps({"ranges": [other, record]}))
    ranges = ledger.load(tmp_path)
    assert ledger.held_out_range(ranges, "jax", store.CLOSE_FIT_ENGINE) == range(70, 80)
    assert ledger.role(ranges, range(10, 20), "jax", store.CLOSE_FIT_ENGINE) == "development"
    with pytest.raises(InputError, match=r"on tensorflow through engine 'close-fit'.*record one there before its runs"):
        ledger.held_out_range(ranges, "tensorflow", store.CLOSE_FIT_ENGINE)
