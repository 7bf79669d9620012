"""Your own experiment across framework versions: record its runs, train them again later, say what moved.

Two regimes. **identical**: every logged number of every (variant, seed) is the same. Otherwise
**redrawn**: per (variant, metric, epoch) cell, the median over the seeds today against the
baseline's, with a tolerance from the spread that redrawn initial weights make. That spread comes
from the experiment's calibration where one is given (`calibrate --experiment ... --engine fit`):
the `1 - ALPHA / cells` quantile of the difference of medians between disjoint groups of as many
seeds, resampled. Without one, from the baseline's own seeds (a normal approximation with their
spread: fewer seeds, so a wider tolerance and less power, and no counted false-alarm rate).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import files, framework, spec
from .errors import InputError, shown

SCHEMA = "normcheck.spec-baseline/1"
ALPHA = 0.01  # the false-alarm rate per comparison the tolerances aim at, shared over the cells
DRAWS = 20_000  # resampled pairs of groups per tolerance
FLOOR = 1e-6  # a tolerance never below this: identical medians of a cell that never varies still compare equal


def record(runs: Sequence[spec.SpecRun], s: spec.Spec, seed_list: Sequence[int], fingerprint: dict[str, Any]
           ) -> dict[str, Any]:
    return {"schema": SCHEMA, "experiment": s.name, "spec": fingerprint, "seeds": list(seed_list),
            "variants": list(s.variants), "versions": framework.versions(), "runs": [r.to_dict() for r in runs]}


def check_same_spec(base: dict[str, Any], fingerprint: dict[str, Any], where: str) -> None:
    """A baseline compares framework versions, so the spec must train as it did: same epochs, batch sizes, fit
    arguments, data and models (its claims' thresholds may change: they judge runs, they do not make them)."""
    recorded = base.get("spec")
    theirs: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    differ = [k for k in sorted(set(theirs) | set(fingerprint)) if k != "rule" and theirs.get(k) != fingerprint.get(k)]
    if differ:
        raise InputError(f"{where} was recorded from another spec of {base.get('experiment')!r}: its "
                         f"{', '.join(differ)} differ from today's; record a new baseline for the spec as it is now")


def load(path: str | Path, s: spec.Spec) -> dict[str, Any]:
    """A recorded baseline of `s`, checked: schema, experiment, seeds and runs; a bad one names file and place."""
    where = f"baseline {shown(str(path))}"
    data = files.read_json(path, "baseline")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"{where} is not a {SCHEMA} file (record one with `baseline record --experiment REF PATH`)")
    if data.get("experiment") != s.name:
        raise InputError(f"{where} records experiment {shown(data.get('experiment'))}, not {s.name!r}")
    seeds_ = data.get("seeds")
    if not isinstance(seeds_, list) or not seeds_ or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds_):
        raise InputError(f"{where}: seeds is {shown(seeds_)}; allowed: a non-empty list of seeds")
    variants = data.get("variants")
    if not isinstance(variants, list) or not variants:
        raise InputError(f"{where}: variants is {shown(variants)}; allowed: a non-empty list of {s.name}'s variants")
    s.check_variants([str(v) for v in variants])
    runs = [spec.SpecRun.from_dict(r, f"{where}, run {i}") for i, r in enumerate(data.get("runs") or [])]
    have = {(r.variant, r.seed) for r in runs}
    missing = [(v, x) for x in seeds_ for v in variants if (v, x) not in have]
    if missing:
        raise InputError(f"{where} lacks runs {missing[:3]}{'...' if len(missing) > 3 else ''}")
    return {**data, "runs": runs}


Cell = tuple[str, str, int]  # variant, metric, epoch (1-based)


def _cells(runs: Mapping[int, Mapping[str, spec.SpecRun]], variants: Sequence[str]) -> list[Cell]:
    first = next(iter(runs.values()))
    return [(v, m, e + 1) for v in variants for m, values in first[v].history.items() for e in range(len(values))]


def _value(run: spec.SpecRun, cell: Cell) -> float:
    return run.history[cell[1]][cell[2] - 1]


def _median(runs: Mapping[int, Mapping[str, spec.SpecRun]], cell: Cell) -> float:
    return statistics.median(_value(rs[cell[0]], cell) for rs in runs.values())


def tolerances_from(calibration: Mapping[int, Mapping[str, spec.SpecRun]], cells: Sequence[Cell], n: int,
                    rng_seed: int = 0) -> dict[Cell, float]:
    """Per cell, the `1 - ALPHA / len(cells)` quantile of |median(A) - median(B)| over resampled disjoint groups A, B
    of `n` calibration seeds each."""
    seeds_ = sorted(calibration)
    if len(seeds_) < 2 * n:
        raise InputError(f"the calibration holds {len(seeds_)} seeds; a tolerance for {n} a side needs at least {2 * n}")
    values = np.array([[_value(calibration[x][c[0]], c) for c in cells] for x in seeds_])
    rng = np.random.default_rng(rng_seed)
    pick = np.array([rng.choice(len(seeds_), 2 * n, replace=False) for _ in range(DRAWS)])
    a = np.median(values[pick[:, :n]], axis=1)
    b = np.median(values[pick[:, n:]], axis=1)
    level = 1 - ALPHA / len(cells)
    q = np.quantile(np.abs(a - b), level, axis=0)
    return {c: max(float(t), FLOOR) for c, t in zip(cells, q, strict=True)}


def tolerances_own(base: Mapping[int, Mapping[str, spec.SpecRun]], cells: Sequence[Cell]) -> dict[Cell, float]:
    """Per cell, from the baseline's own seeds: the normal level for ALPHA over the cells, on the difference of two
    medians of n seeds (each about 1.2533 sd / sqrt(n))."""
    from scipy.stats import norm  # noqa: PLC0415 -- optional and heavy (an extra): only compare needs it

    n = len(base)
    z = float(norm.isf(ALPHA / (2 * len(cells))))
    out = {}
    for c in cells:
        sd = statistics.stdev([_value(rs[c[0]], c) for rs in base.values()]) if n > 1 else 0.0
        out[c] = max(z * 1.2533 * sd * math.sqrt(2 / n), FLOOR)
    return out


@dataclass(frozen=True)
class Moved:
    cell: Cell
    baseline: float
    today: float
    tolerance: float

    def line(self) -> str:
        v, m, e = self.cell
        return (f"MOVED {v} {m} epoch {e}: median {self.baseline:.4g} -> {self.today:.4g} "
                f"(difference {self.today - self.baseline:+.4g}, tolerance {self.tolerance:.4g})")


@dataclass(frozen=True)
class Comparison:
    regime: str
    moved: list[Moved]
    cells: int
    spread: str  # where the tolerances came from, in words

    @property
    def ok(self) -> bool:
        return not self.moved


def compare(base: Mapping[int, Mapping[str, spec.SpecRun]], today: Mapping[int, Mapping[str, spec.SpecRun]],
            variants: Sequence[str], calibration: Mapping[int, Mapping[str, spec.SpecRun]] | None) -> Comparison:
    """The regime the numbers show, and every cell whose median moved beyond its tolerance."""
    if all(base[x][v].history == today[x][v].history and base[x][v].measured == today[x][v].measured
           for x in base for v in variants):
        return Comparison("identical", [], 0, "none needed")
    cells = _cells(base, variants)
    missing = [c for c in cells if c[1] not in next(iter(today.values()))[c[0]].history]
    if missing:
        raise InputError(f"today's runs lack the logged metric {missing[0][1]!r} of {missing[0][0]}: the experiment's "
                         "metrics changed since the baseline; record a new one")
    if calibration is not None:
        tol = tolerances_from(calibration, cells, len(base))
        spread = f"the experiment's calibration ({len(calibration)} seeds), resampled"
    else:
        tol = tolerances_own(base, cells)
        spread = f"the baseline's own {len(base)} seeds (no calibration given: less power, no counted false-alarm rate)"
    moved = []
    for c in cells:
        was, now = _median(base, c), _median(today, c)
        if not abs(now - was) <= tol[c]:
            moved.append(Moved(c, was, now, tol[c]))
    return Comparison("redrawn", moved, len(cells), spread)


def replays(development: Mapping[int, Mapping[str, spec.SpecRun]], held: Mapping[int, Mapping[str, spec.SpecRun]],
            variants: Sequence[str], n: int) -> tuple[int, int]:
    """compare on a healthy stack, replayed: tolerances from the development seeds, then disjoint pairs of groups of
    `n` held-out seeds, each compared as baseline and today. (flagged, replays)."""
    seeds_ = sorted(held)
    cells = _cells(held, variants)
    tol = tolerances_from(development, cells, n)
    flagged = pairs = 0
    for i in range(0, len(seeds_) - 2 * n + 1, 2 * n):
        a = {x: held[x] for x in seeds_[i:i + n]}
        b = {x: held[x] for x in seeds_[i + n:i + 2 * n]}
        pairs += 1
        flagged += any(not abs(_median(a, c) - _median(b, c)) <= tol[c] for c in cells)
    return flagged, pairs
