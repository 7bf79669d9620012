"""Measure the claims over many seeds: the data every threshold rests on.

`python -m normcheck calibrate` trains every variant for each seed and keeps
the runs as JSON lines in calibration/; `python -m normcheck calibrate --report`
turns them into the table in calibration/<backend>.md (per-claim minimum,
median, maximum over seeds, the threshold, and the margin between them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .experiment import QUESTION_EXPERIMENT, Experiment
from .run import Run, by_seed
from .variants import QUESTION_VARIANTS, VARIANTS


def collect(seeds: Iterable[int], path: str | Path, experiment: Experiment = QUESTION_EXPERIMENT,
            variants: Iterable[str] = tuple(VARIANTS), log=print, jobs: int = 1) -> list[Run]:
    """Train every (variant, seed) and write the runs to `path` (JSON lines), resuming a partial file."""
    from .parallel import train_matrix

    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    done = load(partial) if partial.exists() else []
    with partial.open("a") as fh:
        def keep(run: Run, finished: int, total: int) -> None:
            fh.write(run.to_json() + "\n")
            fh.flush()
            log(f"[{finished}/{total}] {run.variant} seed={run.seed}: accuracy {run.accuracy[0]:.4f} -> "
                f"{run.accuracy[-1]:.4f}, {sum(run.seconds):.1f} s")

        matrix = train_matrix(list(variants), list(seeds), experiment, jobs=jobs, on_run=keep, done=done)
    os.replace(partial, path)
    return [matrix[s][v] for s in sorted(matrix) for v in variants if v in matrix[s]]


def load(path: str | Path) -> list[Run]:
    return [Run.from_json(line) for line in Path(path).read_text().splitlines() if line.strip()]


def table(runs: list[Run], backend: str) -> str:
    """Per claim: the threshold and the spread of its measure over the stored seeds."""
    import statistics

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
        by_value = claim.values({s: rs for s, rs in matrix.items() if all(v in rs for v in claim.variants)})
        if not by_value:
            continue
        values = list(by_value.values())
        margin = claim.margin(by_value[claim.worst(by_value)])
        passing = sum(claim.holds(v) for v in values)
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {min(values):.4g} | {statistics.median(values):.4g} | "
                     f"{max(values):.4g} | {margin:+.4g} | {passing}/{len(values)} |")
    return "\n".join(lines) + "\n"


def calibrate(out: str | Path, seeds: Iterable[int], report_only: bool, order: str = "owned", epochs: int = 10,
              log: Callable[[str], None] | None = None, jobs: int = 1) -> str:
    """Train (or, with `report_only`, reload) the calibration runs and write their table; returns the table."""
    from . import files, framework

    backend = framework.default_backend()
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"calibration folder {str(out)!r} does not exist")
    path = out / f"runs-{backend}-{order}.jsonl"
    experiment = QUESTION_EXPERIMENT.replace(order=order, epochs=epochs)
    variants = tuple(VARIANTS) if order == "owned" else QUESTION_VARIANTS
    if report_only:
        if not path.exists():
            raise ValueError(f"no stored runs at {str(path)!r}; run without --report first")
        runs = load(path)
    else:
        runs = collect(seeds, path, experiment, variants, log=log or (lambda m: None), jobs=jobs)
    text = table(runs, backend)
    files.write_text(out / (f"{backend}.md" if order == "owned" else f"{backend}-{order}-order.md"), text)
    return text
