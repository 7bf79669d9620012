"""Measure the claims over many seeds: the data every threshold rests on.

`python -m normcheck calibrate` trains every variant for each seed and keeps
the runs as JSON lines in calibration/; `python -m normcheck calibrate --report`
turns them into the table in calibration/<backend>.md (per-claim minimum,
median, maximum over seeds, the threshold, and the margin between them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .experiment import QUESTION_EXPERIMENT, Experiment
from .run import Matrix, Run, by_seed
from .variants import QUESTION_VARIANTS, VARIANTS

if TYPE_CHECKING:
    from .claims import Claim


def collect(seeds: Iterable[int], path: str | Path, experiment: Experiment = QUESTION_EXPERIMENT,
            variants: Iterable[str] = tuple(VARIANTS), log=print, jobs: int = 1) -> list[Run]:
    """Train every (variant, seed) and write the runs to `path` (JSON lines), resuming a partial file of the same setup.

    The partial file's first line records the setup (experiment, backend, variants); a
    partial left by another setup is refused before any training, naming what differs.
    """
    from . import framework
    from .parallel import train_matrix

    path = Path(path)
    variants = list(variants)
    partial = path.with_name(path.name + ".partial")
    setup = {"setup": {"experiment": experiment.to_dict(), "backend": framework.default_backend(), "variants": variants}}
    done = _resume(partial, setup) if partial.exists() else []
    with partial.open("a") as fh:
        if partial.stat().st_size == 0:
            fh.write(json.dumps(setup) + "\n")

        def keep(run: Run, finished: int, total: int) -> None:
            fh.write(run.to_json() + "\n")
            fh.flush()
            log(f"[{finished}/{total}] {run.variant} seed={run.seed}: accuracy {run.accuracy[0]:.4f} -> "
                f"{run.accuracy[-1]:.4f}, {sum(run.seconds):.1f} s")

        matrix = train_matrix(variants, list(seeds), experiment, jobs=jobs, on_run=keep, done=done)
    os.replace(partial, path)
    return [matrix[s][v] for s in sorted(matrix) for v in variants if v in matrix[s]]


def _resume(partial: Path, setup: dict) -> list[Run]:
    """The runs of a partial file left by an interrupted calibration of this same setup."""
    return _read(partial, "calibration resume file", setup)


def load(path: str | Path) -> list[Run]:
    """The runs of a calibration file (JSON lines; a leading setup line is skipped)."""
    return _read(path, "calibration runs")


def _read(path: str | Path, what: str, setup: dict | None = None) -> list[Run]:
    """The runs of a JSON-lines file; with `setup`, its first line must be that setup, checked before the rest is read."""
    from . import files

    where = f"{what} {str(path)!r}"
    runs = []
    for i, line in enumerate(files.read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        data = files.parse_json(line, f"{where}, line {i}")
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


@dataclass(frozen=True)
class Spread:
    """One claim's measure over the seeds that ran its variants."""

    low: float
    median: float
    high: float
    margin: float  # the worst seed's distance to the threshold, on the passing side
    passing: int
    seeds: int


def spread(claim: Claim, matrix: Matrix) -> Spread | None:
    """The claim over every seed of `matrix` that has its variants; None where none has."""
    import statistics

    by_value = claim.values({s: rs for s, rs in matrix.items() if all(v in rs for v in claim.variants)})
    if not by_value:
        return None
    values = list(by_value.values())
    return Spread(min(values), statistics.median(values), max(values), claim.margin(by_value[claim.worst(by_value)]),
                  sum(map(claim.holds, values)), len(values))


def table(runs: list[Run], backend: str) -> str:
    """Per claim: the threshold and the spread of its measure over the stored seeds."""
    from .claims import CLAIMS

    matrix = by_seed(runs)
    lines = [
        f"# Calibration on {backend}",
        "",
        f"{len(matrix)} seeds ({min(matrix)}-{max(matrix)}), each variant trained with the question's experiment "
        f"({runs[0].epochs} epochs, batch order: {runs[0].order}). Versions: {runs[0].versions}.",
        "Margin = how far the worst seed is from the threshold, on the passing side.",
        f"Regenerate: `python -m normcheck calibrate --backend {backend} --seeds 24"
        + ("" if runs[0].order == "owned" else f" --order {runs[0].order}") + "` "
        "(or `--report` to rebuild this table from the stored runs).",
        "",
        "| claim | rule | min | median | max | margin | seeds passing |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        sp = spread(claim, matrix)
        if sp is None:
            continue
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {sp.low:.4g} | {sp.median:.4g} | "
                     f"{sp.high:.4g} | {sp.margin:+.4g} | {sp.passing}/{sp.seeds} |")
    return "\n".join(lines) + "\n"


def claims_page(folder: str | Path = "calibration") -> str:
    """docs/claims.md: every claim in the registry with its spread over the stored calibration runs of each backend."""
    from .claims import CLAIMS

    stored = {p.name[len("runs-"):-len("-owned.jsonl")]: by_seed(load(p))
              for p in sorted(Path(folder).glob("runs-*-owned.jsonl"))}
    lines = [
        "# Claims",
        "",
        "<!-- generated by `python -m normcheck calibrate --page docs/claims.md`; tests/docs checks it is current -->",
        "One registry, `normcheck/claims.py`: each claim has an id, the question's sentence it comes from, what it",
        "measures and its threshold. Every claim is checked per seed and the worst seed decides. pytest",
        "parametrizes by id (`pytest -k input_norm_learns`); the CLI prints the same verdicts.",
        "",
        "Below, each claim's measure over the stored calibration runs (`calibration/runs-<backend>-owned.jsonl`,",
        "made by `python -m normcheck calibrate --backend B --seeds 0-23`): min / median / max over seeds, the",
        "margin of the worst seed (distance to the threshold on the passing side) and how many seeds pass.",
        "",
    ]
    for backend, matrix in stored.items():
        first = next(iter(next(iter(matrix.values())).values()))
        lines.append(f"- {backend}: {len(matrix)} seeds ({min(matrix)}-{max(matrix)}), "
                     + ", ".join(f"{k} {v}" for k, v in sorted(first.versions.items())))
    lines += ["", "| claim | kind | rule (per seed) | threshold | " + " | ".join(stored) + " |",
              "|---|---|---|---|" + "---|" * len(stored)]
    for claim in CLAIMS:
        cells = []
        for matrix in stored.values():
            sp = spread(claim, matrix)
            cells.append(f"{sp.low:.4g} / {sp.median:.4g} / {sp.high:.4g}; margin {sp.margin:+.3g}; {sp.passing}/{sp.seeds} pass"
                         if sp is not None else "not calibrated")
        lines.append(f"| `{claim.id}` | {claim.kind} | {claim.statement} | {claim.op} {claim.threshold:g} | " + " | ".join(cells) + " |")
    lines += ["", "Where each claim comes from in the question:", ""]
    for source in dict.fromkeys(c.source for c in CLAIMS):
        lines.append(f"- *{source}*: " + ", ".join(f"`{c.id}`" for c in CLAIMS if c.source == source))
    return "\n".join(lines) + "\n"


def calibrate(out: str | Path, seeds: Iterable[int], report_only: bool, order: str = "owned", epochs: int = 10,
              log: Callable[[str], None] | None = None, jobs: int = 1) -> str:
    """Train (or, with `report_only`, reload) the calibration runs and write their table; returns the table."""
    from . import files, framework

    backend = framework.default_backend()
    out = Path(out)
    if not out.is_dir():
        raise InputError(f"calibration folder {str(out)!r} does not exist")
    path = out / f"runs-{backend}-{order}.jsonl"
    experiment = QUESTION_EXPERIMENT.replace(order=order, epochs=epochs)
    variants = tuple(VARIANTS) if order == "owned" else QUESTION_VARIANTS
    if report_only:
        if not path.exists():
            raise InputError(f"no stored runs at {str(path)!r}; run without --report first")
        runs = load(path)
    else:
        runs = collect(seeds, path, experiment, variants, log=log or (lambda m: None), jobs=jobs)
    text = table(runs, backend)
    files.write_text(out / (f"{backend}.md" if order == "owned" else f"{backend}-{order}-order.md"), text)
    return text
