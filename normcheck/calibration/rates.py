"""How often a claim fails on a healthy stack, from many seeds of one: counts, bounds and a tail fit.

A claim that no calibration seed fails still has a failure rate; counting alone
bounds it by about 3/n (95%). Where no seed fails, the rate is extrapolated
from the margins nearest the threshold with a generalized Pareto tail (the
peaks-over-threshold method; FLEX, FSE'21, sets test bounds the same way).
A run of n seeds fails an "each" claim when any seed does, a "median" claim
when at least half of them do. `claim_spread` is a claim's measure over the seeds: the
numbers beside each rate.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..claims import Claim
from ..constants import CLI_SEEDS, DEFAULT_SEEDS
from ..run import RunsBySeed, disjoint_groups

CONFIDENCE = 0.95
TAIL_SHARE = 0.1  # the fit uses the 10% of seeds nearest the threshold
RUN_SEEDS = (CLI_SEEDS, DEFAULT_SEEDS)  # the CLI's default run, and the pytest plugin's and a baseline's


@dataclass(frozen=True)
class ClaimSpread:
    """One claim's measure over the seeds that ran its variants."""

    low: float
    median: float
    high: float
    margin: float  # the worst seed's distance to the threshold, on the passing side
    passing: int
    seed_count: int


def _covered(claim: Claim, matrix: RunsBySeed) -> RunsBySeed:
    """The seeds of `matrix` that ran every variant `claim` needs."""
    return {s: rs for s, rs in matrix.items() if all(v in rs for v in claim.variants)}


def claim_spread(claim: Claim, matrix: RunsBySeed) -> ClaimSpread | None:
    """The claim over every seed of `matrix` that has its variants; None where none has."""
    by_value = claim.values(_covered(claim, matrix))
    if not by_value:
        return None
    values = list(by_value.values())
    return ClaimSpread(min(values), statistics.median(values), max(values),
                       claim.margin(by_value[claim.worst(by_value)]), sum(map(claim.holds, values)), len(values))


def upper_bound(failing: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen `failing` times in `trials` trials."""
    from scipy.stats import beta  # noqa: PLC0415 -- optional and heavy (an extra): only calibration needs it

    if failing >= trials:
        return 1.0
    return float(beta.ppf(confidence, failing + 1, trials - failing))


def tail_probability(margins: Sequence[float]) -> float:
    """P(margin < 0) from a generalized Pareto fit to the margins below their 10% quantile.

    0 where the fitted tail ends before the threshold or the measure does not vary there.
    """
    from scipy.stats import genpareto  # noqa: PLC0415 -- optional and heavy (an extra): only calibration needs it

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


def run_failure(per_seed: float, seed_count: int, over: str) -> float:
    """P(a run of `seed_count` seeds fails) given each seed fails independently with `per_seed`."""
    n = seed_count
    if over == "each":
        return 1.0 - (1.0 - per_seed) ** n
    need = math.ceil(n / 2)
    return sum(math.comb(n, j) * per_seed**j * (1 - per_seed) ** (n - j) for j in range(need, n + 1))


@dataclass(frozen=True)
class ClaimRate:
    """One claim's failure rate over the calibration seeds."""

    claim: str
    over: str
    seed_count: int
    failing: int
    upper: float  # 95% upper bound per seed, from the count
    tail: float  # per seed, from the tail fit (the count where seeds fail)

    @property
    def estimate(self) -> float:
        """Per seed: the count where seeds fail, else the tail fit."""
        return self.failing / self.seed_count if self.failing else self.tail

    @property
    def fails_per_run(self) -> dict[int, float]:
        """P(a run of n seeds fails), from `estimate`, for each n in RUN_SEEDS."""
        return {n: run_failure(self.estimate, n, self.over) for n in RUN_SEEDS}


def claim_rate(claim: Claim, matrix: RunsBySeed) -> ClaimRate:
    values = claim.values(_covered(claim, matrix))
    margins = [claim.margin(v) for v in values.values()]
    failing = sum(not claim.holds(v) for v in values.values())
    return ClaimRate(claim.id, claim.over, len(margins), failing, upper_bound(failing, len(margins)),
                     tail_probability(margins))


def failing_groups(claims: Sequence[Claim], matrix: RunsBySeed, group_size: int = DEFAULT_SEEDS) -> tuple[int, int]:
    """Disjoint groups of `group_size` seeds checked as one run each: (groups where any claim fails, groups)."""
    complete = {s: rs for s, rs in matrix.items() if all(v in rs for c in claims for v in c.variants)}
    groups = disjoint_groups(complete, group_size)
    return sum(any(not c.check(group).holds for c in claims) for group in groups), len(groups)
