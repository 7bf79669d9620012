"""`calibrate --promote`: the one step that changes the spread `baseline compare` ships with.

`calibrate` (and `--report`) write <out>/redraw-<backend>.npz and nothing inside the package.
Promoting copies that file to normcheck/redraw-<backend>.npz once it is checked: well formed
(redraw.parse, as compare reads it), for the question's experiment and this backend, its versions
stated, and at least as many seeds as the file it replaces (never fewer than
len(constants.REPLICA_SEEDS)): a trial run over a few seeds cannot replace a calibration.
The shipped spread is part of the frozen rule (ledger.rule hashes it), so a promotion is followed
by a new `calibrate --freeze`.
"""

from __future__ import annotations

from pathlib import Path

from .. import files, redraw
from ..errors import InputError, shown
from ..experiment import QUESTION_EXPERIMENT, Experiment

VERSION_KEYS = ("backend", "keras")  # what a promoted file must say it ran on, at least


def promote(out: Path, backend: str) -> str:
    """Copy <out>/redraw-<backend>.npz into the package after checking it; what was replaced, in words."""
    source, target = redraw.path(backend, out), redraw.path(backend)
    if not source.exists() and not source.is_symlink():
        raise InputError(f"no calibrated spread at {shown(str(source))}; run `python -m normcheck calibrate --backend "
                         f"{backend} --out {out}` (or with --report) first")
    data = files.read_bytes(source, "calibrated spread", redraw.MAX_BYTES)
    new = redraw.parse(data, source, backend, min_seeds=0)
    where = f"calibrated spread {shown(str(source))}"
    _check_experiment(new.header, where)
    versions = _check_versions(new.header, backend, where)
    old = _shipped(target, backend)
    floor = max(redraw.MIN_SEEDS, old.seeds if old is not None else 0)
    if new.seeds < floor:
        shipped = (f"the shipped {shown(str(target))} holds {old.seeds}" if old is not None
                   else f"a calibration needs at least {redraw.MIN_SEEDS}")
        raise InputError(f"{where} holds {new.seeds} seeds; {shipped}: refusing a weaker calibration "
                         f"(allowed: at least {floor} seeds)")
    if old is not None and target.read_bytes() == data:
        return f"{target} already holds {source} ({new.seeds} seeds on {_stack(versions)}): nothing to promote"
    files.write_bytes(target, data)
    replaced = ("nothing (no spread was shipped)" if old is None and not target.exists() else
                "an unreadable file" if old is None else
                f"{old.seeds} seeds on {_stack(old.header.get('versions'))}")
    return (f"promoted {source} ({new.seeds} seeds on {_stack(versions)}) to {target}, replacing {replaced}; "
            "the frozen rule moved with it: run `python -m normcheck calibrate --freeze` and commit")


def _check_experiment(header: dict, where: str) -> None:
    if "experiment" not in header:
        raise InputError(f"{where} does not state its experiment; write it with this normcheck's `calibrate`")
    try:
        experiment = Experiment.from_dict(header["experiment"])
    except InputError as exc:
        raise InputError(f"{where}: its experiment is malformed: {exc}") from None
    if experiment != QUESTION_EXPERIMENT:
        raise InputError(f"{where} is for another experiment than the question's; compare's spread must be the "
                         "question's")


def _check_versions(header: dict, backend: str, where: str) -> dict[str, str]:
    versions = header.get("versions")
    if not isinstance(versions, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items()):
        raise InputError(f"{where} does not state its versions (an object of names to version strings)")
    missing = [k for k in VERSION_KEYS if k not in versions]
    if missing:
        raise InputError(f"{where}: its versions lack {', '.join(missing)}")
    if versions["backend"] != backend:
        raise InputError(f"{where} ran on backend {shown(versions['backend'])}, not {backend!r}")
    return versions


def _shipped(target: Path, backend: str) -> redraw.Cells | None:
    """The spread being replaced, read without a seed floor; None where there is none or it is unreadable."""
    if not target.exists():
        return None
    try:
        return redraw.read(target, backend, min_seeds=0)
    except InputError:
        return None


def _stack(versions: object) -> str:
    if not isinstance(versions, dict):
        return "unstated versions"
    return ", ".join(f"{k} {v}" for k, v in versions.items() if k in ("keras", "backend", versions.get("backend")))
