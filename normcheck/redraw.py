"""What a healthy redraw of initial weights does to the median of a per-epoch metric.

`baseline compare` on redrawn trajectories asks whether two medians over a few
seeds differ by more than chance. Chance is read off the replica calibration
of each backend (calibration/runs-<backend>-replica.npz), condensed into
calibration/redraw-<backend>.npz by `python -m normcheck calibrate` (calibration/spread.py
writes it) and copied into the package, normcheck/redraw-<backend>.npz, only by the
explicit, checked `calibrate --promote`, so an installed normcheck has it: the
difference between the medians of two disjoint sets of seeds, drawn many times.
This module only reads it, and checks it before compare trains anything (`read`):
a regular file of bounded size, its header, consistent finite arrays and at least
len(constants.REPLICA_SEEDS) seeds. It sits below `baseline`, and calibration above both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from . import files, run
from .constants import REPLICA_SEEDS
from .errors import InputError, shown

METRICS = tuple(m for m in run.METRICS if m != "eval_loss")  # the per-epoch metrics compare judges (not eval_loss)
DRAWS = 4000
TAIL_DRAWS = 100_000  # for the far quantile of every cell
ROWS = 10_000  # draws shuffled at a time where groups are large: bounded memory, the same draws
POWER = 0.9
SEED_COUNTS = (5, 10, 20, 50, 100, 200, 500)
SCHEMA = "normcheck.redraw/1"  # files shipped before it carry no schema and are read the same
MAX_BYTES = 64 * 2**20  # the shipped 1000-seed file is ~350 KB
MIN_SEEDS = len(REPLICA_SEEDS)  # fewer seeds is a trial run, not a calibration compare may rest on


def path(backend: str, folder: str | Path | None = None) -> Path:
    """The spread of `backend` in `folder` (where calibrate writes it), or shipped in the package (folder None)."""
    name = f"redraw-{backend}.npz"
    return Path(__file__).with_name(name) if folder is None else Path(folder) / name


@dataclass(frozen=True)
class Cells:
    """One backend's calibrated per-epoch metrics."""

    backend: str
    variants: tuple[str, ...]
    values: dict[str, np.ndarray]
    seeds: int  # as read from the file: the count compare states
    header: dict[str, Any]

    @property
    def from_fit(self) -> tuple[str, ...]:
        """The variants whose spread comes from real fit's seeds: the replica does not stand for fit there."""
        return tuple(self.header.get("from_fit", ()))

    def column(self, variant: str, metric: str, epoch: int) -> np.ndarray | None:
        if variant not in self.variants or metric not in self.values or epoch > self.values[metric].shape[2]:
            return None
        return self.values[metric][:, self.variants.index(variant), epoch - 1].astype(np.float64)


@cache
def cells(backend: str) -> Cells | None:
    """The shipped calibration of `backend`, checked (`read`), or None where normcheck has none."""
    p = path(backend)
    return read(p, backend) if p.exists() or p.is_symlink() else None


def read(p: Path, backend: str, min_seeds: int = MIN_SEEDS) -> Cells:
    """A spread file, checked before it is trusted; every problem is one InputError naming it."""
    return parse(files.read_bytes(p, "calibrated spread", MAX_BYTES), p, backend, min_seeds)


def parse(data: bytes, p: Path, backend: str, min_seeds: int = MIN_SEEDS) -> Cells:
    """The spread in `data` (the bytes of `p`): header, seeds and finite (seed, variant, epoch) arrays that agree."""
    where = f"calibrated spread {shown(str(p))}"
    arrays = files.npz_arrays(data, where, MAX_BYTES)

    def bad(problem: str) -> InputError:
        return InputError(f"{where} {problem}; reinstall normcheck or promote a full calibration "
                          "(python -m normcheck calibrate --promote)")

    raw = arrays.get("header")
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise bad("has no header (a JSON text)")
    header = files.parse_json(str(raw), f"{where}, header")
    if not isinstance(header, dict):
        raise bad("has a header that is not a JSON object")
    if header.get("schema", SCHEMA) != SCHEMA:
        raise bad(f"has schema {shown(header['schema'])}; expected {SCHEMA!r}")
    if header.get("backend", backend) != backend:
        raise bad(f"is for backend {shown(header['backend'])}, not {backend!r}")
    variants = header.get("variants")
    if not isinstance(variants, list) or not variants or not all(isinstance(v, str) for v in variants) \
            or len(set(variants)) != len(variants):
        raise bad(f"header's variants is {shown(variants)}; expected a list of distinct names")
    from_fit = header.get("from_fit", [])
    if not isinstance(from_fit, list) or not all(isinstance(v, str) and v in variants for v in from_fit) \
            or len(set(from_fit)) != len(from_fit):
        raise bad(f"header's from_fit is {shown(from_fit)}; expected a list of distinct variants among its variants")
    count = header.get("seeds")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise bad(f"header's seeds is {shown(count)}; expected the number of seeds")
    listed = arrays.get("seeds")
    if listed is None or listed.dtype.kind not in "iu" or listed.shape != (count,) or len(set(listed.tolist())) != count:
        raise bad(f"does not list its {count} distinct seeds (header) as integers")
    if count < min_seeds:
        raise bad(f"holds {count} seeds; allowed: at least {min_seeds}")
    values: dict[str, np.ndarray] = {}
    for metric in METRICS:
        a = arrays.get(metric)
        if a is None:
            raise bad(f"lacks the array {metric!r}")
        if a.dtype.kind != "f" or a.ndim != 3 or a.shape[:2] != (count, len(variants)) or a.shape[2] < 1:
            raise bad(f"array {metric!r} is {a.dtype} {a.shape}; expected floats ({count} seeds, {len(variants)} "
                      "variants, epochs)")
        if values and a.shape != next(iter(values.values())).shape:
            raise bad(f"array {metric!r} has shape {a.shape}, unlike {METRICS[0]!r}")
        if not np.isfinite(a).all():
            raise bad(f"array {metric!r} holds {int((~np.isfinite(a)).sum())} values that are not finite")
        values[metric] = a
    return Cells(backend, tuple(variants), values, count, header)


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

