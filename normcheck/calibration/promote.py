"""`calibrate --promote`: the one step that changes the spread `baseline compare` ships with.

`calibrate` (and `--report`) write <out>/redraw-<backend>.npz and nothing inside the package.
Promoting copies that file to normcheck/redraw-<backend>.npz once it is checked: well formed
(redraw.parse, as compare reads it), for the question's experiment and this backend, its versions
stated, and at least as many seeds as the file it replaces (never fewer than
len(constants.REPLICA_SEEDS)): a trial run over a few seeds cannot replace a calibration.
The shipped spread is part of the frozen rule (ledger.rule hashes it), so a promotion is followed
by a new `calibrate --freeze`.

Promoting also writes normcheck/carried-rates.json (carried.py): each backend's counted failing runs on
seeds held out for the rule in force, which the CLI states after its verdicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import baseline, carried, files, redraw
from ..errors import InputError, shown
from ..experiment import QUESTION_EXPERIMENT, Experiment
from ..run import RunsBySeed, by_seed
from . import ledger, pages, rates, spread, store

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
        fit = (f" (its {', '.join(new.from_fit)} come from real fit, which ran only those seeds: run `calibrate "
               f"--engine fit` over the replica's)" if new.from_fit else "")
        raise InputError(f"{where} holds {new.seeds} seeds{fit}; {shipped}: refusing a weaker calibration "
                         f"(allowed: at least {floor} seeds)")
    if old is not None and target.read_bytes() == data:
        return (f"{target} already holds {source} ({new.seeds} seeds on {_stack(versions)}): nothing to promote; "
                + write_carried(carried_rates(out)))
    files.write_bytes(target, data)
    baseline.forget_spreads()  # compare's replays below must read the new one
    rates_note = write_carried(carried_rates(out))  # for the rule the new spread makes: no held-out count yet
    replaced = ("nothing (no spread was shipped)" if old is None and not target.exists() else
                "an unreadable file" if old is None else
                f"{old.seeds} seeds on {_stack(old.header.get('versions'))}")
    return (f"promoted {source} ({new.seeds} seeds on {_stack(versions)}) to {target}, replacing {replaced}; "
            f"the frozen rule moved with it: run `python -m normcheck calibrate --freeze` and commit; {rates_note}")


def carried_rates(out: Path) -> dict[str, Any]:
    """What the CLI states: each backend's run counts (`run_counts`) and compare's false alarms (`compare_counts`),
    on the seeds `out` holds out for the rule in force."""
    held = _held_for_rule(out)
    return {"schema": carried.SCHEMA, "rule": ledger.rule_version(), "backends": run_counts(out, held),
            "compare": compare_counts(out, held)}


def _shipped_for_rule() -> dict[str, Any]:
    shipped = carried.read()
    return shipped if shipped and shipped["rule"] == ledger.rule_version() else {}


def _held_for_rule(out: Path) -> dict[str, RunsBySeed]:
    """Each backend's stored held-out replica runs in `out` whose whole range is held out for the rule in force."""
    version = ledger.rule_version()
    ranges = ledger.recorded(out)
    found_held = {}
    for backend, path in sorted(store.HOLDOUT_RUNS.by_backend(out).items()):
        held = by_seed(store.load_replica_runs(path))
        found = ledger.find(ranges, range(min(held), max(held) + 1), backend, "replica")
        if found is None or found.role != "held-out" or found.rule_version != version:
            continue
        if sorted(held) != list(range(found.first, found.last + 1)):
            raise InputError(f"{shown(str(path))} holds {len(held)} of the {found.last - found.first + 1} seeds of "
                             f"held-out range {found.span()}: a count on part of a range is not shipped")
        found_held[backend] = held
    return found_held


def run_counts(out: Path, held: dict[str, RunsBySeed] | None = None) -> dict[str, Any]:
    """Per backend held out for the rule in force: every run size's count. Backends `out` holds no such seeds for
    keep the shipped counts, where those are for the same rule."""
    backends: dict[str, Any] = dict(_shipped_for_rule().get("backends", {}))
    for backend, matrix in (_held_for_rule(out) if held is None else held).items():
        backends[backend] = {
            "seeds": f"{min(matrix)}-{max(matrix)}",
            "runs": {str(n): {"failing": r.replica.failing, "trials": r.replica.trials, "upper": r.upper,
                              "fit": sorted(r.fit), **({"fit_seeds": r.fit_seeds} if r.fit else {}),
                              **({"stages": [list(st) for st in r.replica.stages]} if r.replica.stages else {})}
                     for n, r in pages.counted_runs(out, backend, matrix).items()},
        }
    return dict(sorted(backends.items()))


def compare_counts(out: Path, held: dict[str, RunsBySeed] | None = None) -> list[dict[str, Any]]:
    """compare's false alarms on healthy redraws, replayed on the replica's held-out seeds (spread.redraw_replays),
    and on real fit's held-out seeds for the variants those replays leave out. Rows `out` cannot replay (a backend
    it holds no held-out seeds of) are kept from the shipped file, where that is for the same rule."""
    held = _held_for_rule(out) if held is None else held
    rows = [{"engine": "replica", "size": r.size, "a": r.backend_a, "b": r.backend_b, "flagged": r.flagged.failing,
             "trials": r.flagged.trials, "upper": r.flagged.upper, "left_out": list(r.left_out),
             **({"stages": [list(st) for st in r.flagged.stages]} if len(r.flagged.stages) > 1 else {})}
            for r in spread.staged_redraw_replays(held, ledger.held_stages(ledger.recorded(out), held))]
    held_fit = held_out_fit(out)
    for r in spread.held_fit_replays(held, held_fit):
        fit_backend = r.backend_a if r.backend_a in held_fit else r.backend_b
        rows.append({"engine": "fit", "size": r.size, "a": r.backend_a, "b": r.backend_b, "flagged": r.flagged.failing,
                     "trials": r.flagged.trials, "upper": r.flagged.upper,
                     "variants": sorted({v for rs in held_fit[fit_backend].values() for v in rs})})
    close = close_counts(out, held)
    shipped = _shipped_for_rule().get("compare", [])
    kept = [r for r in shipped if (r["engine"] == "replica" and not (r["a"] in held and r["b"] in held))
            or (r["engine"] == "fit" and not {r["a"], r["b"]} & set(held_fit))
            or (r["engine"] == carried.CLOSE and r["a"] not in {c["a"] for c in close})]
    return _joint(kept + rows + close)


def close_counts(out: Path, held: dict[str, RunsBySeed]) -> list[dict[str, Any]]:
    """compare's false alarms in the close regime: each backend's held-out replica runs against the same seeds run
    again with float-level differences (`calibrate --xla-defaults`), where the ledger holds those seeds out."""
    ranges = ledger.recorded(out)
    rows = []
    for backend, path in sorted(store.CLOSE_RUNS.by_backend(out).items()):
        again = by_seed(store.load_replica_runs(path))
        if backend not in held or ledger.role(ranges, range(min(again), max(again) + 1), backend, carried.CLOSE) != "held out":
            continue
        left_out = spread.from_fit(backend)
        pair = ("", spread.without(again, left_out), "", spread.without(held[backend], left_out))
        rows += [{"engine": carried.CLOSE, "size": r.size, "a": backend, "b": backend, "flagged": r.flagged.failing,
                  "trials": r.flagged.trials, "upper": r.flagged.upper, "left_out": list(left_out)}
                 for r in spread.close_replays([pair]) if r.flagged.trials]
    return rows


def held_out_fit(out: Path) -> dict[str, RunsBySeed]:
    """Each backend's real fit on held-out seeds in `out`, where the ledger holds them out for the rule in force."""
    ranges = ledger.recorded(out)
    return {backend: fit for backend, fit in sorted(store.held_out_fit_by_backend(out).items())
            if ledger.role(ranges, range(min(fit), max(fit) + 1), backend, "fit") == "held out"}


def _joint(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replica rows ordered first; where real fit's rows count what a replica row leaves out (same pair and size),
    the replica row gains the bound on both together (Bonferroni: each part at 1 - 0.05 / 2)."""
    rows = sorted(rows, key=lambda r: r["engine"] != "replica")
    out = []
    for row in rows:
        fit = [f for f in rows if f["engine"] == "fit" and (f["a"], f["b"], f["size"]) == (row["a"], row["b"], row["size"])]
        if row["engine"] == "replica" and fit:
            level = 1 - (1 - rates.CONFIDENCE) / (1 + len(fit))
            counts = [rates.Count(r["flagged"], r["trials"], tuple(map(tuple, r.get("stages", [])))) for r in (row, *fit)]
            row = {**row, "joint_upper": min(1.0, sum(c.upper_at(level) for c in counts))}
        out.append(row)
    return out


def write_carried(data: dict[str, Any]) -> str:
    """normcheck/carried-rates.json (carried_rates), where it changes; what it now holds, in words."""
    if carried.read() != data:
        files.write_json(carried.PATH, data)
    held = ", ".join(f"{b} {d['seeds']}" for b, d in data["backends"].items()) or "no backend"
    return f"{carried.PATH.name}: held-out counts of rule {data['rule']} for {held}"


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
