"""How often a claim fails on a healthy stack, from many seeds of one: counts, bounds and a tail fit.

A claim that no calibration seed fails still has a failure rate; counting alone
bounds it by about 3/n (95%). Where no seed fails, the rate is extrapolated
from the margins nearest the threshold with a generalized Pareto tail (the
peaks-over-threshold method; FLEX, FSE'21, sets test bounds the same way).
A run of n seeds fails an "each" claim when any seed does, a "median" claim
when at least half of them do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .claims import Claim
from .run import Matrix, disjoint_groups

CONFIDENCE = 0.95
TAIL_SHARE = 0.1  # the fit uses the 10% of seeds nearest the threshold
RUN_SEEDS = (1, 5)  # the CLI's default run, and the pytest plugin's and a baseline's


def upper_bound(failing: int, seeds: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen `failing` times in `seeds` trials."""
    from scipy.stats import beta

    if failing >= seeds:
        return 1.0
    return float(beta.ppf(confidence, failing + 1, seeds - failing))


def tail_probability(margins: Sequence[float]) -> float:
    """P(margin < 0) from a generalized Pareto fit to the margins below their 10% quantile.

    0 where the fitted tail ends before the threshold or the measure does not vary there.
    """
    from scipy.stats import genpareto

    m = np.sort(np.asarray(margins, dtype=np.float64))
    k = max(10, math.ceil(TAIL_SHARE * m.size))
    if (m < 0).any() or m.size < 2 * k:
        return float((m < 0).mean())
    u = m[k]
    excess = u - m[:k]
    if np.ptp(excess) == 0 or u <= 0:
        return 0.0 if u > 0 else float((m <= 0).mean())
    shape, _, scale = genpareto.fit(excess, floc=0.0)
    return float(k / m.size * genpareto.sf(u, shape, 0.0, scale))


def run_failure(per_seed: float, seeds: int, over: str) -> float:
    """P(a run of `seeds` seeds fails) given each seed fails independently with `per_seed`."""
    if over == "each":
        return 1.0 - (1.0 - per_seed) ** seeds
    need = math.ceil(seeds / 2)
    return sum(math.comb(seeds, j) * per_seed**j * (1 - per_seed) ** (seeds - j) for j in range(need, seeds + 1))


@dataclass(frozen=True)
class ClaimRate:
    """One claim's failure rate over the calibration seeds."""

    claim: str
    over: str
    seeds: int
    failing: int
    upper: float  # 95% upper bound per seed, from the count
    tail: float  # per seed, from the tail fit (the count where seeds fail)

    @property
    def estimate(self) -> float:
        """Per seed: the count where seeds fail, else the tail fit."""
        return self.failing / self.seeds if self.failing else self.tail

    @property
    def runs(self) -> dict[int, float]:
        """P(a run of n seeds fails), from `estimate`, for each n in RUN_SEEDS."""
        return {n: run_failure(self.estimate, n, self.over) for n in RUN_SEEDS}


def claim_rate(claim: Claim, matrix: Matrix) -> ClaimRate:
    values = claim.values({s: rs for s, rs in matrix.items() if all(v in rs for v in claim.variants)})
    margins = [claim.margin(v) for v in values.values()]
    failing = sum(not claim.holds(v) for v in values.values())
    return ClaimRate(claim.id, claim.over, len(margins), failing, upper_bound(failing, len(margins)),
                     tail_probability(margins))


def failing_groups(claims: Sequence[Claim], matrix: Matrix, seeds: int = 5) -> tuple[int, int]:
    """Disjoint groups of `seeds` calibration seeds checked as one run each: (groups where any claim fails, groups)."""
    complete = {s: rs for s, rs in matrix.items() if all(v in rs for c in claims for v in c.variants)}
    groups = disjoint_groups(complete, seeds)
    return sum(any(not c.check(group).holds for c in claims) for group in groups), len(groups)
