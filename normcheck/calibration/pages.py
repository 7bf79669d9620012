"""The Markdown pages calibration writes: every page is rendered from stored runs, so `--report` rebuilds it.

- `table`: calibration/<backend>-fit-runs.md (and -<order>-order.md), real fit's runs;
- `rates_table`: calibration/<backend>.md, the replica's spreads and failure rates (rates.py);
- `compare_page`: calibration/compare.md, baseline compare's false alarms and power (spread.py);
- `claims_page`: docs/claims.md, every claim over every backend;
- `readme_summary`: README's error-rate block.
"""

from __future__ import annotations

from pathlib import Path

from .. import baseline, files, redraw
from ..claims import CLAIMS
from ..constants import CLI_SEEDS, DEFAULT_SEEDS, FIT_SEEDS, REPLICA_SEEDS, seed_span
from ..errors import InputError
from ..experiment import QUESTION_EXPERIMENT
from ..run import Run, by_seed
from ..variants import VARIANTS
from . import rates, store
from .rates import claim_spread
from .spread import GROUP, redraw_replays

POWER_EPOCHS = (1, 5, QUESTION_EXPERIMENT.epochs)  # the first, a middle and the last epoch


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n > 1 else ''}"


def table(runs: list[Run], backend: str) -> str:
    """Per claim: the threshold and the spread of its measure over the stored seeds."""
    matrix = by_seed(runs)
    lines = [
        f"# Calibration on {backend}",
        "",
        f"{len(matrix)} seeds ({min(matrix)}-{max(matrix)}), each variant trained with the question's experiment "
        f"({runs[0].epochs} epochs, batch order: {runs[0].order}). Versions: {runs[0].versions}.",
        "Margin = how far the worst seed is from the threshold, on the passing side.",
        f"Regenerate: `python -m normcheck calibrate --engine fit --backend {backend} --seeds {seed_span(FIT_SEEDS)}"
        + ("" if runs[0].order == "owned" else f" --order {runs[0].order}") + "` "
        "(or `--report` to rebuild this table from the stored runs).",
        "",
        "| claim | rule | min | median | max | margin | seeds passing |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        sp = claim_spread(claim, matrix)
        if sp is None:
            continue
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {sp.low:.4g} | {sp.median:.4g} | "
                     f"{sp.high:.4g} | {sp.margin:+.4g} | {sp.passing}/{sp.seed_count} |")
    return "\n".join(lines) + "\n"


def rates_table(runs: list[Run], backend: str, held_out: list[Run] | None = None) -> str:
    """Per claim: threshold, spread over the seeds and how often it fails on a healthy stack (rates.py).

    `held_out`: runs of other seeds, never looked at to state a claim, on which each claim is counted again.
    """
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
        f"`calibration/{store.REPLICA_RUNS.path('', backend)}`).",
        "",
        "Margin: the worst seed's distance from the threshold on the passing side. Failing: seeds whose value fails "
        "the rule. Per seed: the 95% upper bound from the count, and the estimate (the count where seeds fail, else a "
        "generalized Pareto fit to the 10% of margins nearest the threshold). Per run: the probability that a run of "
        f"{_seeds(CLI_SEEDS)} (the CLI's default) or {_seeds(DEFAULT_SEEDS)} (the pytest plugin's and a baseline's) fails the "
        "claim, from the estimate; "
        "a median claim fails a run when at least half its seeds do. An estimate of 0 means the fitted tail ends before "
        "the threshold (or the measure is constant there); the count's bound is the figure free of the fit's assumptions."
        + (f" Held out: failing seeds among {min(held)}-{max(held)}, never looked at when a claim was stated." if held else ""),
        "",
        "| claim | rule | over | min | median | max | margin | failing | per seed: 95% upper | per seed: estimate "
        f"| run of {CLI_SEEDS} | run of {DEFAULT_SEEDS} |" + (" held out: failing |" if held else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if held else ""),
    ]
    found = []
    for claim in CLAIMS:
        sp = claim_spread(claim, matrix)
        if sp is None:
            continue
        rate = rates.claim_rate(claim, matrix)
        found.append((claim, rate))
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {claim.over} | {sp.low:.4g} | {sp.median:.4g} | "
                     f"{sp.high:.4g} | {sp.margin:+.4g} | {rate.failing}/{rate.seed_count} | {rate.upper:.1e} | "
                     f"{_rate(rate.estimate)} | {_rate(rate.fails_per_run[CLI_SEEDS])} | "
                     f"{_rate(rate.fails_per_run[DEFAULT_SEEDS])} |"
                     + (f" {rates.claim_rate(claim, held).failing}/{len(held)} |" if held else ""))
    claims = [c for c, _ in found]
    lines.append("")
    for n in rates.RUN_SEEDS:
        total = sum(r.fails_per_run[n] for _, r in found)
        lines.append(f"- Every claim together, a run of {_seeds(n)}: at most {_rate(total)} "
                     "(the sum of the per-claim estimates).")
    for name, seeds in (("calibration", matrix), ("held-out", held)):
        if seeds:
            failed, groups = rates.failing_groups(claims, seeds, GROUP)
            lines.append(f"- Replay on the {name} seeds: {groups} disjoint groups of {GROUP}, each checked as one run with "
                         f"every claim: {failed} fail (95% upper bound {rates.upper_bound(failed, groups):.1e}).")
    return "\n".join(lines) + "\n"


def _rate(p: float) -> str:
    return "0" if p == 0 else f"{p:.1e}"


def claims_page(folder: str | Path = "calibration") -> str:
    """docs/claims.md: every claim in the registry with its spread and failure rate over each backend's calibration."""
    stored = {b: by_seed(store.load_replica_runs(p)) for b, p in store.REPLICA_RUNS.by_backend(folder).items()}
    fit = {b: by_seed(store.load_fit_runs(p)) for b, p in store.fit_runs(QUESTION_EXPERIMENT.order).by_backend(folder).items()}
    lines = [
        "# Claims",
        "",
        "<!-- generated by `python -m normcheck calibrate --page docs/claims.md`; tests/docs checks it is current -->",
        "One registry, `normcheck/claims.py`: each claim has an id, the question's sentence it comes from, what it",
        "measures, its threshold, and whether it must hold for each seed run or for the median over them. pytest",
        "parametrizes by id (`pytest -k input_norm_learns`); the CLI prints the same verdicts.",
        "",
        f"Below, per backend: the claim's measure over {len(REPLICA_SEEDS)} seeds of the replica of fit (min / median / max), "
        "and the",
        f"probability that a healthy run of {_seeds(CLI_SEEDS)} / {_seeds(DEFAULT_SEEDS)} fails it (calibration/<backend>.md "
        "has the counts, bounds,",
        f"tail fits and held-out seeds), then how many of the {len(FIT_SEEDS)} seeds trained with real fit pass.",
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
            sp = claim_spread(claim, matrix)
            if sp is None:
                cells.append("not calibrated")
                continue
            rate = rates.claim_rate(claim, matrix)
            real = claim_spread(claim, fit[backend]) if backend in fit else None
            cells.append(f"{sp.low:.4g} / {sp.median:.4g} / {sp.high:.4g}; fails {_rate(rate.fails_per_run[CLI_SEEDS])} / "
                         f"{_rate(rate.fails_per_run[DEFAULT_SEEDS])}"
                         + (f"; fit {real.passing}/{real.seed_count}" if real is not None else ""))
        lines.append(f"| `{claim.id}` | {claim.kind} | {claim.statement} {claim.op} {claim.threshold:g} | {claim.over} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Where each claim comes from in the question:", ""]
    for source in dict.fromkeys(c.source for c in CLAIMS):
        lines.append(f"- *{source}*: " + ", ".join(f"`{c.id}`" for c in CLAIMS if c.source == source))
    return "\n".join(lines) + "\n"


def compare_page(folder: str | Path = "calibration") -> str:
    """calibration/compare.md: `baseline compare`'s false-alarm rate on held-out seeds, and what it can detect."""
    held = store.held_out_by_backend(folder)
    if not held:
        raise InputError(f"no held-out runs in {str(folder)!r}; run `python -m normcheck calibrate --holdout` first")
    lines = [
        "# `baseline compare`: false alarms and power",
        "",
        "<!-- generated by `python -m normcheck calibrate --report`; tests/docs checks it is current -->",
        f"Held-out seeds (never used to set a tolerance): {', '.join(f'{b} {min(m)}-{max(m)}' for b, m in held.items())}, "
        "run through the replica (`python -m normcheck calibrate --backend B --holdout`).",
        f"Each replay compares one group of {GROUP} seeds, as a baseline, with another disjoint group, as today: "
        f"a healthy stack whose initial weights were redrawn. A replay is flagged when any of its {baseline.question_cells()} cells "
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
    folder = Path(folder)
    one, five = CLI_SEEDS, DEFAULT_SEEDS
    lines = [README_START, "", f"| backend | seeds | run of {_seeds(one)} fails some claim | run of {_seeds(five)} | "
             f"worst claim, run of {five} | held-out groups of {GROUP} failing |", "|---|---|---|---|---|---|"]
    for backend, path in store.REPLICA_RUNS.by_backend(folder).items():
        matrix = by_seed(store.load_replica_runs(path))
        found = [rates.claim_rate(c, matrix) for c in CLAIMS]
        worst = max(found, key=lambda r: r.fails_per_run[five])
        held = store.held_out(folder, backend)
        replay_text = "not stored"
        if held:
            failed, groups = rates.failing_groups(list(CLAIMS), by_seed(held), GROUP)
            replay_text = f"{failed}/{groups}"
        lines.append(f"| {backend} | {len(matrix)} | {_rate(sum(r.fails_per_run[one] for r in found))} | "
                     f"{_rate(sum(r.fails_per_run[five] for r in found))} | `{worst.claim}` "
                     f"{_rate(worst.fails_per_run[five])} | {replay_text} |")
    page = folder / store.COMPARE_PAGE
    total = next((line for line in page.read_text().splitlines() if line.startswith("| all |")), None) \
        if page.exists() else None
    if total is not None:
        cells = [c.strip() for c in total.strip("|").split("|")]
        lines += ["", f"`baseline compare` on healthy redraws (held-out seeds, groups of {GROUP}): {cells[3]} of {cells[2]} "
                  f"replays flagged ({cells[4]}, 95% upper bound {cells[5]}); per-cell power in "
                  "[calibration/compare.md](calibration/compare.md)."]
    lines += ["", README_END]
    return "\n".join(lines)


def write_readme_summary(readme: str | Path, folder: str | Path = "calibration") -> None:
    """Replace the block between README's rates markers with `readme_summary`."""
    files.replace_block(readme, README_START, README_END, lambda: readme_summary(folder))
