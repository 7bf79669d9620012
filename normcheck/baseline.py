"""Record runs on one framework version; compare another version's runs against them.

Three regimes, told apart by the numbers themselves:
- identical: every number equals the baseline's (same stack, same seeds);
- close: each seed starts from the same initial weights (its before-training
  diagnostics agree to 1e-4) and only float-level differences separate the
  stacks. Variants with normalized input follow their trajectory, so they are
  compared seed by seed within CLOSE; raw-input variants are chaotic in float32
  and are compared as in the next regime;
- redrawn: other initial weights, so today's seeds are fresh draws. Per (variant,
  metric, epoch), the medians over the seeds may differ by at most
  max(K * sd, q) + FLOORS[metric]: sd is the spread of that difference between two
  disjoint sets of as many seeds from the replica calibration (redraw.py), q its
  1 - CELL_LEVEL quantile over 100000 such draws, drawn for groups of up to
  TAIL_SEEDS / 2 seeds a side. K sd alone is a far stricter level than CELL_LEVEL
  where the difference is normal; q covers cells that are not normal (a model at
  chance reads exactly 0.5 in most seeds and blips in a few). calibration/compare.md
  states both levels. docs/upgrades.md says how the rule
  was chosen; calibration/compare.md has its false-alarm rate and power.
The baseline also records what fit's own order does (fitorder.properties):
a changed property fails the comparison, a merely different order is reported.
"""

from __future__ import annotations

import datetime as _dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import files, redraw, seeds
from .claims import Verdict, check_all
from .errors import InputError, shown
from .experiment import QUESTION_EXPERIMENT, Experiment
from .fitorder import CASES, PROPERTIES, properties
from .framework import BACKENDS
from .redraw import METRICS
from .run import Run, RunsBySeed, by_seed
from .variants import VARIANTS, get_variant

SCHEMA = "normcheck.baseline/2"
READABLE = ("normcheck.baseline/1", SCHEMA)
K = 4.5
ALPHA = 0.01  # the false-alarm rate aimed at for a whole comparison
FAMILY = 150  # cells ALPHA is split over (Bonferroni): fixed, not counted, so no tolerance moves when a variant,
# metric or epoch is added. 150 = the question's comparison when the rule was chosen (5 variants x 3 metrics x 10
# epochs, `question_cells()`); a comparison of more cells than FAMILY runs above ALPHA as a whole. Changing FAMILY
# moves every redrawn tolerance, calibration/compare.md and README's rate block: regenerate them (docs/development.md).
CELL_LEVEL = ALPHA / FAMILY  # the per-cell false-alarm level
TAIL_SEEDS = 40  # up to this many seeds in the two groups together (the group sizes compare is replayed for), the far
# quantile is drawn as well; beyond, medians of many seeds are close to normal and K sd alone is used
FLOORS = {"loss": 1e-3, "accuracy": 1e-3, "eval_accuracy": 1e-3}
CLOSE = {"loss": 1e-3, "accuracy": 1e-3, "eval_accuracy": 1e-3}  # per seed: 25 of 25000 samples
SAME_DRAWS = 1e-4  # relative: before-training diagnostics this close mean the same initial weights
DRAW_KEYS = ("eval_loss", "grad_norm", "saturation")


@dataclass(frozen=True)
class Baseline:
    versions: dict[str, str]  # the recording stack (framework.versions()); "fingerprint" in the file
    experiment: Experiment
    seeds: list[int]
    runs: list[Run]
    created: str
    fit_order: dict[str, Any] | None = None

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(r.variant for r in self.runs))

    def matrix(self) -> dict[int, dict[str, Run]]:
        return by_seed(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "fingerprint": self.versions, "experiment": self.experiment.to_dict(),
                "seeds": self.seeds, "created": self.created, "fit_order": self.fit_order,
                "runs": [r.to_dict() for r in self.runs]}


def make(runs: Sequence[Run], experiment: Experiment, seeds: Sequence[int], versions: dict[str, str],
         fit_order: dict[str, Any] | None = None) -> Baseline:
    """A baseline; `fit_order` is what `fitorder.read_orders_in_fresh_process` read on this stack."""
    return Baseline(dict(versions), experiment, list(seeds), list(runs), _dt.datetime.now(_dt.timezone.utc).isoformat(),
                    fit_order)


def save(baseline: Baseline, path: str | Path, force: bool = False) -> None:
    files.check_writable(path, force=force)
    files.write_json(path, baseline.to_dict())


def load(path: str | Path) -> Baseline:
    """Read and validate a baseline file before any training; every problem is one InputError naming the file and place."""
    path = Path(path)
    where = f"baseline {str(path)!r}"
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{where} does not exist; record one with `python -m normcheck baseline record {path}`")
    data = files.read_json(path, "baseline")
    if not isinstance(data, dict) or data.get("schema") not in READABLE:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{where} has schema {got!r}; expected {SCHEMA!r}")
    for field_name in ("experiment", "seeds", "runs", "fingerprint"):
        if field_name not in data:
            raise InputError(f"{where} lacks the field {field_name!r}")
    try:
        experiment = Experiment.from_dict(data["experiment"])
    except InputError as exc:
        raise InputError(f"{where} is malformed: {exc}") from None
    listed = data["seeds"]
    if not isinstance(listed, list) or not listed:
        raise InputError(f"{where}: seeds is {listed!r}; allowed: a non-empty list of distinct seeds")
    for i, s in enumerate(listed):
        try:
            seeds.check(s)
        except InputError:
            raise InputError(f"{where}: seeds[{i}] is {s!r}; allowed: an integer from 0 to 2**32 - 1") from None
    if len(set(listed)) != len(listed):
        raise InputError(f"{where}: seeds {listed!r} repeat a seed; allowed: distinct seeds")
    if not isinstance(data["runs"], list) or not data["runs"]:
        raise InputError(f"{where} holds no runs")
    runs = [Run.from_dict(r, f"{where}: runs[{i}]") for i, r in enumerate(data["runs"])]
    fingerprint = data["fingerprint"]
    if not isinstance(fingerprint, dict) or not all(isinstance(v, str) for v in fingerprint.values()):
        raise InputError(f"{where}: fingerprint is {shown(fingerprint)}; allowed: an object of names to version strings")
    if "backend" in fingerprint and fingerprint["backend"] not in BACKENDS:
        raise InputError(f"{where}: fingerprint.backend is {shown(fingerprint['backend'])}; allowed: "
                         f"{', '.join(BACKENDS)}")
    seen: set[tuple[int, str]] = set()
    for i, r in enumerate(runs):
        if r.experiment != experiment or r.seed not in listed:
            raise InputError(f"{where} is inconsistent: runs[{i}] ({r.variant}, seed {r.seed}) does not match the "
                             "baseline's experiment and seeds")
        if (r.seed, r.variant) in seen:
            raise InputError(f"{where}: runs[{i}] repeats {r.variant} for seed {r.seed}")
        seen.add((r.seed, r.variant))
    variants = list(dict.fromkeys(r.variant for r in runs))
    lacking = [(s, v) for s in listed for v in variants if (s, v) not in seen]
    if lacking:
        raise InputError(f"{where}: seed {lacking[0][0]} has no run of {lacking[0][1]}; allowed: every seed with a run "
                         "of every variant")
    fit_order = data.get("fit_order")
    if fit_order is not None:
        _check_fit_order(fit_order, where)
    return Baseline(dict(fingerprint), experiment, list(listed), runs, str(data.get("created", "?")), fit_order)


def _check_fit_order(fit_order: Any, where: str) -> None:
    """What `python -m normcheck.fitorder` prints: each case a list of epochs, each epoch an order of the same samples."""
    allowed = "null or what `python -m normcheck.fitorder` prints (per case, epochs that each order the samples 0..n-1)"
    if not isinstance(fit_order, dict):
        raise InputError(f"{where}: fit_order is {shown(fit_order)}; allowed: {allowed}")
    size = None
    for key in CASES:
        epochs = fit_order.get(key)
        if not isinstance(epochs, list) or len(epochs) < 2:
            raise InputError(f"{where}: fit_order.{key} is {shown(epochs)}; allowed: {allowed}, at least 2 epochs")
        for e, order in enumerate(epochs):
            if not isinstance(order, list) or not order or not all(type(i) is int for i in order) \
                    or sorted(order) != list(range(len(order))) or (size is not None and len(order) != size):
                raise InputError(f"{where}: fit_order.{key}[{e}] is {shown(order)}; allowed: {allowed}")
            size = len(order)


@dataclass(frozen=True)
class Cell:
    """One compared (variant, metric, epoch) cell, moved or not: baseline and today, by the rule its regime uses."""

    variant: str
    metric: str
    epoch: int
    baseline: float
    today: float
    tolerance: float
    identical: bool
    rule: str = "median"  # "median" over seeds, or "seed" by seed (then baseline/today are the worst seed's)
    detectable: float | None = None  # smallest shift of the median these seeds catch in 90% of redraws

    @property
    def diff(self) -> float:
        return self.today - self.baseline

    @property
    def ok(self) -> bool:
        """Within tolerance; a non-finite value today (a diverged framework) is a move, never a wider tolerance."""
        return math.isfinite(self.today) and abs(self.diff) <= self.tolerance


@dataclass(frozen=True)
class Comparison:
    """`baseline compare`'s result; its JSON form (`to_dict`) keeps the keys it has always had."""

    versions_then: dict[str, str]  # "fingerprint_then" in JSON
    versions_now: dict[str, str]  # "fingerprint_now" in JSON
    cells: list[Cell]  # every compared cell, moved or not ("moves" in JSON)
    verdicts: list[Verdict]
    regime: str = "redrawn"
    spread_source: str = "calibration"  # where the redrawn tolerances' spread comes from, in words ("spread" in JSON)
    fit_order_changes: list[str] = field(default_factory=list)  # what changed in fit's own order, in words ("fit_order")
    fit_order_notes: list[str] = field(default_factory=list)  # what differs but is no failure

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.cells) and all(v.holds for v in self.verdicts) and not self.fit_order_changes

    @property
    def identical(self) -> bool:
        return all(m.identical for m in self.cells)

    @property
    def summary(self) -> str:
        """One phrase for a table cell: identical, within tolerance, or what moved."""
        moved = sum(not m.ok for m in self.cells)
        failed = sum(not v.holds for v in self.verdicts)
        if not moved and not failed and not self.fit_order_changes:
            return "identical" if self.identical else f"within tolerance ({self.regime})"
        return ", ".join(part for part in (f"{moved} cells moved" if moved else "",
                                           f"{failed} claims fail" if failed else "",
                                           "fit's order changed" if self.fit_order_changes else "") if part)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "identical": self.identical, "summary": self.summary, "regime": self.regime,
                "spread": self.spread_source, "fit_order": self.fit_order_changes, "fit_order_notes": self.fit_order_notes,
                "fingerprint_then": self.versions_then, "fingerprint_now": self.versions_now,
                "moves": [asdict(m) for m in self.cells], "verdicts": [v.to_dict() for v in self.verdicts]}

    @property
    def version_changes(self) -> str:
        """"keras 3.15.1 -> 3.16.0, ..." for every version entry that differs, or "unchanged"."""
        changed = sorted(k for k in set(self.versions_then) | set(self.versions_now)
                         if self.versions_then.get(k) != self.versions_now.get(k))
        return ", ".join(f"{k} {self.versions_then.get(k, 'absent')} -> {self.versions_now.get(k, 'absent')}"
                         for k in changed) or "unchanged"

    @property
    def regime_text(self) -> str:
        return {"identical": "identical: every number equals the baseline's",
                "close": "close: the same initial weights; normalized-input variants compared seed by seed, "
                         "raw-input ones (chaotic in float32) by their medians",
                "redrawn": "redrawn: other initial weights; every cell compared by its median over the seeds, "
                           f"against the spread of {self.spread_source}"}[self.regime]

    def _ranked(self, top: int) -> list[Cell]:
        return sorted(self.cells, key=lambda m: -abs(m.diff) / m.tolerance if math.isfinite(m.diff) else -math.inf)[:top]

    def _claims_line(self, fails: str) -> str:
        if not self.verdicts:
            return "claims: not checked (they are calibrated for the question's experiment, not the baseline's)"
        failing = [v.claim for v in self.verdicts if not v.holds]
        return "claims: " + (", ".join(f"{c} {fails}" for c in failing) if failing else f"all {len(self.verdicts)} hold")

    def _fit_order_lines(self) -> list[str]:
        return [f"fit's order CHANGED: {t}" for t in self.fit_order_changes] + [f"fit's order: {t}" for t in self.fit_order_notes]

    def markdown(self, top: int = 15) -> str:
        """The comparison for a CI summary: what changed in the stack, what moved beyond tolerance, the claims."""
        bad = [m for m in self.cells if not m.ok]
        lines = [f"### normcheck baseline compare: {self.summary}", "", f"Versions: {self.version_changes}.",
                 f"Regime: {self.regime_text}.",
                 f"{len(self.cells)} cells compared, {len(bad)} beyond tolerance.", ""]
        if bad:
            lines += ["| variant | metric | epoch | rule | baseline | today | diff | tolerance |",
                      "|---|---|---|---|---|---|---|---|"]
            for m in self._ranked(top):
                if not m.ok:
                    lines.append(f"| {m.variant} | {m.metric} | {m.epoch} | {m.rule} | {m.baseline:.4f} | {m.today:.4f} | "
                                 f"{m.diff:+.4f} | {m.tolerance:.4f} |")
            lines.append("")
        lines += [f"- {t}" for t in self._fit_order_lines()]
        lines.append(self._claims_line("fails").replace("claims: ", "Claims: ", 1))
        return "\n".join(lines) + "\n"

    def table(self, top: int = 15) -> str:
        lines = [f"versions: {self.version_changes}", f"regime: {self.regime_text}"]
        bad = [m for m in self.cells if not m.ok]
        lines.append(f"per-epoch metrics: {len(self.cells)} compared, {len(bad)} beyond tolerance, "
                     f"{'all identical to the baseline' if self.identical else 'not identical'}")
        if self.cells and not self.identical:
            lines.append(f"{'variant':<30} {'metric':<14} {'epoch':>5} {'rule':>6} {'baseline':>9} {'today':>9} {'diff':>9} "
                         f"{'tolerance':>9} {'detects':>8}")
            for m in self._ranked(top):
                detects = "" if m.detectable is None else f"{m.detectable:8.4f}"
                lines.append(f"{m.variant:<30} {m.metric:<14} {m.epoch:>5} {m.rule:>6} {m.baseline:9.4f} {m.today:9.4f} "
                             f"{m.diff:+9.4f} {m.tolerance:9.4f} {detects:>8}{'  MOVED' if not m.ok else ''}")
            lines.append("detects: the smallest shift of that median these seeds catch in 90% of healthy redraws")
        lines += self._fit_order_lines()
        lines.append(self._claims_line("FAILS"))
        return "\n".join(lines)


def question_cells() -> int:
    """The cells a comparison of the question's experiment has: every variant x compared metric x epoch."""
    return len(VARIANTS) * len(METRICS) * QUESTION_EXPERIMENT.epochs


def own_spread_tolerance(values: Sequence[float]) -> float:
    """Where no calibration covers the experiment: the baseline's own robust spread, as before issue 12."""
    med = statistics.median(values)
    sd = 1.4826 * statistics.median(abs(v - med) for v in values)
    return K * 1.25 * sd * math.sqrt(2 / len(values)) + max(FLOORS.values())


def regime_of(baseline: Baseline, today: RunsBySeed) -> str:
    """identical, close (same initial weights per seed) or redrawn; see the module docstring."""
    then = baseline.matrix()
    pairs = [(then[s][v], today[s][v]) for s in baseline.seeds for v in then[s]]
    if all(a.loss == b.loss and a.accuracy == b.accuracy and a.eval_accuracy == b.eval_accuracy for a, b in pairs):
        return "identical"
    for a, b in pairs:
        if not a.diagnostics or not b.diagnostics:
            return "redrawn"
        for key in DRAW_KEYS:
            x, y = a.diagnostics[0].get(key), b.diagnostics[0].get(key)
            if x is None or y is None or not math.isclose(x, y, rel_tol=SAME_DRAWS, abs_tol=1e-12):
                return "redrawn"
    return "close"


@lru_cache(maxsize=4096)
def calibrated_tolerance(backends: tuple[str, ...], variant: str, metric: str, epoch: int, seed_count: int
                         ) -> tuple[float, float, str] | None:
    """(tolerance, smallest shift detected, where the spread comes from) for one cell of the question's experiment.

    The spread is the widest of the backends' (two stacks may each be healthy); None where none is calibrated.
    """
    found = [(b, spread) for b in backends if (spread := _cell_spread(b, variant, metric, epoch, seed_count)) is not None]
    if not found:
        return None
    used = [b for b, _ in found]
    nulls = [null for _, (null, _) in found]
    tails = [tail for _, (_, tail) in found if tail is not None]
    tol = max([K * max(float(np.std(n)) for n in nulls), *tails]) + FLOORS[metric]
    return tol, max(redraw.detectable(n, tol) for n in nulls), _calibration_words(used)


def forget_spreads() -> None:
    """Drop what this process read from the shipped spreads: after `calibrate --promote` replaced one."""
    redraw.cells.cache_clear()
    calibrated_tolerance.cache_clear()
    _cell_spread.cache_clear()


def _calibration_words(backends: Sequence[str]) -> str:
    """'the 1000-seed calibration on jax and tensorflow': the seed counts as read from the spread files."""
    cells = {b: c for b in backends if (c := redraw.cells(b)) is not None}
    counts = {b: c.seeds for b, c in cells.items()}
    fit = "".join(f"; {b}'s {', '.join(c.from_fit)} from real fit's seeds" for b, c in cells.items() if c.from_fit)
    if len(set(counts.values())) == 1:
        return f"the {next(iter(counts.values()))}-seed calibration on " + " and ".join(counts) + fit
    return "the calibrations on " + " and ".join(f"{b} ({n} seeds)" for b, n in counts.items()) + fit


def spread_backends(baseline: Baseline, versions_now: dict[str, str]) -> tuple[str, ...]:
    """The backends whose shipped spread a comparison of `baseline` with today's stack may read."""
    return tuple(sorted({b for b in (baseline.versions.get("backend"), versions_now.get("backend")) if b}))


def check_spread(baseline: Baseline, versions_now: dict[str, str]) -> None:
    """Before any training: every spread file the comparison may read is read and checked (redraw.read), so a
    missing-seed or malformed file is one InputError now rather than NaN tolerances after training."""
    if baseline.experiment == QUESTION_EXPERIMENT:
        for backend in spread_backends(baseline, versions_now):
            redraw.cells(backend)


@lru_cache(maxsize=4096)
def _cell_spread(backend: str, variant: str, metric: str, epoch: int, seed_count: int) -> tuple[np.ndarray, float | None] | None:
    """One backend's null for a cell (redraw.DRAWS draws) and, for small groups, its far quantile: drawn once per
    backend, whichever pair of backends a comparison involves."""
    c = redraw.cells(backend)
    column = c.column(variant, metric, epoch) if c is not None else None
    if column is None:
        return None
    tail = (float(np.quantile(np.abs(redraw.null(column, seed_count, seed_count, redraw.TAIL_DRAWS)), 1 - CELL_LEVEL))
            if 2 * seed_count <= TAIL_SEEDS else None)
    return redraw.null(column, seed_count, seed_count), tail


def _median_cells(baseline: Baseline, then: RunsBySeed, today: RunsBySeed, variant: str, backends: tuple[str, ...]
                  ) -> tuple[list[Cell], str]:
    seeds = baseline.seeds
    cells = []
    spread = "the baseline's own seeds (no calibration covers this experiment)"
    for metric in METRICS:
        for e in range(1, baseline.experiment.epochs + 1):
            old = [getattr(then[s][variant], metric)[e - 1] for s in seeds]
            new = [getattr(today[s][variant], metric)[e - 1] for s in seeds]
            today_median = statistics.median(new) if all(map(math.isfinite, new)) else math.nan
            found = calibrated_tolerance(backends, variant, metric, e, len(seeds)) \
                if baseline.experiment == QUESTION_EXPERIMENT else None
            if found is not None:
                tol, detect, spread = found
            else:
                tol, detect = own_spread_tolerance(old), None
            cells.append(Cell(variant, metric, e, statistics.median(old), today_median, tol, old == new, "median", detect))
    return cells, spread


def _seed_cells(baseline: Baseline, then: RunsBySeed, today: RunsBySeed, variant: str) -> list[Cell]:
    cells = []
    for metric in METRICS:
        for e in range(baseline.experiment.epochs):
            diffs = {s: getattr(today[s][variant], metric)[e] - getattr(then[s][variant], metric)[e] for s in baseline.seeds}
            worst = max(diffs, key=lambda s: abs(diffs[s]) if math.isfinite(diffs[s]) else math.inf)
            a, b = getattr(then[worst][variant], metric)[e], getattr(today[worst][variant], metric)[e]
            cells.append(Cell(variant, metric, e + 1, a, b, CLOSE[metric], all(d == 0 for d in diffs.values()), "seed"))
    return cells


def fit_order_changes(then: dict[str, Any] | None, now: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(changed properties in words, notes): a property that flipped fails; other orders alone are a redraw."""
    if then is None and now is None:
        return [], []
    if then is None or now is None:
        return [], ["not compared (the baseline does not record it)" if then is None else "not read today"]
    was, now_props = properties(then), properties(now)
    changed = [f"{PROPERTIES[k][0 if now_props[k] else 1]} (when recorded: {PROPERTIES[k][0 if was[k] else 1]})"
               for k in PROPERTIES if was[k] != now_props[k]]
    notes = []
    if not changed and any(then[k] != now[k] for k in ("seed1", "seed2")):
        notes.append("other orders for the same seeds than when recorded, with the same properties: a redraw, not a failure")
    return changed, notes


def compare_cells(baseline: Baseline, today: RunsBySeed, versions_now: dict[str, str]) -> tuple[list[Cell], str, str]:
    """(every cell, the regime, where the spread comes from): the numbers' part of `compare`."""
    then = baseline.matrix()
    for variant in baseline.variants:
        missing = [s for s in baseline.seeds if variant in then.get(s, {}) and variant not in today.get(s, {})]
        if missing:
            raise InputError(f"today's runs lack {variant} for seed(s) {missing}")
    regime = regime_of(baseline, today)
    backends = spread_backends(baseline, versions_now)
    cells: list[Cell] = []
    spread = "none needed"
    for variant in baseline.variants:
        if regime == "close" and get_variant(variant).input_norm:
            cells += _seed_cells(baseline, then, today, variant)
        else:
            median_cells, spread = _median_cells(baseline, then, today, variant, backends)
            cells += median_cells
    return cells, regime, spread


def compare(baseline: Baseline, today: RunsBySeed, versions_now: dict[str, str],
            fit_order_now: dict[str, Any] | None = None) -> Comparison:
    """Today's runs (same experiment, same seeds) against the baseline's, by the regime the numbers show."""
    cells, regime, spread = compare_cells(baseline, today, versions_now)
    verdicts = check_all({s: today[s] for s in baseline.seeds}) if baseline.experiment == QUESTION_EXPERIMENT else []
    changed, notes = fit_order_changes(baseline.fit_order, fit_order_now)
    return Comparison(baseline.versions, versions_now, cells, verdicts, regime, spread, changed, notes)


def flagged_pairs(groups_then: Sequence[RunsBySeed], groups_today: Sequence[RunsBySeed], backend_then: str,
                  backend_today: str) -> tuple[int, int]:
    """Compare each pair of seed groups as `baseline compare` would: (pairs with a cell beyond tolerance, pairs).

    Today's seeds are renamed to the baseline's, as if the same seeds had run on another stack.
    """
    flagged = sum(replayed(then, today, backend_then, backend_today)[0]
                  for then, today in zip(groups_then, groups_today, strict=True))
    return flagged, len(groups_then)


def replayed(then: RunsBySeed, today: RunsBySeed, backend_then: str, backend_today: str) -> tuple[bool, str]:
    """One comparison of a group of seeds as `baseline compare` makes it: (a cell beyond tolerance, the regime read).

    Today's seeds are renamed to the baseline's, in order, as if the same seeds had run on another stack.
    """
    seeds = list(then)
    base = make([r for s in seeds for r in then[s].values()], QUESTION_EXPERIMENT, seeds, {"backend": backend_then})
    renamed = {s: today[t] for s, t in zip(seeds, today, strict=True)}
    cells, regime, _ = compare_cells(base, renamed, {"backend": backend_today})
    return any(not m.ok for m in cells), regime

