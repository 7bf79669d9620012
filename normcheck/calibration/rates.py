"""How often a claim fails on a healthy stack: counted over whole runs, with exact bounds.

A stated rate is a count: disjoint groups of seeds, each judged as the CLI and the
pytest plugin judge a run of that many seeds (`Claim.decide` on the group's values),
and the exact one-sided Clopper-Pearson upper bound on the rate behind the count.
0 failing runs out of n bound the rate by about 3/n, nothing lower: no tail is fitted and
extrapolated beyond the seeds (held-out counts contradicted every such fit tried here).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..claims import Claim
from ..constants import DEFAULT_SEEDS, ONE_SEED
from ..errors import InputError
from ..run import RunsBySeed, disjoint_groups

_R = TypeVar("_R")
CONFIDENCE = 0.95
RUN_SIZES = (ONE_SEED, DEFAULT_SEEDS)  # the runs users make: one seed, as the question's, and every default run


def upper_bound(failing: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen `failing` times in `trials` trials."""
    from scipy.stats import beta  # noqa: PLC0415 -- optional and heavy (an extra): only calibration needs it

    if failing >= trials:
        return 1.0
    return float(beta.ppf(confidence, failing + 1, trials - failing))


def staged_upper_bound(stages: Sequence[tuple[int, int]], confidence: float = CONFIDENCE) -> float:
    """The exact upper bound for a count made in stages, each later stage added because of what the earlier ones
    showed: the rate p at which an outcome as favourable as the one seen, ordered stage by stage (stopping earlier, or
    fewer failures at the first stage where they differ), has probability 1 - confidence. With stages (x1, n1),
    (x2, n2): P(X1 < x1) + P(X1 = x1) P(X2 <= x2) = 0.05. One stage is Clopper-Pearson's bound."""
    from scipy.optimize import brentq  # noqa: PLC0415 -- optional and heavy (an extra): only calibration needs it
    from scipy.stats import binom  # noqa: PLC0415 -- as above

    if len(stages) == 1:
        return upper_bound(*stages[0], confidence)
    alpha = 1 - confidence

    def favourable(p: float) -> float:
        x, n = stages[-1]
        t = float(binom.cdf(x, n, p))
        for x, n in reversed(stages[:-1]):
            t = float(binom.cdf(x - 1, n, p)) + float(binom.pmf(x, n, p)) * t
        return t

    if favourable(1.0) >= alpha:
        return 1.0
    return float(brentq(lambda p: favourable(p) - alpha, 0.0, 1.0, xtol=1e-12))


@dataclass(frozen=True)
class Count:
    """`failing` of `trials` independent trials, and the exact 95% upper bound on the rate behind them; `stages`, where
    the trials were counted in stages that each decided the next (staged_upper_bound), each stage's (failing, trials)."""

    failing: int
    trials: int
    stages: tuple[tuple[int, int], ...] = ()

    @property
    def upper(self) -> float:
        return self.upper_at(CONFIDENCE)

    def upper_at(self, confidence: float) -> float:
        if len(self.stages) > 1:
            return staged_upper_bound(self.stages, confidence)
        return upper_bound(self.failing, self.trials, confidence)

    def text(self, brief: bool = False) -> str:
        """As the pages print it: "3/1000 (95% upper 7.7e-03)"; a staged count names its stages (`brief`: how many)."""
        return f"{self.failing}/{self.trials}{self.stages_text(brief)} (95% upper {self.upper:.1e})"

    def stages_text(self, brief: bool = False) -> str:
        if len(self.stages) <= 1:
            return ""
        if brief:
            return f" in {len(self.stages)} stages"
        parts = " then ".join(f"{f}/{n}" for f, n in self.stages)
        return (f" in {len(self.stages)} stages ({parts}; each later stage added after the earlier were counted, "
                f"the bound adjusted for those looks)")


@dataclass(frozen=True)
class ClaimSpread:
    """One claim's measure over the seeds that ran its variants."""

    low: float
    median: float
    high: float
    margin: float  # the worst seed's distance to the threshold, on the passing side
    passing: int
    seed_count: int


def covered(matrix: Mapping[int, Mapping[str, _R]], claims: Sequence[Claim]) -> dict[int, Mapping[str, _R]]:
    """The seeds of `matrix` that ran every variant the claims need: a run judges every claim on the same seeds."""
    return {s: rs for s, rs in matrix.items() if all(v in rs for c in claims for v in c.variants)}


def claim_spread(claim: Claim, matrix: Mapping[int, Mapping[str, Any]]) -> ClaimSpread | None:
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
    """One claim on many seeds: failing runs of each size users make."""

    claim: str
    over: str
    failing: dict[int, Count]  # run size -> failing runs of that many seeds


def claim_rates(claims: Sequence[Claim], matrix: Mapping[int, Mapping[str, Any]], sizes: Sequence[int] = RUN_SIZES
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
        per_claim.append(ClaimRate(claim.id, claim.over, counts))
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
        return min(1.0, self.replica.upper_at(level)
                   + sum(run_bound(count, claim, self.size, level) for count, claim in self.fit.values()))

    def text(self, brief: bool = False) -> str:
        """As the pages print it: the replica's count, each claim counted on fit per seed, and the joint bound."""
        if not self.fit:
            return self.replica.text(brief)
        per_seed = "; ".join(f"`{cid}` {count.failing}/{count.trials} {self.fit_seeds}"
                             for cid, (count, _) in self.fit.items())
        return (f"{self.replica.failing}/{self.replica.trials}{self.replica.stages_text(brief)} without {per_seed} (95% upper "
                f"{self.upper:.1e} for both)")


def run_rates(claims: Sequence[Claim], matrix: RunsBySeed, fit: RunsBySeed | None = None,
              on_fit: Sequence[str] = (), sizes: Sequence[int] = RUN_SIZES, fit_seeds: str = "fit seeds",
              stages: Sequence[range] = ()) -> dict[int, RunRate]:
    """Per run size: every claim together, the claims in `on_fit` counted on real fit's seeds `fit` instead. With
    `stages` (seed ranges, each added after the earlier were counted), the runs are counted per stage too."""
    if on_fit and not fit:
        raise InputError(f"claims {', '.join(on_fit)} are to be counted on real fit, but no real fit's runs are given")
    kept = [c for c in claims if c.id not in on_fit]
    together = claim_rates(kept, matrix, sizes)[1]
    if len(stages) > 1:
        parts = [claim_rates(kept, {s: rs for s, rs in matrix.items() if s in stage}, sizes)[1] for stage in stages]
        for n in sizes:
            counted = tuple((p[n].failing, p[n].trials) for p in parts)
            if sum(t for _, t in counted) != together[n].trials:
                raise InputError(f"runs of {n} seeds straddle the stages {[f'{r.start}-{r.stop - 1}' for r in stages]}")
            together[n] = Count(together[n].failing, together[n].trials, counted)
    counted_fit = {c.id: (claim_rates([c], fit, (1,))[0][0].failing[1], c) for c in claims if c.id in on_fit and fit}
    return {n: RunRate(n, together[n], counted_fit, fit_seeds) for n in sizes}
