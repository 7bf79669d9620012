"""Does the replica stand for real fit where trajectories are chaotic? A two-sample test per measure, with its power.

On raw inputs the replica does not follow fit seed by seed (float32 details differ, and
the trajectories are chaotic), so its counts can stand for those claims only in
distribution. For every claim that reads a raw-input variant, and each raw-input
variant's metrics after the first and last epoch, the stored fit seeds are compared with
the replica's seeds by a two-sample Kolmogorov-Smirnov test at a family-wise level.
The p-value is the asymptotic one: at hundreds of seeds a side it differs little from
the exact one, and the power search below computes thousands of them.
A test that does not reject says little unless it could have: `power` finds, by
resampling the replica's own values, the smallest shift (in the replica's standard
deviations) and the smallest widening of the spread that the test catches in 90% of
draws with these sample sizes. Both are stated beside every p-value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..claims import CLAIMS, Claim
from ..experiment import QUESTION_EXPERIMENT
from ..run import RunsBySeed
from ..variants import VARIANTS
from .rates import Count

LEVEL = 0.01  # family-wise per backend, split evenly over the measures
POWER = 0.9
SIMULATIONS = 200
CLAIMS_BY_ID = {c.id: c for c in CLAIMS}
CHAOTIC = tuple(v for v, spec in VARIANTS.items() if not spec.input_norm)
EPOCHS = (1, QUESTION_EXPERIMENT.epochs)

Values = Callable[[RunsBySeed], dict[int, float]]


def measures() -> dict[str, Values]:
    """Every claim on a raw-input variant, and each raw-input variant's metrics after the first and last epoch."""
    out: dict[str, Values] = {c.id: c.values for c in CLAIMS if any(v in CHAOTIC for v in c.variants)}
    for variant in CHAOTIC:
        for metric in ("loss", "accuracy", "eval_accuracy"):
            for epoch in EPOCHS:
                def values(matrix: RunsBySeed, variant: str = variant, metric: str = metric, epoch: int = epoch
                           ) -> dict[int, float]:
                    return {s: getattr(rs[variant], metric)[epoch - 1] for s, rs in matrix.items() if variant in rs}
                out[f"{variant} {metric} epoch {epoch}"] = values
    return out


def _ks_p(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp  # noqa: PLC0415 -- optional and heavy (an extra): only calibration needs it

    return float(ks_2samp(a, b, method="asymp").pvalue)


def _caught(replica: np.ndarray, n_fit: int, level: float, change: Callable[[np.ndarray], np.ndarray],
            rng: np.random.Generator) -> float:
    """How often the test rejects when fit's seeds are `change`d draws from the replica's values, compared with
    an independent draw of as many as the replica has."""
    hits = 0
    for _ in range(SIMULATIONS):
        fit = change(rng.choice(replica, size=n_fit, replace=True))
        hits += _ks_p(fit, rng.choice(replica, size=replica.size, replace=True)) < level
    return hits / SIMULATIONS


def _smallest(replica: np.ndarray, n_fit: int, level: float, change: Callable[[float], Callable[[np.ndarray], np.ndarray]],
              low: float, high: float, seed: int) -> float | None:
    """The smallest size of `change` caught in POWER of the draws, by bisection; None if not even `high` is."""
    if _caught(replica, n_fit, level, change(high), np.random.default_rng(seed)) < POWER:
        return None
    for _ in range(8):
        mid = (low + high) / 2
        low, high = (low, mid) if _caught(replica, n_fit, level, change(mid), np.random.default_rng(seed)) >= POWER \
            else (mid, high)
    return high


def _shifted(size: float, *, sd: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x + size * sd


def _widened(factor: float, *, median: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: median + (x - median) * factor


@dataclass(frozen=True)
class Agreement:
    """One measure: fit's seeds against the replica's, the test's p-value and what the test could have seen."""

    measure: str
    fit_seeds: int
    replica_seeds: int
    fit_median: float
    replica_median: float
    p: float
    shift: float | None  # smallest shift caught in 90% of draws, in the replica's standard deviations
    widening: float | None  # smallest factor on the spread around the median caught in 90% of draws
    fit_failing: Count | None  # for a claim: fit's seeds whose value fails it, counted

    def rejected(self, level: float) -> bool:
        return self.p < level


def _independent(fit: RunsBySeed, replica: RunsBySeed) -> tuple[RunsBySeed, RunsBySeed]:
    """Fit's and the replica's seeds with no seed in both: a fit seed and the replica's same seed share weights and
    batches. The replica's seeds fit did not run, where there are as many as fit's; else the seeds both ran are
    halved, fit keeping the first half and the replica the second."""
    rest = {s: rs for s, rs in replica.items() if s not in fit}
    if len(rest) >= len(fit):
        return fit, rest
    common = sorted(set(fit) & set(replica))
    second = set(common[len(common) // 2:])
    return {s: rs for s, rs in fit.items() if s not in second}, {**rest, **{s: replica[s] for s in second}}


def rejected(fit: RunsBySeed, replica: RunsBySeed) -> list[str]:
    """The measures on which the test rejects: where the replica does not stand for fit (no power computed)."""
    found = measures()
    fit, replica = _independent(fit, replica)
    level = LEVEL / len(found)
    return [name for name, values in found.items()
            if _ks_p(np.array(list(values(fit).values()), dtype=np.float64),
                     np.array(list(values(replica).values()), dtype=np.float64)) < level]


def _variants(found: list[str]) -> list[str]:
    return [v for v in VARIANTS if any(name.split(" ")[0] == v for name in found if name not in CLAIMS_BY_ID)]


def not_the_engine(fit: RunsBySeed, replica: RunsBySeed) -> list[str]:
    """The variants one of whose metrics the test rejects: for them the replica does not stand for fit, so their
    counts and compare's spread come from real fit's seeds."""
    return _variants(rejected(fit, replica))


def _claims_on_fit(found: list[str]) -> list[Claim]:
    variants = set(_variants(found))
    return [c for c in CLAIMS if c.id in found or variants & set(c.variants)]


def on_fit(fit: RunsBySeed, replica: RunsBySeed) -> list[str]:
    """The claims whose counts must come from real fit: each claim the test rejects, and every claim that reads a
    variant the replica does not stand for (`not_the_engine`)."""
    return [c.id for c in _claims_on_fit(rejected(fit, replica))]


def fit_runs_for(fit: RunsBySeed, replica: RunsBySeed) -> list[str]:
    """The variants real fit must run for its counts to replace the replica's: those `not_the_engine`, and every
    variant a claim `on_fit` reads."""
    found = rejected(fit, replica)
    needed = set(_variants(found)) | {v for c in _claims_on_fit(found) for v in c.variants}
    return [v for v in VARIANTS if v in needed]


def compare(fit: RunsBySeed, replica: RunsBySeed, seed: int = 0) -> tuple[list[Agreement], float]:
    """Every measure of `measures()`, and the per-measure level (LEVEL over the family).

    Fit's seed s and the replica's seed s start from the same weights and see the same batches, so
    their values are correlated: the two samples the test compares share no seed (`_independent`).
    """
    fit, replica = _independent(fit, replica)
    found = measures()
    level = LEVEL / len(found)
    out = []
    for i, (name, values) in enumerate(found.items()):
        a = np.array(list(values(fit).values()), dtype=np.float64)
        b = np.array(list(values(replica).values()), dtype=np.float64)
        sd = float(b.std())
        med = float(np.median(b))
        shift = _smallest(b, a.size, level, partial(_shifted, sd=sd), 0.0, 4.0, seed + i) if sd > 0 else None
        widen = _smallest(b, a.size, level, partial(_widened, median=med), 1.0, 6.0, seed + i) if sd > 0 else None
        claim = CLAIMS_BY_ID.get(name)
        failing = Count(sum(not claim.holds(v) for v in a), a.size) if claim is not None else None
        out.append(Agreement(name, a.size, b.size, float(np.median(a)), med, _ks_p(a, b), shift, widen, failing))
    return out, level
