"""What is counted as held out, and how compare's counts combine: by the ledger, never by a file's name."""

import pytest

from normcheck.calibration import ledger, pages, promote, rates, spread
from normcheck.calibration.rates import Count

CLAIM = "q2_bn_before_tanh_learns"
VARIANT = "batch_norm_before_activation"


def _held_fit_range(first: int, last: int, version: str) -> ledger.SeedRange:
    return ledger.SeedRange(first, last, "fit", ("tensorflow",), "held-out", version, "abc1234", "")


def test_real_fits_seeds_count_as_held_out_only_where_the_ledger_holds_them_out_for_todays_rule():
    fit, held = {0: {VARIANT: None}}, {9: {VARIANT: None}, 10: {VARIANT: None}}
    assert pages.counting_fit(fit, held, [CLAIM], [], "tensorflow") == (fit, "calibration fit seeds")
    old = [_held_fit_range(9, 10, "an-older-rule")]
    assert pages.counting_fit(fit, held, [CLAIM], old, "tensorflow") == (fit, "calibration fit seeds")
    today = [_held_fit_range(9, 10, ledger.rule_version())]
    assert pages.counting_fit(fit, held, [CLAIM], today, "tensorflow") == (held, "held-out fit seeds")
    assert pages.counting_fit(fit, held, [CLAIM], today, "jax")[1] == "calibration fit seeds"
    lacking = {9: {"none": None}, 10: {"none": None}}
    assert pages.counting_fit(fit, lacking, [CLAIM], today, "tensorflow") == (fit, "calibration fit seeds")


def test_compare_counts_join_fit_to_the_replica_row_it_completes_and_keep_only_what_was_not_replayed(
        tmp_path, monkeypatch):
    replays = [spread.Replay(5, "jax", "tensorflow", Count(4, 2000), (VARIANT,)),
               spread.Replay(5, "tensorflow", "tensorflow", Count(2, 2000), (VARIANT,))]
    monkeypatch.setattr(spread, "redraw_replays", lambda held, *a, **k: replays)
    shipped_fit = {"engine": "fit", "size": 5, "a": "tensorflow", "b": "tensorflow", "flagged": 0, "trials": 100,
                   "upper": 0.0295, "variants": [VARIANT]}
    shipped_replica = {"engine": "replica", "size": 5, "a": "jax", "b": "jax", "flagged": 9, "trials": 9,
                       "upper": 1.0, "left_out": []}
    monkeypatch.setattr(promote, "_shipped_for_rule", lambda: {"compare": [shipped_replica, shipped_fit]})
    rows = promote.compare_counts(tmp_path, {"jax": {}, "tensorflow": {}})
    assert [(r["engine"], r["a"], r["b"]) for r in rows] == [
        ("replica", "jax", "tensorflow"), ("replica", "tensorflow", "tensorflow"), ("fit", "tensorflow", "tensorflow")]
    assert "joint_upper" not in rows[0], "no fit row counts jax against tensorflow"
    assert rows[1]["joint_upper"] == pytest.approx(rates.upper_bound(2, 2000, 0.975) + rates.upper_bound(0, 100, 0.975))
    assert rows[1]["joint_upper"] > max(rows[1]["upper"], shipped_fit["upper"])
