"""Failure rates from many seeds: count bounds, the tail fit, runs of several seeds."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from normcheck.calibration import rates


def test_upper_bound_with_no_failures_is_the_rule_of_three():
    assert rates.upper_bound(0, 1000) == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-6)
    assert rates.upper_bound(0, 1000) == pytest.approx(3 / 1000, rel=0.01)
    assert rates.upper_bound(1000, 1000) == 1.0


@pytest.mark.parametrize("distance", [2.5, 3.0, 3.5])
def test_tail_fit_recovers_a_normal_tail_where_counting_cannot(distance):
    """Margins ~ N(distance, 1): the true rate is far below 1/1000; the fit must land within a factor of 10 of it."""
    margins = np.random.default_rng(0).normal(distance, 1.0, size=1000)
    truth = norm.cdf(-distance)
    got = rates.tail_probability(margins)
    assert truth / 10 < got < truth * 10


def test_a_constant_measure_never_fails_and_a_failing_one_is_counted():
    assert rates.tail_probability([0.001] * 500) == 0.0
    assert rates.tail_probability([-1.0] * 10 + [1.0] * 90) == pytest.approx(0.1)


def test_runs_of_several_seeds():
    assert rates.run_failure(0.01, 1, "each") == pytest.approx(0.01)
    assert rates.run_failure(0.01, 5, "each") == pytest.approx(1 - 0.99**5)
    assert rates.run_failure(0.01, 5, "median") == pytest.approx(sum(math.comb(5, j) * 0.01**j * 0.99 ** (5 - j)
                                                                     for j in (3, 4, 5)))
