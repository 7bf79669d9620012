"""Measure the claims over many seeds: the data every threshold and error rate rests on.

`python -m normcheck calibrate` runs the replica of fit (replica.py) over 1000
seeds of this backend's initial draws and keeps them in
calibration/runs-<backend>-replica.npz; calibration/<backend>.md tabulates each
claim's spread and failure rate (rates.py). `--engine fit` trains real fit
instead (slow; 24 seeds are stored as JSON lines, the distribution the replica
is held to). `--report` rebuilds a table from the stored runs.
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
from .run import Matrix, Run, by_seed, disjoint_groups
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
        f"Regenerate: `python -m normcheck calibrate --engine fit --backend {backend} --seeds 0-23"
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


def rates_table(runs: list[Run], backend: str, held_out: list[Run] | None = None) -> str:
    """Per claim: threshold, spread over the seeds and how often it fails on a healthy stack (rates.py).

    `held_out`: runs of other seeds, never looked at to state a claim, on which each claim is counted again.
    """
    from . import rates
    from .claims import CLAIMS

    matrix = by_seed(runs)
    held = by_seed(held_out) if held_out else {}
    first = runs[0]
    versions = {k: v for k, v in first.versions.items() if k != "engine"}
    lines = [
        f"# Calibration on {backend}: {len(matrix)} seeds through the replica of fit",
        "",
        f"Seeds {min(matrix)}-{max(matrix)}, every variant, the question's experiment ({first.epochs} epochs, "
        f"normcheck's batch order), each seed from the initial weights Keras draws on {backend}; "
        f"versions {versions}.",
        f"Regenerate: `python -m normcheck calibrate --backend {backend}` (`--report` rebuilds this page from "
        f"`calibration/runs-{backend}-replica.npz`).",
        "",
        "Margin: the worst seed's distance from the threshold on the passing side. Failing: seeds whose value fails "
        "the rule. Per seed: the 95% upper bound from the count, and the estimate (the count where seeds fail, else a "
        "generalized Pareto fit to the 10% of margins nearest the threshold). Per run: the probability that a run of "
        "1 seed (the CLI's default) or 5 seeds (the pytest plugin's and a baseline's) fails the claim, from the estimate; "
        "a median claim fails a run when at least half its seeds do. An estimate of 0 means the fitted tail ends before "
        "the threshold (or the measure is constant there); the count's bound is the figure free of the fit's assumptions."
        + (f" Held out: failing seeds among {min(held)}-{max(held)}, never looked at when a claim was stated." if held else ""),
        "",
        "| claim | rule | over | min | median | max | margin | failing | per seed: 95% upper | per seed: estimate "
        "| run of 1 | run of 5 |" + (" held out: failing |" if held else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if held else ""),
    ]
    found = []
    for claim in CLAIMS:
        sp = spread(claim, matrix)
        if sp is None:
            continue
        rate = rates.claim_rate(claim, matrix)
        found.append((claim, rate))
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {claim.over} | {sp.low:.4g} | {sp.median:.4g} | "
                     f"{sp.high:.4g} | {sp.margin:+.4g} | {rate.failing}/{rate.seeds} | {rate.upper:.1e} | "
                     f"{_rate(rate.estimate)} | {_rate(rate.runs[1])} | {_rate(rate.runs[5])} |"
                     + (f" {rates.claim_rate(claim, held).failing}/{len(held)} |" if held else ""))
    claims = [c for c, _ in found]
    lines.append("")
    for n in rates.RUN_SEEDS:
        total = sum(r.runs[n] for _, r in found)
        lines.append(f"- Every claim together, a run of {n} seed{'s' if n > 1 else ''}: at most {_rate(total)} "
                     "(the sum of the per-claim estimates).")
    for name, seeds in (("calibration", matrix), ("held-out", held)):
        if seeds:
            failed, groups = rates.failing_groups(claims, seeds, 5)
            lines.append(f"- Replay on the {name} seeds: {groups} disjoint groups of 5, each checked as one run with "
                         f"every claim: {failed} fail (95% upper bound {rates.upper_bound(failed, groups):.1e}).")
    return "\n".join(lines) + "\n"


def _rate(p: float) -> str:
    return "0" if p == 0 else f"{p:.1e}"


def by_backend(folder: str | Path, prefix: str, suffix: str) -> dict[str, Path]:
    """The stored files named prefix + backend + suffix in `folder`, by backend, in name order."""
    return {p.name[len(prefix):-len(suffix)]: p for p in sorted(Path(folder).glob(f"{prefix}*{suffix}"))}


def claims_page(folder: str | Path = "calibration") -> str:
    """docs/claims.md: every claim in the registry with its spread and failure rate over each backend's calibration."""
    from . import rates, replica
    from .claims import CLAIMS

    stored = {b: by_seed(replica.load(p)) for b, p in by_backend(folder, "runs-", "-replica.npz").items()}
    fit = {b: by_seed(load(p)) for b, p in by_backend(folder, "runs-", "-owned.jsonl").items()}
    lines = [
        "# Claims",
        "",
        "<!-- generated by `python -m normcheck calibrate --page docs/claims.md`; tests/docs checks it is current -->",
        "One registry, `normcheck/claims.py`: each claim has an id, the question's sentence it comes from, what it",
        "measures, its threshold, and whether it must hold for each seed run or for the median over them. pytest",
        "parametrizes by id (`pytest -k input_norm_learns`); the CLI prints the same verdicts.",
        "",
        "Below, per backend: the claim's measure over 1000 seeds of the replica of fit (min / median / max), and the",
        "probability that a healthy run of 1 seed / 5 seeds fails it (calibration/<backend>.md has the counts, bounds,",
        "tail fits and held-out seeds), then how many of the 24 seeds trained with real fit pass.",
        "",
    ]
    for backend, matrix in stored.items():
        first = next(iter(next(iter(matrix.values())).values()))
        lines.append(f"- {backend}: {len(matrix)} seeds ({min(matrix)}-{max(matrix)}), "
                     + ", ".join(f"{k} {v}" for k, v in sorted(first.versions.items())))
    lines += ["", "| claim | kind | rule | over | " + " | ".join(stored) + " |", "|---|---|---|---|" + "---|" * len(stored)]
    for claim in CLAIMS:
        cells = []
        for backend, matrix in stored.items():
            sp = spread(claim, matrix)
            if sp is None:
                cells.append("not calibrated")
                continue
            rate = rates.claim_rate(claim, matrix)
            real = spread(claim, fit[backend]) if backend in fit else None
            cells.append(f"{sp.low:.4g} / {sp.median:.4g} / {sp.high:.4g}; fails {_rate(rate.runs[1])} / "
                         f"{_rate(rate.runs[5])}" + (f"; fit {real.passing}/{real.seeds}" if real is not None else ""))
        lines.append(f"| `{claim.id}` | {claim.kind} | {claim.statement} {claim.op} {claim.threshold:g} | {claim.over} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Where each claim comes from in the question:", ""]
    for source in dict.fromkeys(c.source for c in CLAIMS):
        lines.append(f"- *{source}*: " + ", ".join(f"`{c.id}`" for c in CLAIMS if c.source == source))
    return "\n".join(lines) + "\n"


def calibrate(out: str | Path, seeds: Iterable[int] | None, report_only: bool, order: str = "owned", epochs: int = 10,
              log: Callable[[str], None] | None = None, jobs: int = 1, engine: str = "replica",
              holdout: bool = False) -> str:
    """Run (or, with `report_only`, reload) the calibration runs and write their table; returns the table."""
    from . import files, framework

    backend = framework.default_backend()
    out = Path(out)
    if not out.is_dir():
        raise InputError(f"calibration folder {str(out)!r} does not exist")
    if engine not in ENGINES:
        raise InputError(f"engine {engine!r} is invalid; allowed: {', '.join(ENGINES)}")
    if engine == "replica":
        return _calibrate_replica(out, backend, seeds, report_only, order, epochs, log, holdout)
    if holdout:
        raise InputError("--holdout runs the replica; it cannot be combined with --engine fit")
    seeds = range(FIT_SEEDS) if seeds is None else seeds
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
    files.write_text(out / (f"{backend}-fit-runs.md" if order == "owned" else f"{backend}-{order}-order.md"), text)
    return text


ENGINES = ("replica", "fit")
REPLICA_SEEDS = 1000
FIT_SEEDS = 24


HOLDOUT_SEEDS = range(2000, 3000)


def held_out(folder: str | Path, backend: str) -> list[Run] | None:
    """The held-out replica runs of `backend` (calibration/holdout-<backend>.npz), if stored."""
    from . import replica

    path = Path(folder) / f"holdout-{backend}.npz"
    return replica.load(path) if path.exists() else None


def _calibrate_replica(out: Path, backend: str, seeds: Iterable[int] | None, report_only: bool, order: str, epochs: int,
                       log: Callable[[str], None] | None, holdout: bool) -> str:
    from . import files, redraw, replica

    if order != "owned" or epochs != QUESTION_EXPERIMENT.epochs:
        raise InputError(f"the replica calibrates the question's experiment in normcheck's order; --order {order} "
                         f"--epochs {epochs} need --engine fit")
    if holdout and not report_only:
        target = out / f"holdout-{backend}.npz"
        files.check_writable(target)
        runs = replica.calibration_runs(list(HOLDOUT_SEEDS if seeds is None else seeds), list(VARIANTS),
                                        log=log or (lambda m: None))
        replica.save(runs, target)
        stored = out / f"runs-{backend}-replica.npz"
        if stored.exists():
            files.write_text(out / f"{backend}.md", rates_table(replica.load(stored), backend, replica.load(target)))
        text = compare_page(out)
        files.write_text(out / "compare.md", text)
        return text
    path = out / f"runs-{backend}-replica.npz"
    if report_only:
        if not path.exists():
            raise InputError(f"no stored runs at {str(path)!r}; run without --report first")
        runs = replica.load(path)
    else:
        files.check_writable(path)
        runs = replica.calibration_runs(list(range(REPLICA_SEEDS)) if seeds is None else list(seeds), list(VARIANTS),
                                        log=log or (lambda m: None))
        replica.save(runs, path)
        runs = replica.load(path)  # the tables come from the stored (float32) numbers, as --report reads them
    files.write_bytes(redraw.path(backend), redraw.condensed(runs))
    text = rates_table(runs, backend, held_out(out, backend))
    files.write_text(out / f"{backend}.md", text)
    if any(out.glob("holdout-*.npz")):
        files.write_text(out / "compare.md", compare_page(out))
    return text


GROUP = 5  # seeds per replayed comparison: a baseline's default
POWER_EPOCHS = (1, 5, 10)


def redraw_replays(held: dict[str, Matrix]) -> list[tuple[str, str, int, int]]:
    """(baseline backend, today's backend, flagged, replays) for every ordered pair of backends' held-out seeds.

    Within a backend, the first half of its groups of GROUP seeds against the second half; across two
    backends, group i of one against group i of the other (other seeds, other draws, another stack).
    """
    from . import baseline

    out = []
    for a in held:
        for b in held:
            ga, gb = disjoint_groups(held[a], GROUP), disjoint_groups(held[b], GROUP)
            if a == b:
                half = len(ga) // 2
                ga, gb = ga[:half], ga[half:2 * half]
            else:
                n = min(len(ga), len(gb))
                ga, gb = ga[:n], gb[:n]
            flagged, pairs = baseline.flagged_pairs(ga, gb, a, b)
            out.append((a, b, flagged, pairs))
    return out


def held_out_matrices(folder: str | Path) -> dict[str, Matrix]:
    from . import replica

    return {b: by_seed(replica.load(p)) for b, p in by_backend(folder, "holdout-", ".npz").items()}


def compare_page(folder: str | Path = "calibration") -> str:
    """calibration/compare.md: `baseline compare`'s false-alarm rate on held-out seeds, and what it can detect."""
    from . import baseline, rates, redraw

    held = held_out_matrices(folder)
    if not held:
        raise InputError(f"no held-out runs in {str(folder)!r}; run `python -m normcheck calibrate --holdout` first")
    lines = [
        "# `baseline compare`: false alarms and power",
        "",
        "<!-- generated by `python -m normcheck calibrate --report`; tests/docs checks it is current -->",
        f"Held-out seeds (never used to set a tolerance): {', '.join(f'{b} {min(m)}-{max(m)}' for b, m in held.items())}, "
        "run through the replica (`python -m normcheck calibrate --backend B --holdout`).",
        f"Each replay compares one group of {GROUP} seeds, as a baseline, with another disjoint group, as today: "
        f"a healthy stack whose initial weights were redrawn. A replay is flagged when any of its {baseline.CELLS} cells "
        f"({len(VARIANTS)} variants x {len(baseline.METRICS)} metrics x {QUESTION_EXPERIMENT.epochs} epochs) is beyond "
        "tolerance; the rule is in `normcheck/baseline.py`.",
        "",
        "| baseline on | today on | replays | flagged | rate | 95% upper bound |",
        "|---|---|---|---|---|---|",
    ]
    replayed = redraw_replays(held)
    total_flagged, total = sum(f for _, _, f, _ in replayed), sum(p for _, _, _, p in replayed)
    for a, b, flagged, pairs in replayed:
        lines.append(f"| {a} | {b} | {pairs} | {flagged} | {flagged / pairs:.2%} | {rates.upper_bound(flagged, pairs):.2%} |")
    lines.append(f"| all | | {total} | {total_flagged} | {total_flagged / total:.2%} | "
                 f"{rates.upper_bound(total_flagged, total):.2%} |")
    backends = tuple(sorted(b for b in held if redraw.cells(b) is not None))
    lines += [
        "",
        f"## What {GROUP} seeds can see (redrawn trajectories)",
        "",
        f"Per cell: the tolerance on the difference of medians with {GROUP} seeds on each side, the smallest shift of "
        "today's values that is flagged in 90% of healthy redraws, and how many seeds per side flag a shift of "
        f"0.01 (one point of accuracy) that often. Spread from the calibration of {' and '.join(backends)} "
        f"(the wider of the two). Epochs {', '.join(map(str, POWER_EPOCHS))} shown; "
        "under close trajectories (same initial weights) normalized-input variants are compared seed by seed "
        f"within {baseline.CLOSE['accuracy']:g} instead.",
        "",
        "| variant | metric | epoch | tolerance | detects (90%) | seeds for 0.01 |",
        "|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        for metric in baseline.METRICS:
            for epoch in POWER_EPOCHS:
                found = baseline.calibrated_tolerance(backends, variant, metric, epoch, GROUP)
                if found is None:
                    continue
                need = baseline.seeds_for_shift(backends, variant, metric, epoch, 0.01)
                lines.append(f"| {variant} | {metric} | {epoch} | {found[0]:.4f} | {found[1]:.4f} | "
                             f"{need if need is not None else f'> {redraw.SEED_COUNTS[-1]}'} |")
    return "\n".join(lines) + "\n"


README_START = "<!-- rates:start (generated by `python -m normcheck calibrate --readme README.md`) -->"
README_END = "<!-- rates:end -->"


def readme_summary(folder: str | Path = "calibration") -> str:
    """README's error-rate summary, from the stored calibration: what a healthy run and a healthy redraw cost."""
    from . import rates, replica
    from .claims import CLAIMS

    folder = Path(folder)
    lines = [README_START, "", "| backend | seeds | run of 1 seed fails some claim | run of 5 seeds | "
             "worst claim, run of 5 | held-out groups of 5 failing |", "|---|---|---|---|---|---|"]
    for backend, path in by_backend(folder, "runs-", "-replica.npz").items():
        matrix = by_seed(replica.load(path))
        found = [rates.claim_rate(c, matrix) for c in CLAIMS]
        worst = max(found, key=lambda r: r.runs[5])
        held = held_out(folder, backend)
        replay_text = "not stored"
        if held:
            failed, groups = rates.failing_groups(list(CLAIMS), by_seed(held), 5)
            replay_text = f"{failed}/{groups}"
        lines.append(f"| {backend} | {len(matrix)} | {_rate(sum(r.runs[1] for r in found))} | "
                     f"{_rate(sum(r.runs[5] for r in found))} | `{worst.claim}` {_rate(worst.runs[5])} | {replay_text} |")
    page = folder / "compare.md"
    total = next((line for line in page.read_text().splitlines() if line.startswith("| all |")), None) \
        if page.exists() else None
    if total is not None:
        cells = [c.strip() for c in total.strip("|").split("|")]
        lines += ["", f"`baseline compare` on healthy redraws (held-out seeds, groups of 5): {cells[3]} of {cells[2]} "
                  f"replays flagged ({cells[4]}, 95% upper bound {cells[5]}); per-cell power in "
                  "[calibration/compare.md](calibration/compare.md)."]
    lines += ["", README_END]
    return "\n".join(lines)


def write_readme_summary(readme: str | Path, folder: str | Path = "calibration") -> None:
    """Replace the block between README's rates markers with `readme_summary`."""
    from . import files

    files.replace_block(readme, README_START, README_END, lambda: readme_summary(folder))
