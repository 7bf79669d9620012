"""Where calibration runs are kept: one name per stored file kind, a JSON-lines store with resume, an npz store.

Real fit's runs are JSON lines (calibration/runs-<backend>-<order>.jsonl), written as
they finish and resumed after an interruption; the replica's thousands of runs are one
compressed NumPy file per backend (runs-<backend>-replica.npz, held-out seeds in
holdout-<backend>.npz), float32 arrays (seed, variant, epoch); until that file is saved, its
finished seed batches are kept in <file>.chunks/ so an interrupted run resumes.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from typing import Any

import numpy as np

from .. import files
from ..errors import InputError
from ..experiment import QUESTION_EXPERIMENT, Experiment
from ..run import METRICS, Run, RunsBySeed, by_seed


@dataclass(frozen=True)
class StoredFile:
    """One kind of stored file: its name is prefix + backend + suffix inside the calibration folder."""

    prefix: str
    suffix: str

    def path(self, folder: str | Path, backend: str) -> Path:
        return Path(folder) / f"{self.prefix}{backend}{self.suffix}"

    def by_backend(self, folder: str | Path) -> dict[str, Path]:
        """The stored files of this kind in `folder`, by backend, in name order."""
        found = sorted(Path(folder).glob(f"{self.prefix}*{self.suffix}"))
        return {p.name[len(self.prefix):-len(self.suffix)]: p for p in found}


REPLICA_RUNS = StoredFile("runs-", "-replica.npz")  # the replica over constants.REPLICA_SEEDS
HOLDOUT_RUNS = StoredFile("holdout-", ".npz")  # the replica over the seeds held out for the rule (seed-ranges.json)
HOLDOUT_FIT_RUNS = StoredFile("holdout-fit-", ".jsonl")  # real fit over held-out seeds, where the replica is not its engine
CLOSE_RUNS = StoredFile("xla-defaults-", ".npz")  # REPLICA_RUNS' seeds again, compiled with JAX's default options
CLOSE_FIT_RUNS = StoredFile("close-fit-", ".jsonl")  # real fit of what the replica stands for, on seeds whose replica runs are held out
CLOSE_FIT_ENGINE = "close-fit"  # their engine in seed-ranges.json: apart from "fit", whose held-out ranges serve other counts
RATES_PAGE = StoredFile("", ".md")  # calibration/<backend>.md: spreads and failure rates
AGREEMENT_PAGE = "replica-vs-fit.md"  # the replica against real fit in distribution, with the test's power
COMPARE_PAGE = "compare.md"  # baseline compare's false alarms and power, over every backend's held-out seeds


def fit_runs(order: str) -> StoredFile:
    """Real fit's runs in batch order `order` (JSON lines)."""
    return StoredFile("runs-", f"-{order}.jsonl")


def fit_table(order: str) -> StoredFile:
    """The table of real fit's runs in batch order `order`."""
    return StoredFile("", "-fit-runs.md" if order == "owned" else f"-{order}-order.md")


# Real fit's runs: JSON lines, a setup line first, resumable.

def resume(partial: Path, setup: dict) -> list[Run]:
    """The runs of a partial file left by an interrupted calibration of this same setup."""
    return _read(partial, "calibration resume file", setup)


def setup_line(path: str | Path) -> dict | None:
    """The setup a calibration runs file says it belongs to (its first line), or None where it says none."""
    head = files.read_text(path, "calibration runs").split("\n", 1)[0]
    try:
        data = json.loads(head)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "setup" in data else None


def load_fit_runs(path: str | Path) -> list[Run]:
    """The runs of a calibration file (JSON lines; a leading setup line is skipped)."""
    return _read(path, "calibration runs")


def _read(path: str | Path, what: str, setup: dict | None = None) -> list[Run]:
    """The runs of a JSON-lines file; with `setup`, its first line must be that setup, checked before the rest is read."""
    where = f"{what} {str(path)!r}"
    runs = []
    for i, line in enumerate(files.read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        data = files.parse_json(line, f"{where}, line {i}", non_finite=True)  # normcheck's own: a diverged run is NaN
        if i == 1 and setup is not None:
            _check_setup(data, setup, where)
            continue
        if i == 1 and isinstance(data, dict) and "setup" in data:
            continue
        runs.append(Run.from_dict(data, f"{where}, line {i}", finite=False))
    return runs


def _check_setup(head: object, setup: dict, where: str) -> None:
    if not isinstance(head, dict) or "setup" not in head:
        raise InputError(f"{where} does not say which setup it belongs to; delete it to start over")
    if head != setup:
        then, now = head["setup"], setup["setup"]
        differ = [k for k in now if then.get(k) != now[k]]
        raise InputError(f"{where} was left by another setup (its {', '.join(differ)} differ from this run's); "
                         "delete it to start over")


# The replica's runs: one compressed NumPy file.

SCHEMA = "normcheck.replica/1"


def npz_bytes(arrays: dict[str, Any], header: dict[str, Any], seeds: list[int]) -> bytes:
    """Arrays, a JSON header and the seeds as the bytes of a compressed .npz (no pickles), for `write_bytes`."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays, header=np.array(json.dumps(header)),
                        seeds=np.array(seeds, dtype=np.int64))
    return buffer.getvalue()


def to_arrays(runs: Sequence[Run]) -> tuple[dict[str, np.ndarray], dict, list[int]]:
    """The runs as float32 arrays (seed, variant, epoch), per-epoch metrics then diagnostics; a header; the seeds."""
    matrix = by_seed(runs)
    seed_list = sorted(matrix)
    variants = list(dict.fromkeys(r.variant for r in runs))
    first = runs[0]
    keys = [k for k in first.diagnostics[0]]
    arrays: dict[str, np.ndarray] = {}
    for field in METRICS:
        arrays[field] = np.array([[getattr(matrix[s][v], field) for v in variants] for s in seed_list], dtype=np.float32)
    for key in keys:
        arrays["diag/" + key] = np.array([[[np.nan if d[key] is None else d[key] for d in matrix[s][v].diagnostics]
                                           for v in variants] for s in seed_list], dtype=np.float32)
    header = {"schema": SCHEMA, "experiment": first.experiment.to_dict(), "versions": first.versions,
              "steps_per_execution": first.steps_per_execution, "variants": variants, "diagnostics": keys}
    return arrays, header, seed_list


def save_replica_runs(runs: Sequence[Run], path: str | Path) -> None:
    """The runs as one compressed NumPy file (`to_arrays`), written atomically."""
    files.write_bytes(path, npz_bytes(*to_arrays(runs)))


def load_replica_runs(path: str | Path) -> list[Run]:
    """The runs of a file `save_replica_runs` wrote; anything else is an InputError naming the file.

    Pages and checks read the same large stores several times in one process: a file is parsed once per
    content (its size and modification time), and each caller gets its own list of the (frozen) runs.
    """
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    if stat is None or not S_ISREG(stat.st_mode):
        return _parse_replica_runs(path)
    return list(_cached_replica_runs(str(path), stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=8)
def _cached_replica_runs(path: str, size: int, mtime_ns: int) -> tuple[Run, ...]:
    return tuple(_parse_replica_runs(path))


def _parse_replica_runs(path: str | Path) -> list[Run]:
    where = f"replica runs {str(path)!r}"
    data = files.read_npz(path, "replica runs")  # a regular file of bounded size: a FIFO is refused, not waited on
    try:
        header = json.loads(str(data["header"]))
        if header.get("schema") != SCHEMA:
            raise InputError(f"{where} has schema {header.get('schema')!r}; expected {SCHEMA!r}")
        seed_list = [int(s) for s in data["seeds"]]
        if not seed_list:
            raise InputError(f"{where} holds no seeds")
        arrays = {k: data[k].astype(np.float64) for k in data if k not in ("header", "seeds")}
        return runs_from_arrays(arrays, seed_list, header["variants"], Experiment.from_dict(header["experiment"]),
                                dict(header["versions"]), int(header["steps_per_execution"]), header["diagnostics"])
    except InputError:
        raise
    except (OSError, ValueError, KeyError, AttributeError, IndexError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"{where} is unreadable: {exc!r}") from None


def runs_from_arrays(arrays: dict[str, np.ndarray], seed_list: Sequence[int], variants: Sequence[str],
                     experiment: Experiment, versions: dict[str, str],
                     steps_per_execution: int | None = None, diagnostics: Sequence[str] | None = None) -> list[Run]:
    """Runs from arrays (seed, variant, epoch) as `to_arrays` lays them out; NaN diagnostics are None."""
    keys = list(diagnostics) if diagnostics is not None else [k[len("diag/"):] for k in arrays if k.startswith("diag/")]
    steps = steps_per_execution or experiment.n_samples // experiment.batch_size
    runs = []
    for i, seed in enumerate(seed_list):
        for j, variant in enumerate(variants):
            diags = [{k: (None if np.isnan(arrays["diag/" + k][i, j, e]) else float(arrays["diag/" + k][i, j, e]))
                      for k in keys} for e in range(experiment.epochs + 1)]
            runs.append(Run(variant=variant, seed=seed, experiment=experiment,
                            **{f: [float(x) for x in arrays[f][i, j]] for f in METRICS},  # type: ignore[arg-type]
                            seconds=[0.0] * experiment.epochs, diagnostics=diags,  # type: ignore[arg-type]
                            order="owned", steps_per_execution=steps, versions=dict(versions)))
    return runs


# An interrupted replica calibration: its finished seed batches, one .npz each.

SEED_BATCH_SCHEMA = "normcheck.replica-chunk/1"


def chunks_folder(path: str | Path) -> Path:
    """Where a replica calibration writing `path` keeps its finished seed batches until `path` is saved."""
    path = Path(path)
    return path.with_name(path.name + ".chunks")


class SeedBatchFiles:
    """The finished seed batches of a replica calibration, one .npz per batch in a folder: what makes it resumable."""

    def __init__(self, folder: str | Path, setup: dict[str, Any]):
        self.folder = Path(folder)
        self.setup = setup
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, start: int) -> Path:
        return self.folder / f"chunk-{start:06d}.npz"

    def read(self, start: int, seeds: list[int]) -> dict[str, np.ndarray] | None:
        """The batch starting at seed index `start`, if a run of this same setup finished it."""
        path = self._path(start)
        if not path.exists():
            return None
        where = f"resume folder {str(self.folder)!r}"
        data = files.read_npz(path, f"{where}: seed batch")  # a regular file of bounded size, like every stored .npz
        try:
            header = json.loads(str(data["header"]))
            stored_seeds = [int(s) for s in data["seeds"]]
            arrays = {k: data[k] for k in data if k not in ("header", "seeds")}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise InputError(f"{where}: {path.name} is unreadable ({exc}); remove it to compute that batch again") from None
        if header != self.setup or stored_seeds != seeds:
            raise InputError(f"{where} holds seed batches of another calibration (other seeds, variants, versions "
                             "or batch size); remove it to start over")
        return arrays

    def write(self, start: int, seeds: list[int], arrays: dict[str, np.ndarray]) -> None:
        files.write_bytes(self._path(start), npz_bytes(arrays, self.setup, seeds))


class SavedBatches:
    """The seed batches of a replica file saved earlier by the same setup, read back so a larger run over the same first
    seeds grows it instead of training them again (`calibrate --holdout` over an extended range)."""

    def __init__(self, path: str | Path, experiment: Experiment, versions: dict[str, str], variants: list[str],
                 seed_batch: int):
        data = files.read_npz(path, "replica runs")
        where = f"replica runs {str(path)!r}"
        try:
            header = json.loads(str(data["header"]))
            self.seeds = [int(s) for s in data["seeds"]]
            self.arrays = {k: data[k] for k in data if k not in ("header", "seeds")}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise InputError(f"{where} is unreadable: {exc!r}") from None
        self.same_setup = (header.get("schema") == SCHEMA and header.get("experiment") == experiment.to_dict()
                           and header.get("versions") == versions and header.get("variants") == variants)
        self.seed_batch = seed_batch

    def read(self, seeds: list[int]) -> dict[str, np.ndarray] | None:
        """One batch's arrays, if the saved file ran exactly these seeds as one of its own batches."""
        if not self.same_setup or not seeds or seeds[0] not in self.seeds:
            return None
        at = self.seeds.index(seeds[0])
        if at % self.seed_batch or self.seeds[at:at + self.seed_batch] != seeds:
            return None
        return {k: a[at:at + len(seeds)] for k, a in self.arrays.items()}


def discard_chunks(folder: str | Path) -> None:
    """Remove a finished calibration's seed-batch folder (after its runs are saved)."""
    folder = Path(folder)
    for path in folder.glob("chunk-*.npz"):
        path.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def held_out(folder: str | Path, backend: str) -> list[Run] | None:
    """The held-out replica runs of `backend` (calibration/holdout-<backend>.npz), if stored."""
    path = HOLDOUT_RUNS.path(folder, backend)
    return load_replica_runs(path) if path.exists() else None


def stored_fit(folder: str | Path, backend: str) -> list[Run] | None:
    """Real fit's runs of `backend` in normcheck's order (calibration/runs-<backend>-owned.jsonl), if stored."""
    path = fit_runs(QUESTION_EXPERIMENT.order).path(folder, backend)
    return load_fit_runs(path) if path.exists() else None


def held_out_fit(folder: str | Path, backend: str) -> list[Run] | None:
    """Real fit's runs of `backend` on held-out seeds (calibration/holdout-fit-<backend>.jsonl), if stored."""
    path = HOLDOUT_FIT_RUNS.path(folder, backend)
    return load_fit_runs(path) if path.exists() else None


def held_out_by_backend(folder: str | Path) -> dict[str, RunsBySeed]:
    """Every backend's held-out replica runs, by seed."""
    return {b: by_seed(load_replica_runs(p)) for b, p in HOLDOUT_RUNS.by_backend(folder).items()}


def held_out_fit_by_backend(folder: str | Path) -> dict[str, RunsBySeed]:
    """Every backend's real fit on held-out seeds, by seed."""
    return {b: by_seed(load_fit_runs(p)) for b, p in HOLDOUT_FIT_RUNS.by_backend(folder).items()}
