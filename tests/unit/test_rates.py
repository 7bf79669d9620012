"""Failure rates from many seeds: counted runs with exact bounds."""

import math
from pathlib import Path

import pytest
from scipy.stats import binom

from normcheck.calibration import rates, store
from normcheck.claims import CLAIMS, check_all, get_claim
from normcheck.run import by_seed, disjoint_groups


def test_upper_bound_with_no_failures_is_the_rule_of_three():
    assert rates.upper_bound(0, 1000) == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-6)
    assert rates.upper_bound(0, 1000) == pytest.approx(3 / 1000, rel=0.01)
    assert rates.upper_bound(1000, 1000) == 1.0


def test_a_run_is_judged_as_the_cli_judges_it():
    """Groups of 5 consecutive seeds: a median claim fails a run only when its median does; an each claim when any seed does."""
    median = get_claim("q3_slowdown_is_mostly_the_train_mode_metric")  # median of the measure > 0
    each = get_claim("input_norm_ends_near_perfect")  # every seed >= its threshold
    values = {s: 1.0 for s in range(12)}
    values[1] = values[2] = -1.0  # two of the first five seeds fail: the median holds
    values[5] = values[6] = values[7] = -1.0  # three of the next five: the median fails
    assert rates.failing_runs(values, median, 5) == [False, True]  # seeds 10 and 11 make no whole run
    assert rates.failing_runs(values, median, 1) == [values[s] < 0 for s in range(12)]
    low = {s: (0.5 if s == 3 else 1.0) for s in range(10)}
    assert rates.failing_runs(low, each, 5) == [True, False]


def test_a_count_carries_its_exact_bound():
    count = rates.Count(3, 1000)
    assert count.upper == pytest.approx(rates.upper_bound(3, 1000))
    assert count.text() == f"3/1000 (95% upper {count.upper:.1e})"


def test_every_claim_together_counts_the_runs_check_all_fails():
    """The pages' counts are the CLI's verdicts: each group of 5 stored seeds judged by check_all, as `--seeds` would."""
    runs = store.load_replica_runs(Path(__file__).resolve().parents[2] / "calibration" / "holdout-jax.npz")
    stored = by_seed(runs)
    matrix = {s: stored[s] for s in sorted(stored)[:100]}
    per_claim, together = rates.claim_rates(CLAIMS, matrix, sizes=(1, 5))
    assert together[5].trials == 20
    for size in (1, 5):
        verdicts = [check_all(group) for group in disjoint_groups(matrix, size)]
        assert together[size] == rates.Count(sum(any(not v.holds for v in vs) for vs in verdicts), len(verdicts))
        for i, claim in enumerate(CLAIMS):
            assert per_claim[i].failing[size].failing == sum(not vs[i].holds for vs in verdicts), claim.id


def test_a_per_seed_count_carries_to_a_run_through_the_binomial():
    """A median claim fails a run of 5 only when 3 seeds fail; an each claim when any does."""
    per_seed = rates.Count(0, 310)
    p = per_seed.upper
    median, each = get_claim("q2_bn_before_tanh_learns"), get_claim("input_norm_ends_near_perfect")
    assert rates.run_bound(per_seed, median, 5) == pytest.approx(sum(
        math.comb(5, k) * p ** k * (1 - p) ** (5 - k) for k in (3, 4, 5)))
    assert rates.run_bound(per_seed, each, 5) == pytest.approx(1 - (1 - p) ** 5)
    assert rates.run_bound(per_seed, median, 1) == pytest.approx(p)


def test_a_run_counted_in_parts_adds_bounds_at_a_joint_95_percent():
    replica = rates.Count(0, 4000)
    fit = {"q2_bn_before_tanh_learns": (rates.Count(0, 310), get_claim("q2_bn_before_tanh_learns"))}
    joint = rates.RunRate(5, replica, fit)
    assert joint.upper == pytest.approx(rates.upper_bound(0, 4000, 0.975)
                                        + rates.run_bound(rates.Count(0, 310), fit["q2_bn_before_tanh_learns"][1], 5, 0.975))
    assert joint.upper > rates.RunRate(5, replica, {}).upper == replica.upper


def test_a_count_made_in_stages_is_bounded_for_the_looks_that_added_them():
    """One stage is Clopper-Pearson's bound; a second stage added because the first failed its promise is bounded by
    the stage-wise ordering: P(X1 < x1) + P(X1 = x1) P(X2 <= x2) = 0.05, looser than pooling as if fixed."""
    assert rates.staged_upper_bound([(1, 4000)]) == rates.upper_bound(1, 4000)
    p = rates.staged_upper_bound([(1, 4000), (0, 4000)])
    assert binom.cdf(0, 4000, p) + binom.pmf(1, 4000, p) * binom.cdf(0, 4000, p) == pytest.approx(0.05, abs=1e-9)
    assert rates.upper_bound(1, 8000) < p < rates.upper_bound(1, 4000)
    staged = rates.Count(1, 8000, ((1, 4000), (0, 4000)))
    assert staged.upper == p
    assert staged.text().startswith("1/8000 in 2 stages (1/4000 then 0/4000;")
    assert rates.Count(1, 8000).upper == rates.upper_bound(1, 8000)


def test_runs_counted_in_stages_keep_each_stages_count():
    runs = store.load_replica_runs(Path(__file__).resolve().parents[2] / "calibration" / "runs-jax-replica.npz")
    matrix = by_seed(runs)
    together = rates.run_rates(CLAIMS, matrix, stages=[range(0, 500), range(500, 1000)])[5]
    plain = rates.run_rates(CLAIMS, matrix)[5]
    assert (together.replica.failing, together.replica.trials) == (plain.replica.failing, plain.replica.trials)
    assert [t for _, t in together.replica.stages] == [100, 100]
    with pytest.raises(ValueError, match="straddle the stages"):
        rates.run_rates(CLAIMS, matrix, stages=[range(0, 502), range(502, 1000)])
