"""How often a claim fails on a healthy stack: counted over whole runs, with exact bounds.

A stated rate is a count: disjoint groups of seeds, each judged as the CLI and the
pytest plugin judge a run of that many seeds (`Claim.decide` on the group's values),
and the exact one-sided Clopper-Pearson upper bound on the rate behind the count.
0 failing runs out of n bound the rate by about 3/n, nothing lower. A generalized
Pareto fit to the margins nearest the threshold (`tail_fit`) is kept as a diagnostic
of how close a claim runs to its threshold; it is never a rate, never summed and
never raised to a power for a run of several seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..claims import Claim
from ..constants import DEFAULT_SEEDS, ONE_SEED
from ..errors import InputError
from ..run import RunsBySeed, disjoint_groups

CONFIDENCE = 0.95
TAIL_SHARE = 0.1  # the tail fit uses the 10% of seeds nearest the threshold
RUN_SIZES = (ONE_SEED, DEFAULT_SEEDS)  # the runs users make: one seed, as the question's, and every default run


def upper_bound(failing: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen `failing` times in `trials` trials."""
    from scipy.stats import beta  # noqa: PLC0415 -- optional and heavy (an extra): only calibration needs it

    if failing >= trials:
        return 1.0
    return float(beta.ppf(confidence, failing + 1, trials - failing))


@dataclass(frozen=True)
class Count:
    """`failing` of `trials` independent trials, and the exact 95% upper bound on the rate behind them."""

    failing: int
    trials: int

    @property
    def upper(self) -> float:
        return upper_bound(self.failing, self.trials)

    def text(self) -> str:
        """As the pages print it: "3/1000 (95% upper 7.7e-03)"."""
        return f"{self.failing}/{self.trials} (95% upper {self.upper:.1e})"


@dataclass(frozen=True)
class ClaimSpread:
    """One claim's measure over the seeds that ran its variants."""

    low: float
    median: float
    high: float
    margin: float  # the worst seed's distance to the threshold, on the passing side
    passing: int
    seed_count: int


def covered(matrix: RunsBySeed, claims: Sequence[Claim]) -> RunsBySeed:
    """The seeds of `matrix` that ran every variant the claims need: a run judges every claim on the same seeds."""
    return {s: rs for s, rs in matrix.items() if all(v in rs for c in claims for v in c.variants)}


def claim_spread(claim: Claim, matrix: RunsBySeed) -> ClaimSpread | None:
    """The claim over every seed of `matrix` that has its variants; None where none has."""
    by_value = claim.values(covered(matrix, [claim]))
    if not by_value:
        return None
    values = list(by_value.values())
    return ClaimSpread(min(values), statistics.median(values), max(values),
                       claim.margin(by_value[claim.worst(by_value)]), sum(map(claim.holds, values)), len(values))


def failing_runs(values: Mapping[int, float], claim: Claim, size: int) -> list[bool]:
    """For consecutive disjoint groups of `size` seeds (a shorter rest left out): whether the claim fails that run."""
    return [not claim.decide(group)[0] for group in disjoint_groups(values, size)]


@dataclass(frozen=True)
class ClaimRate:
    """One claim on many seeds: failing runs of each size users make, and the tail fit as a diagnostic."""

    claim: str
    over: str
    failing: dict[int, Count]  # run size -> failing runs of that many seeds
    tail_fit: float  # per seed, extrapolated from the margins: a diagnostic, not a rate


def claim_rates(claims: Sequence[Claim], matrix: RunsBySeed, sizes: Sequence[int] = RUN_SIZES
                ) -> tuple[list[ClaimRate], dict[int, Count]]:
    """Per claim, and for every claim together (a run fails when any claim fails), counted on the same groups."""
    seeds = covered(matrix, claims)
    per_claim, together = [], {}
    fails: dict[int, list[list[bool]]] = {n: [] for n in sizes}
    for claim in claims:
        values = claim.values(seeds)
        counts = {}
        for n in sizes:
            runs = failing_runs(values, claim, n)
            fails[n].append(runs)
            counts[n] = Count(sum(runs), len(runs))
        per_claim.append(ClaimRate(claim.id, claim.over, counts, tail_fit([claim.margin(v) for v in values.values()])))
    for n in sizes:
        groups = len(seeds) // n
        together[n] = Count(sum(any(f[i] for f in fails[n]) for i in range(groups)), groups)
    return per_claim, together


def run_bound(per_seed: Count, claim: Claim, size: int, confidence: float = CONFIDENCE) -> float:
    """The upper bound a per-seed count carries to a run of `size` independent seeds, at the same confidence: a
    run's failure probability rises with the per-seed rate. An each claim fails a run when any seed fails; a
    median claim only when at least half of the seeds do (the median of passing middle values passes), which for
    an even size is necessary, not sufficient: there the bound is loose."""
    p = upper_bound(per_seed.failing, per_seed.trials, confidence)
    need = 1 if claim.over == "each" else math.ceil(size / 2)
    return min(1.0, sum(math.comb(size, k) * p ** k * (1 - p) ** (size - k) for k in range(need, size + 1)))


@dataclass(frozen=True)
class RunRate:
    """How often a healthy run of `size` seeds fails some claim: the replica's count over the claims it stands
    for and, for each claim it does not (agreement.py), real fit's per-seed count carried to the run.

    A run fails some claim only if it fails one of the parts, so `upper` adds the parts' bounds, each taken at
    the level that keeps their sum a 95% bound (Bonferroni: 1 - 0.05 / parts each).
    """

    size: int
    replica: Count
    fit: dict[str, tuple[Count, Claim]]  # claim id -> (real fit's seeds failing it, the claim)
    fit_seeds: str = "fit seeds"  # which of real fit's seeds those are, in words

    @property
    def upper(self) -> float:
        if not self.fit:
            return self.replica.upper
        level = 1 - (1 - CONFIDENCE) / (1 + len(self.fit))
        return min(1.0, upper_bound(self.replica.failing, self.replica.trials, level)
                   + sum(run_bound(count, claim, self.size, level) for count, claim in self.fit.values()))

    def text(self) -> str:
        """As the pages print it: the replica's count, each claim counted on fit per seed, and the joint bound."""
        if not self.fit:
            return self.replica.text()
        per_seed = "; ".join(f"`{cid}` {count.failing}/{count.trials} {self.fit_seeds}"
                             for cid, (count, _) in self.fit.items())
        return (f"{self.replica.failing}/{self.replica.trials} without {per_seed} (95% upper {self.upper:.1e} "
                "for both)")


def run_rates(claims: Sequence[Claim], matrix: RunsBySeed, fit: RunsBySeed | None = None,
              on_fit: Sequence[str] = (), sizes: Sequence[int] = RUN_SIZES, fit_seeds: str = "fit seeds"
              ) -> dict[int, RunRate]:
    """Per run size: every claim together, the claims in `on_fit` counted on real fit's seeds `fit` instead."""
    if on_fit and not fit:
        raise InputError(f"claims {', '.join(on_fit)} are to be counted on real fit, but no real fit's runs are given")
    together = claim_rates([c for c in claims if c.id not in on_fit], matrix, sizes)[1]
    counted = {c.id: (claim_rates([c], fit, (1,))[0][0].failing[1], c) for c in claims if c.id in on_fit and fit}
    return {n: RunRate(n, together[n], counted, fit_seeds) for n in sizes}


def tail_fit(margins: Sequence[float]) -> float:
    """P(margin < 0) per seed from a generalized Pareto fit to the margins below their 10% quantile: a diagnostic.

    The share of negative margins where any seed fails; 0 where the fitted tail ends before the
    threshold or the measure does not vary there.
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
