"""The Markdown pages calibration writes: every page is rendered from stored runs, so `--report` rebuilds it.

- `table`: calibration/<backend>-fit-runs.md (and -<order>-order.md), real fit's runs;
- `rates_table`: calibration/<backend>.md, the replica's spreads and failure rates (rates.py);
- `compare_page`: calibration/compare.md, baseline compare's false alarms and power (spread.py);
- `claims_page`: docs/claims.md, every claim over every backend;
- `readme_summary`: README's error-rate block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np

from .. import baseline, files, redraw
from ..carried import CLOSE, FIT_SEEDS_WORDS
from ..claims import CLAIMS
from ..constants import DEFAULT_SEEDS, FIT_SEEDS, ONE_SEED, seed_span
from ..errors import InputError
from ..experiment import QUESTION_EXPERIMENT
from ..run import Run, RunsBySeed, by_seed
from ..variants import VARIANTS
from . import agreement, ledger, rates, store
from .rates import claim_spread
from .spread import (
    GROUP,
    REPLAY_SIZES,
    Replay,
    close_replays,
    from_fit,
    held_fit_replays,
    ran_variants,
    redraw_replays,
    staged_redraw_replays,
    without,
)

POWER_EPOCHS = (1, 5, QUESTION_EXPERIMENT.epochs)  # the first, a middle and the last epoch


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


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n > 1 else ''}"


def _seed_range(matrix: RunsBySeed) -> range:
    return range(min(matrix), max(matrix) + 1)


def _span(matrix: RunsBySeed) -> str:
    return f"{min(matrix)}-{max(matrix)}"


def rates_table(runs: list[Run], backend: str, held_out: list[Run] | None = None,
                ranges: Sequence[ledger.SeedRange] = (), fit: list[Run] | None = None,
                held_fit: list[Run] | None = None) -> str:
    """Per claim: threshold, spread over the seeds, and its failing runs of each size users make, counted (rates.py).

    `held_out`: runs of a second set of seeds, on which every count is made again; `ranges` (ledger.py) says
    whether each set was seen while the rule was chosen; `fit`: real fit's runs, against which the replica is
    tested where trajectories are chaotic (agreement.py): where it is rejected, the claim's counts come from fit,
    on the second set from `held_fit` (real fit on held-out seeds) where that covers them.
    """
    matrix = by_seed(runs)
    held = by_seed(held_out) if held_out else {}
    first = runs[0]
    versions = {k: v for k, v in first.versions.items() if k != "engine"}
    found = rates.claim_rates(CLAIMS, matrix)[0]
    held_found = rates.claim_rates(CLAIMS, held)[0] if held else []
    sizes = rates.RUN_SIZES
    fit_matrix = by_seed(fit) if fit else {}
    not_engine = set(agreement.on_fit(fit_matrix, matrix)) if fit_matrix else set()
    lines = [
        f"# Calibration on {backend}: {len(matrix)} seeds through the replica of fit",
        "",
        f"{_label(ranges, matrix, backend).capitalize()}: every variant, the question's experiment ({first.epochs} epochs, "
        f"normcheck's batch order), each seed from the initial weights Keras draws on {backend}; "
        f"versions {versions}.",
        f"Regenerate: `python -m normcheck calibrate --backend {backend}` (`--report` rebuilds this page from "
        f"`calibration/{store.REPLICA_RUNS.path('', backend)}`).",
        "",
        "Every rate here is a count. The seeds are cut into disjoint groups of the sizes users run "
        f"({_seeds(ONE_SEED)}: `--seeds 1`, as the question ran; {_seeds(DEFAULT_SEEDS)}: every default run, the CLI's, the "
        "pytest plugin's and a baseline's), "
        "and each group is judged as one run, exactly as the CLI and the plugin judge it (a median claim on the "
        "group's median). Each count comes with the exact one-sided 95% upper bound on the rate behind it "
        "(Clopper-Pearson). Margin: the worst seed's distance from the threshold on the passing side."
        + (f" Second set: the same counts on {_label(ranges, held, backend)}." if held else "")
        + f" Rule version {ledger.rule_version()} (normcheck/calibration/ledger.py).",
        "",
        "| claim | rule | over | min | median | max | margin | "
        + " | ".join(f"runs of {n} failing | 95% upper" for n in sizes) + " |"
        + "".join(f" second set: runs of {n} |" for n in sizes if held),
        "|---|---|---|---|---|---|---|" + "---|---|" * len(sizes) + ("---|" * len(sizes) if held else ""),
    ]
    for i, claim in enumerate(CLAIMS):
        sp = claim_spread(claim, matrix)
        if sp is None:
            continue
        rate = found[i]
        mark = " (replica is not fit's engine here: see below)" if claim.id in not_engine else ""
        lines.append(f"| `{claim.id}`{mark} | {claim.op} {claim.threshold:g} | {claim.over} | {sp.low:.4g} | {sp.median:.4g} | "
                     f"{sp.high:.4g} | {sp.margin:+.4g} | "
                     + " | ".join(f"{rate.failing[n].failing}/{rate.failing[n].trials} | {rate.failing[n].upper:.1e}"
                                  for n in sizes)
                     + " |"
                     + "".join(f" {held_found[i].failing[n].failing}/{held_found[i].failing[n].trials} |"
                               for n in sizes if held))
    lines += ["", "Every claim together (a run fails when any claim fails):", ""]
    sets = [(f"{_role(ranges, matrix, backend)} seeds {_span(matrix)}", matrix)]
    if held:
        sets.append((f"{_role(ranges, held, backend)} seeds {_span(held)}", held))
    held_fit_matrix, held_label = counting_fit(fit_matrix, by_seed(held_fit) if held_fit else {}, not_engine, ranges,
                                               backend)
    for name, seeds in sets:
        on, label = (held_fit_matrix, held_label) if seeds is held else (fit_matrix, FIT_SEEDS_WORDS["development"])
        staged = ledger.stages(ranges, _seed_range(seeds), backend, "replica") if seeds is held else []
        for n, together in rates.run_rates(CLAIMS, seeds, on, sorted(not_engine), sizes, label, staged).items():
            lines.append(f"- a run of {_seeds(n)}, {name}: {together.text()} runs fail.")
    fits = [(f"real fit's {len(fit_matrix)} seeds ({_span(fit_matrix)})", fit_matrix)] if fit_matrix else []
    if held_fit_matrix and held_fit_matrix is not fit_matrix:
        fits.append((f"its {len(held_fit_matrix)} {_label(ranges, held_fit_matrix, backend, 'fit')}",
                     held_fit_matrix))
    for claim in (c for c in CLAIMS if c.id in not_engine):
        counted = []
        for name, matrix_fit in fits:
            per_seed = rates.claim_rates([claim], matrix_fit, (1,))[0][0].failing[1]
            counted.append(f"on {name}, {per_seed.text()} seeds fail it, which bounds a run of independent seeds by "
                           + "; ".join(f"{rates.run_bound(per_seed, claim, n):.1e} for {_seeds(n)}" for n in sizes))
        lines += ["", f"`{claim.id}`: the replica's values differ from real fit's in distribution "
                  f"(calibration/{store.AGREEMENT_PAGE}), so its replica counts do not stand for fit and are left out "
                  f"of the runs above. Counted on real fit instead, judged "
                  f"{'on each seed' if claim.over == 'each' else 'on the median'} (a run fails more often as seeds "
                  "do): " + "; ".join(counted) + ". The runs above add such a bound to their own (on the second set, "
                  "the held-out one where stored), each part at the level that keeps the sum a 95% bound."]
    return "\n".join(lines) + "\n"


def stored_rates_table(folder: str | Path, backend: str) -> str:
    """calibration/<backend>.md (`rates_table`) from every run of `backend` stored in `folder`."""
    return rates_table(store.load_replica_runs(store.REPLICA_RUNS.path(folder, backend)), backend,
                       store.held_out(folder, backend), ledger.recorded(folder), store.stored_fit(folder, backend),
                       store.held_out_fit(folder, backend))



def counting_fit(fit: RunsBySeed, held_fit: RunsBySeed, on_fit: Collection[str], ranges: Sequence[ledger.SeedRange],
                 backend: str) -> tuple[RunsBySeed, str]:
    """Real fit's seeds the claims `on_fit` are counted on, in words: the held-out ones where the ledger holds them
    out for today's rule and they hold every variant those claims read, else the calibration's."""
    needed = {v for c in CLAIMS if c.id in on_fit for v in c.variants}
    if (held_fit and needed and all(needed <= set(rs) for rs in held_fit.values())
            and ledger.role(list(ranges), range(min(held_fit), max(held_fit) + 1), backend, "fit") == "held out"):
        return held_fit, FIT_SEEDS_WORDS["held out"]
    return fit, FIT_SEEDS_WORDS["development"]


def _role(ranges: Sequence[ledger.SeedRange], matrix: RunsBySeed, backend: str) -> str:
    return ledger.role(list(ranges), range(min(matrix), max(matrix) + 1), backend, "replica")


def _label(ranges: Sequence[ledger.SeedRange], matrix: RunsBySeed, backend: str, engine: str = "replica") -> str:
    return ledger.label(list(ranges), range(min(matrix), max(matrix) + 1), backend, engine)


def _stored_by_backend(folder: str | Path) -> tuple[dict[str, RunsBySeed], dict[str, RunsBySeed]]:
    """Each backend's stored replica runs and real fit's runs (normcheck's order), by seed."""
    replica = {b: by_seed(store.load_replica_runs(p)) for b, p in store.REPLICA_RUNS.by_backend(folder).items()}
    fit = {b: by_seed(store.load_fit_runs(p)) for b, p in store.fit_runs(QUESTION_EXPERIMENT.order).by_backend(folder).items()}
    return replica, fit


def counted_runs(folder: str | Path, backend: str, seeds: RunsBySeed) -> dict[int, rates.RunRate]:
    """Failing runs among `seeds` of `backend`, each claim the replica does not stand for (tested on the stored
    calibration runs against real fit's, agreement.on_fit) counted on real fit's stored seeds instead: its held-out
    seeds where stored (`counting_fit`)."""
    fit = by_seed(store.stored_fit(folder, backend) or [])
    dev = store.REPLICA_RUNS.path(folder, backend)
    on_fit = agreement.on_fit(fit, by_seed(store.load_replica_runs(dev))) if fit and dev.exists() else []
    on, label = counting_fit(fit, by_seed(store.held_out_fit(folder, backend) or []), on_fit, ledger.recorded(folder),
                             backend)
    staged = ledger.stages(ledger.recorded(folder), _seed_range(seeds), backend, "replica")
    return rates.run_rates(CLAIMS, seeds, on, on_fit, fit_seeds=label, stages=staged)


def claims_page(folder: str | Path = "calibration") -> str:
    """docs/claims.md: every claim in the registry with its spread and failure rate over each backend's calibration."""
    stored, fit = _stored_by_backend(folder)
    lines = [
        "# Claims",
        "",
        "<!-- generated by `python -m normcheck calibrate --page docs/claims.md`; tests/docs checks it is current -->",
        "One registry, `normcheck/claims.py`: each claim has an id, the question's sentence it comes from, what it",
        "measures, its threshold, and whether it must hold for each seed run or for the median over them. pytest",
        "parametrizes by id (`pytest -k input_norm_learns`); the CLI prints the same verdicts.",
        "",
        f"Below, per backend: the claim's measure over the replica's calibration seeds (min / median / max), and "
        f"its failing runs of {_seeds(ONE_SEED)} and of {_seeds(DEFAULT_SEEDS)} among them, counted (calibration/<backend>.md",
        "has the exact bounds and a second set of seeds), then how many of the seeds trained with real fit pass.",
        "",
    ]
    for backend, matrix in stored.items():
        first = next(iter(next(iter(matrix.values())).values()))
        lines.append(f"- {backend}: {len(matrix)} seeds ({min(matrix)}-{max(matrix)}), "
                     + ", ".join(f"{k} {v}" for k, v in sorted(first.versions.items())))
    lines += ["", "| claim | kind | rule | over | " + " | ".join(stored) + " |", "|---|---|---|---|" + "---|" * len(stored)]
    counted = {b: rates.claim_rates(CLAIMS, matrix)[0] for b, matrix in stored.items()}
    for i, claim in enumerate(CLAIMS):
        cells = []
        for backend, matrix in stored.items():
            sp = claim_spread(claim, matrix)
            if sp is None:
                cells.append("not calibrated")
                continue
            failing = counted[backend][i].failing
            real = claim_spread(claim, fit[backend]) if backend in fit else None
            cells.append(f"{sp.low:.4g} / {sp.median:.4g} / {sp.high:.4g}; runs failing "
                         + " / ".join(f"{failing[n].failing}/{failing[n].trials}" for n in rates.RUN_SIZES)
                         + (f"; fit {real.passing}/{real.seed_count}" if real is not None else ""))
        lines.append(f"| `{claim.id}` | {claim.kind} | {claim.statement} {claim.op} {claim.threshold:g} | {claim.over} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Where each claim comes from in the question:", ""]
    for source in dict.fromkeys(c.source for c in CLAIMS):
        lines.append(f"- *{source}*: " + ", ".join(f"`{c.id}`" for c in CLAIMS if c.source == source))
    return "\n".join(lines) + "\n"


def compare_page(folder: str | Path = "calibration") -> str:
    """calibration/compare.md: `baseline compare`'s false-alarm rate on the second set of seeds, and what it can detect."""
    held = store.held_out_by_backend(folder)
    ranges = ledger.recorded(folder)
    if not held:
        raise InputError(f"no held-out runs in {str(folder)!r}; run `python -m normcheck calibrate --holdout` first")
    lines = [
        "# `baseline compare`: false alarms and power",
        "",
        "<!-- generated by `python -m normcheck calibrate --report`; tests/docs checks it is current -->",
        f"Replayed on {'; '.join(f'{b}: {_label(ranges, m, b)}' for b, m in held.items())}; "
        f"rule version {ledger.rule_version()}; run through the replica (`python -m normcheck calibrate --backend B --holdout`).",
        "Each replay compares one group of seeds, as a baseline, with another disjoint group of as many, as today: "
        f"a healthy stack whose initial weights were redrawn. A replay is flagged when any of its {baseline.question_cells()} cells "
        f"({len(VARIANTS)} variants x {len(baseline.METRICS)} metrics x {QUESTION_EXPERIMENT.epochs} epochs) is beyond "
        "tolerance; the rule is in `normcheck/baseline.py`. compare's rule is symmetric in its two sides, so each "
        "unordered pair of backends is one row; paired groups never share seeds. Replays within a row are independent "
        "(disjoint groups); rows share groups, so they are not added. Each count comes with the exact one-sided 95% "
        "upper bound on the rate behind it.",
        "",
        f"Per cell, the tolerance is `max({baseline.K:g} sd, q) + floor`: q, the 1 - {baseline.CELL_LEVEL:.1e} quantile (a "
        f"nominal level, from {redraw.TAIL_DRAWS} resampled draws) of the "
        f"calibrated null (ALPHA {baseline.ALPHA:g} over a family of {baseline.FAMILY} cells), is drawn for groups of up to "
        f"{baseline.TAIL_SEEDS // 2} seeds a side; {baseline.K:g} sd alone is a two-sided level of "
        f"{math.erfc(baseline.K / math.sqrt(2)):.1e} where the difference is normal, and is all that larger groups use.",
        "",
    ]
    replays = staged_redraw_replays(held, ledger.held_stages(ranges, held))
    lines += _replay_table(replays)
    left_out = {b: from_fit(b) for b in held if from_fit(b)}
    if left_out:
        lines += ["", "Left out of these replays: " + "; ".join(
            f"{', '.join(f'`{v}`' for v in vs)} wherever {b} takes part" for b, vs in left_out.items())
            + ". The replica does not stand for real fit there (replica-vs-fit.md), so compare's spread for them "
            "comes from real fit's seeds. Their false alarms are counted on real fit's held-out runs where those are "
            "stored (the section on real fit below); where none are, no count covers their cells."]
    lines += _staged_note([r.flagged for r in replays])
    above = [r for r in replays if r.flagged.upper > baseline.ALPHA]
    whole = (f" These rows leave out the variants named above, so for a comparison where {' or '.join(left_out)} "
             "takes part they bound only its other cells: the bound for the whole comparison adds real fit's count for "
             "the rest (joint, in carried-rates.json and on `baseline compare`'s last line)." if left_out else "")
    lines += ["", f"The target is a false-alarm rate of at most {baseline.ALPHA:.0%} per comparison, shown only where the "
              f"95% upper bound is below it: {len(replays) - len(above)} of {len(replays)} rows show it.{whole} Groups of "
              f"more than {max(REPLAY_SIZES)} seeds a side have no measured false-alarm rate here."]
    held_fit = store.held_out_fit_by_backend(folder)
    lines += _fit_and_close_sections(folder, held, held_fit)
    backends = tuple(sorted(b for b in held if redraw.cells(b) is not None))
    lines += [
        "",
        f"## What {GROUP} seeds can see (redrawn trajectories)",
        "",
        f"Per cell: the tolerance on the difference of medians with {GROUP} seeds on each side (spread from the "
        f"calibration of {' and '.join(backends)}, the wider of the two); then, measured on the held-out seeds, which "
        "did not set it: the smallest shift of today's values that is flagged in 90% of healthy redraws, and how "
        "many seeds per side flag a shift of 0.01 (one point of accuracy) that often (the larger over the "
        "backends; a variant whose spread comes from real fit is measured on real fit's held-out seeds, '-' where "
        f"there are none). Epochs {', '.join(map(str, POWER_EPOCHS))} shown; "
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
                columns = [_held_column(held_fit.get(b, {}) if variant in from_fit(b) else held[b], variant, metric,
                                        epoch) for b in backends]
                detects = _held_detects(columns, backends, variant, metric, epoch, GROUP)
                lines.append(f"| {variant} | {metric} | {epoch} | {found[0]:.4f} | "
                             f"{'-' if detects is None else f'{detects:.4f}'} | "
                             f"{_held_seeds_for(columns, backends, variant, metric, epoch, 0.01)} |")
    return "\n".join(lines) + "\n"


def _held_column(matrix: RunsBySeed, variant: str, metric: str, epoch: int) -> np.ndarray | None:
    values = [getattr(rs[variant], metric)[epoch - 1] for rs in matrix.values() if variant in rs]
    return np.array(values, dtype=np.float64) if values else None


def _held_detects(columns: list[np.ndarray | None], backends: tuple[str, ...], variant: str, metric: str, epoch: int,
                  n: int) -> float | None:
    """The smallest shift compare's tolerance for `n` seeds a side flags in 90% of redraws drawn from `columns`
    (held-out values, one per backend): the larger over the backends; None where a column is missing or too short."""
    found = baseline.calibrated_tolerance(backends, variant, metric, epoch, n)
    if found is None or any(c is None or c.size < 2 * n for c in columns):
        return None
    return max(redraw.detectable(redraw.null(c, n, n), found[0]) for c in columns if c is not None)


def _held_seeds_for(columns: list[np.ndarray | None], backends: tuple[str, ...], variant: str, metric: str, epoch: int,
                    shift: float) -> str:
    """The fewest seeds a side (of redraw.SEED_COUNTS) whose comparison flags `shift` in 90% of held-out redraws."""
    measured = None
    for n in redraw.SEED_COUNTS:
        detects = _held_detects(columns, backends, variant, metric, epoch, n)
        if detects is None:
            break
        measured = n
        if detects <= shift:
            return str(n)
    return "-" if measured is None else f"> {measured}"


def _close_fit_redraws(folder: str | Path, ranges: Sequence[ledger.SeedRange], close_fit: dict[str, RunsBySeed]
                       ) -> list[str]:
    """Real fit against real fit on held-out seeds: the `--close` runs (`close_fit`, by backend) redrawn, as the
    replica's held-out runs are."""
    replays = redraw_replays(close_fit, replica=False,
                             stages={b: _stages(ranges, m, b, store.CLOSE_FIT_ENGINE) for b, m in close_fit.items()})
    if not replays:
        return []
    sources = "; ".join(
        f"{b}, {_label(ranges, m, b, store.CLOSE_FIT_ENGINE)} (calibration/{store.CLOSE_FIT_RUNS.path(folder, b).name}"
        + "".join(f", without `{v}`" for v in VARIANTS if v not in ran_variants(m))
        + f": {_cells(ran_variants(m))} cells a replay)" for b, m in close_fit.items())
    across = (" and across backends, on the variants both ran (where the two sides share no seed, each group of the "
              "smaller side is paired, in order, with one of the other's)" if len(close_fit) > 1 else "")
    return ["", "## Real fit against real fit on held-out seeds (redrawn)", "",
            f"The same replays from the runs `calibrate --engine fit --close` stored, real fit against itself on each "
            f"backend{across}: {sources}. These are the runs the close-trajectory rows above compare with the replica: "
            "a seed that disturbs real fit can show in both counts, and rows here share groups, so no counts are added. "
            "What was counted on these seeds before these replays were made is recorded in "
            "calibration/seed-ranges.json. " + _target([r.flagged for r in replays]), "",
            *_replay_table(replays, lambda backend: f"{backend} real fit"),
            *_staged_note([r.flagged for r in replays], "no group straddles two stages, a replay counts in the later "
                          "stage of its two groups (each stage keeps the replays it had when it was counted)")]


def _replay_table(replays: Sequence[Replay], side: Callable[[str], str] = str) -> list[str]:
    """compare.md's table of healthy redraws: a row per group size and pair of sides, each side named by `side`."""
    lines = ["| seeds a side | baseline on | today on | replays | flagged | rate | 95% upper bound |",
             "|---|---|---|---|---|---|---|"]
    for r in replays:
        c = r.flagged
        lines.append(f"| {r.size} | {side(r.backend_a)} | {side(r.backend_b)} | {c.trials} | {_flagged(c)} | "
                     f"{c.failing / c.trials:.2%} | {c.upper:.2%} |")
    return lines


def _staged_note(counts: Sequence[rates.Count], pairing: str = "each stage's groups are paired within it") -> list[str]:
    """Why a table's counts come in stages, where any does."""
    if not any(len(c.stages) > 1 for c in counts):
        return []
    return ["", f"Counts in stages (first stage, then the next): the held-out range was continued after a count on its "
                f"first stage, so {pairing} and the bound is the exact staged one (rates.staged_upper_bound), not the "
                "pooled Clopper-Pearson bound."]


def _flagged(c: rates.Count) -> str:
    """A table's flagged cell: the count, and each stage's where it was counted in stages."""
    return f"{c.failing}" + (f" ({' then '.join(f'{f}/{n}' for f, n in c.stages)})" if len(c.stages) > 1 else "")


def _stages(ranges: Sequence[ledger.SeedRange], matrix: RunsBySeed, backend: str, engine: str) -> list[range]:
    return ledger.stages(ranges, range(min(matrix), max(matrix) + 1), backend, engine) if matrix else []


def _cells(variants: Collection[str]) -> int:
    return len(variants) * len(baseline.METRICS) * QUESTION_EXPERIMENT.epochs


def _target(counts: Sequence[rates.Count]) -> str:
    """Whether a section's counts meet compare's false-alarm target, so no reader takes another section's for them."""
    below = sum(c.upper <= baseline.ALPHA for c in counts if c.trials)
    return f"Rows whose 95% upper bound is at most the {baseline.ALPHA:.0%} target: {below} of {len(counts)}."


def _fit_and_close_sections(folder: str | Path, held_replica: dict[str, RunsBySeed],
                            held_fit: dict[str, RunsBySeed]) -> list[str]:
    """compare.md's replays beyond the replica's redraws: real fit against real fit (on the calibration seeds and
    on `held_fit`, by backend, against itself and `held_replica`), and the close regime."""
    replica, fit = _stored_by_backend(folder)
    lines = []
    fit_replays = redraw_replays(fit, replica=False) if fit else []
    spread_seeds = "; ".join(f"for {', '.join(f'`{v}`' for v in from_fit(b))} on {b} they are also the seeds compare's "
                             "spread comes from" for b in fit if from_fit(b))
    if fit_replays:
        lines += ["", "## Real fit against real fit (redrawn)", "",
                  f"The same replays from the seeds real `fit` trained (calibration/runs-<backend>-"
                  f"{QUESTION_EXPERIMENT.order}.jsonl), every variant: calibration seeds, seen while the rule "
                  f"was chosen (calibration/seed-ranges.json){'; ' + spread_seeds if spread_seeds else ''}. "
                  + _target([r.flagged for r in fit_replays]), "",
                  *_replay_table(fit_replays)]
    ranges = ledger.recorded(folder)
    for backend, held in held_fit.items():
        path = store.HOLDOUT_FIT_RUNS.path(folder, backend)
        variants = sorted(ran_variants(held), key=list(VARIANTS).index)
        replays = held_fit_replays(held_replica, {backend: held})
        lines += ["", f"## Real fit on held-out seeds, {backend}", "",
                  f"The same replays of the variants the replica does not stand for on {backend} "
                  f"({', '.join(f'`{v}`' for v in variants)}: {_cells(variants)} "
                  f"cells a replay), on {_label(ranges, held, backend, 'fit')} "
                  f"(calibration/{path.name}, `python -m normcheck calibrate --engine fit --holdout`): real fit "
                  f"against itself, and against another backend's held-out replica runs of these variants where the "
                  "replica stands for fit there. " + _target([r.flagged for r in replays]), "",
                  *_replay_table(replays, {b: f"{b} {'real fit' if b == backend else 'replica'}"
                                           for b in (*held_replica, backend)}.__getitem__)]
    close_fit = {b: by_seed(store.load_fit_runs(p)) for b, p in store.CLOSE_FIT_RUNS.by_backend(folder).items()}
    pairs = []
    engines = {}
    staged = {}
    for backend, matrix in replica.items():
        defaults = store.CLOSE_RUNS.path(folder, backend)
        left_out = from_fit(backend)
        if defaults.exists():
            name = f"{backend} replica, JAX's default XLA options"
            engines[name] = CLOSE
            again = without(by_seed(store.load_replica_runs(defaults)), left_out)
            for runs in (matrix, held_replica.get(backend, {})):
                if set(again) & set(runs):
                    pairs.append((name, again, f"{backend} replica", without(runs, left_out)))
        if backend in fit:
            engines[f"{backend} real fit"] = "fit"
            pairs.append((f"{backend} real fit", without(fit[backend], left_out), f"{backend} replica",
                          without(matrix, left_out)))
        if backend in close_fit and backend in held_replica:
            name = f"{backend} real fit (`--close`)"
            engines[name] = store.CLOSE_FIT_ENGINE
            staged[name] = _stages(ranges, close_fit[backend], backend, store.CLOSE_FIT_ENGINE)
            pairs.append((name, without(close_fit[backend], left_out), f"{backend} replica",
                          without(held_replica[backend], left_out)))
    close = close_replays(pairs, stages=staged)
    if close:
        lines += ["", "## Close trajectories: the same seeds with float-level differences", "",
                  "Each replay compares one group of seeds with the same seeds run again with float-level differences "
                  "(the same initial weights and batches): the replica compiled with and without normcheck's XLA "
                  "options (`calibrate --xla-defaults`), and real `fit` against the replica (on held-out seeds: "
                  "`calibrate --engine fit --close`). compare reads these as "
                  "the close regime; a replay it reads otherwise is counted apart (flagged of those). Seeds: held out "
                  "for today's rule, or development (seen while a rule was chosen), as calibration/seed-ranges.json "
                  "records them."
                  + "".join(f" On {b}, {', '.join(f'`{v}`' for v in from_fit(b))} is left out: the replica does not "
                            "stand for real fit there." for b in replica if from_fit(b))
                  + " " + _target([r.flagged for r in close]), "",
                  "| seeds a side | baseline | today | seeds | replays read as close | flagged | rate | 95% upper bound | "
                  "read otherwise (flagged) |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r.size} | {r.then} | {r.today} | "
                  f"{ledger.role(list(ranges), r.seeds, r.backend, engines[r.then])} "
                  f"{r.seeds.start}-{r.seeds.stop - 1} | {r.flagged.trials} | {_flagged(r.flagged)} | "
                  + (f"{r.flagged.failing / r.flagged.trials:.2%} | {r.flagged.upper:.2%}" if r.flagged.trials else "- | -")
                  + f" | {r.not_close.trials} ({r.not_close.failing}) |" for r in close]
        lines += _staged_note([r.flagged for r in close], "no group straddles two stages")
    return lines + _close_fit_redraws(folder, ranges, close_fit)


README_START = "<!-- rates:start (generated by `python -m normcheck calibrate --readme README.md`) -->"
README_END = "<!-- rates:end -->"


def readme_summary(folder: str | Path = "calibration") -> str:
    """README's error-rate block, from the stored calibration: how often a healthy run fails some claim, counted on
    each backend's second set of seeds (the held-out set, once one is stored), else on the calibration seeds."""
    folder = Path(folder)
    sizes = rates.RUN_SIZES
    ranges = ledger.recorded(folder)
    staged = False
    lines = [README_START, "",
             "| backend | seeds | " + " | ".join(f"runs of {_seeds(n)} failing some claim" for n in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    for backend, path in store.REPLICA_RUNS.by_backend(folder).items():
        held_runs = store.held_out(folder, backend)
        seeds = by_seed(held_runs) if held_runs else by_seed(store.load_replica_runs(path))
        together = counted_runs(folder, backend, seeds)
        staged = staged or any(len(together[n].replica.stages) > 1 for n in sizes)
        lines.append(f"| {backend} | {_role(ranges, seeds, backend)} {_span(seeds)} | "
                     + " | ".join(together[n].text(brief=True) for n in sizes) + " |")
    stages = (" A count in stages: each later range of held-out seeds was added after the earlier was counted, and its "
              "bound is adjusted for that look (calibration/&lt;backend&gt;.md)." if staged else "")
    lines += ["", "Disjoint groups of seeds, each judged as one run with every claim; exact 95% upper bounds; rule "
              f"{ledger.rule_version()}. Development seeds were seen while rules were chosen; held-out seeds were drawn "
              f"after the freeze (calibration/seed-ranges.json).{stages} compare's false alarms: "
              "[calibration/compare.md](calibration/compare.md).", "", README_END]
    return "\n".join(lines)


def write_readme_summary(readme: str | Path, folder: str | Path = "calibration") -> None:
    """Replace the block between README's rates markers with `readme_summary`."""
    files.replace_block(readme, README_START, README_END, lambda: readme_summary(folder))


def agreement_page(folder: str | Path = "calibration") -> str:
    """calibration/replica-vs-fit.md: where the replica stands for real fit in distribution, and how sure that is."""
    replica, fit = _stored_by_backend(folder)
    lines = [
        "# The replica against real fit, where trajectories are chaotic",
        "",
        "<!-- generated by `python -m normcheck calibrate --report`; tests/docs checks it is current -->",
        "On raw inputs (" + ", ".join(f"`{v}`" for v in agreement.CHAOTIC) + ") the replica does not follow fit seed by "
        "seed, so its counts stand for those claims only if the two agree in distribution. Per measure: a two-sample "
        "Kolmogorov-Smirnov test of the stored fit seeds against the replica's seeds, the two sharing no seed (a fit "
        "seed and the replica's same seed share weights and batches: where fit ran every seed the replica did, fit "
        "keeps the first half and the replica the second), at a family-wise level of "
        f"{agreement.LEVEL:g} per backend; and what that test could have seen with these sample sizes: the smallest shift (in the "
        "replica's standard deviations) and the smallest widening of the spread around the median that it catches in "
        f"{agreement.POWER:.0%} of draws ({agreement.SIMULATIONS} resamples of the replica's own values each; '-' where "
        "not even 4 sd or 6x is caught). Regenerate: `python -m normcheck calibrate --backend B --report`.",
    ]
    for backend in sorted(set(replica) & set(fit)):
        found, level = agreement.compare(fit[backend], replica[backend])
        rejected = [a.measure for a in found if a.rejected(level)]
        first = found[0]
        lines += [
            "",
            f"## {backend}: {first.fit_seeds} fit seeds against {first.replica_seeds} replica seeds",
            "",
            (f"Not rejected at {level:.1e} each, within the power below"
             + ("; no widening of the spread up to 6x is caught at these sizes" if all(a.widening is None for a in found)
                else "") + ". A two-sample test says little about tail rates; the fit column counts them.") if not rejected else (
             f"Disagree on {len(rejected)} measure(s) at {level:.1e} each: " + ", ".join(f"`{m}`" for m in rejected)
             + ". The replica is not the engine for these; their counts must come from real fit."),
            "",
            "| measure | fit median | replica median | p | detects a shift of (sd) | detects a widening of | "
            "fit seeds failing the claim |",
            "|---|---|---|---|---|---|---|",
        ]
        for a in found:
            lines.append(f"| `{a.measure}` | {a.fit_median:.4g} | {a.replica_median:.4g} | {a.p:.2g} | "
                         f"{'-' if a.shift is None else f'{a.shift:.2f}'} | "
                         f"{'-' if a.widening is None else f'{a.widening:.2f}x'} | "
                         f"{'' if a.fit_failing is None else a.fit_failing.text()} |")
    return "\n".join(lines) + "\n"
