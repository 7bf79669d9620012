"""What a healthy redraw of initial weights does to the median of a per-epoch metric.

`baseline compare` on redrawn trajectories asks whether two medians over a few
seeds differ by more than chance. Chance is read off the replica calibration
of each backend (calibration/runs-<backend>-replica.npz), condensed into
normcheck/redraw-<backend>.npz by `python -m normcheck calibrate`
(calibration/spread.py writes it) so an installed normcheck has it: the
difference between the medians of two disjoint sets of seeds, drawn many times.
This module only reads it: it sits below `baseline`, and calibration above both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from . import run
from .errors import InputError

METRICS = tuple(m for m in run.METRICS if m != "eval_loss")  # the per-epoch metrics compare judges (not eval_loss)
DRAWS = 4000
TAIL_DRAWS = 100_000  # for the far quantile of every cell
ROWS = 10_000  # draws shuffled at a time where groups are large: bounded memory, the same draws
POWER = 0.9
SEED_COUNTS = (5, 10, 20, 50, 100, 200, 500)


def path(backend: str) -> Path:
    return Path(__file__).with_name(f"redraw-{backend}.npz")


@dataclass(frozen=True)
class Cells:
    """One backend's calibrated per-epoch metrics."""

    backend: str
    variants: tuple[str, ...]
    values: dict[str, np.ndarray]

    def column(self, variant: str, metric: str, epoch: int) -> np.ndarray | None:
        if variant not in self.variants or metric not in self.values or epoch > self.values[metric].shape[2]:
            return None
        return self.values[metric][:, self.variants.index(variant), epoch - 1].astype(np.float64)


@cache
def cells(backend: str) -> Cells | None:
    """The condensed calibration of `backend`, or None where normcheck has none."""
    p = path(backend)
    if not p.exists():
        return None
    try:
        with np.load(p, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            values = {m: data[m] for m in METRICS}
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"calibrated spread {str(p)!r} is unreadable: {exc}; reinstall normcheck") from None
    return Cells(backend, tuple(header["variants"]), values)


@cache
def _pairs(population: int, first: int, second: int, draws: int = DRAWS) -> np.ndarray:
    """`draws` rows of first + second distinct seed indices, the same on every call."""
    rng = np.random.default_rng([population, first, second, draws])
    k = first + second
    if k * k > population:
        return np.concatenate([_first_of_shuffle(rng.random((min(ROWS, draws - start), population)), k)
                               for start in range(0, draws, ROWS)])
    rows = np.empty((0, k), dtype=np.int64)
    while len(rows) < draws:
        batch = rng.integers(0, population, size=(draws, k))
        ordered = np.sort(batch, axis=1)
        rows = np.concatenate([rows, batch[(np.diff(ordered, axis=1) != 0).all(axis=1)]])
    return rows[:draws]


def _first_of_shuffle(keys: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the k smallest keys in key order: `keys.argsort(axis=1)[:, :k]` without sorting the rest."""
    part = np.argpartition(keys, k - 1, axis=1)[:, :k]
    return np.take_along_axis(part, np.take_along_axis(keys, part, axis=1).argsort(axis=1), axis=1)


def null(column: np.ndarray, first: int, second: int, draws: int = DRAWS) -> np.ndarray:
    """median(second seeds) - median(first seeds) over `draws` disjoint draws from `column`."""
    idx = _pairs(column.size, first, second, draws)
    picked = column[idx]
    return np.median(picked[:, first:], axis=1) - np.median(picked[:, :first], axis=1)


def detectable(diffs: np.ndarray, tolerance: float, power: float = POWER) -> float:
    """The smallest shift up or down that `|diff + shift| > tolerance` catches in at least `power` of the draws."""
    def caught(shift: float) -> bool:
        return min((np.abs(diffs + shift) > tolerance).mean(), (np.abs(diffs - shift) > tolerance).mean()) >= power

    low, high = 0.0, tolerance + float(np.abs(diffs).max()) + 1e-12
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (low, mid) if caught(mid) else (mid, high)
    return high

