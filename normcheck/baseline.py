"""Record runs on one framework version; compare another version's runs against them.

Tolerance rule, per (variant, metric, epoch): today's median over the baseline's
seeds may differ from the baseline's median by at most
    K * 1.25 * sd * sqrt(2 / n) + floor
where sd = 1.4826 * MAD is the baseline's own (robust) spread across its n seeds,
K = 4 and floor = 5e-3. Metrics: the train-mode loss and accuracy Keras prints and
the inference-mode accuracy. Not the inference-mode loss: for BN after a saturated
tanh it is unbounded (0.7 to 5.7 across seeds of one stack), so it cannot say
"moved". The floor is half a point of accuracy: at chance level the accuracy of a
non-learning model wanders that much between numerically different stacks. Same framework, same
seeds: the numbers are identical. A numerically different framework reshuffles
every seed's trajectory, so today's seeds behave like n fresh draws: the
difference of two n-seed medians then has standard deviation about
1.25 * sd * sqrt(2 / n), and 4 of those is what chance alone essentially never
exceeds. Medians, not means: a variant that does not learn has rare one-seed
blips (inference accuracy 0.6 for an epoch), which must not read as a move.
"""

from __future__ import annotations

import datetime as _dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .claims import Verdict, check_all
from .errors import InputError
from .experiment import QUESTION_EXPERIMENT, Experiment
from .run import Run, by_seed

SCHEMA = "normcheck.baseline/1"
METRICS = ("loss", "accuracy", "eval_accuracy")
K = 4.0
FLOOR = 5e-3


@dataclass(frozen=True)
class Baseline:
    fingerprint: dict[str, str]
    experiment: Experiment
    seeds: list[int]
    runs: list[Run]
    created: str

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(r.variant for r in self.runs))

    def matrix(self) -> dict[int, dict[str, Run]]:
        return by_seed(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "fingerprint": self.fingerprint, "experiment": self.experiment.to_dict(),
                "seeds": self.seeds, "created": self.created, "runs": [r.to_dict() for r in self.runs]}


def make(runs: Sequence[Run], experiment: Experiment, seeds: Sequence[int], fingerprint: dict[str, str]) -> Baseline:
    return Baseline(dict(fingerprint), experiment, list(seeds), list(runs), _dt.datetime.now(_dt.timezone.utc).isoformat())


def save(baseline: Baseline, path: str | Path, force: bool = False) -> None:
    from . import files

    files.check_writable(path, force=force)
    files.write_json(path, baseline.to_dict())


def load(path: str | Path) -> Baseline:
    """Read and validate a baseline file before any training; every problem is one InputError naming the file and place."""
    from . import files, seeds

    path = Path(path)
    where = f"baseline {str(path)!r}"
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{where} does not exist; record one with `python -m normcheck baseline record {path}`")
    data = files.read_json(path, "baseline")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
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
        raise InputError(f"{where}: fingerprint is {fingerprint!r}; allowed: an object of names to version strings")
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
    return Baseline(dict(fingerprint), experiment, list(listed), runs, str(data.get("created", "?")))


@dataclass(frozen=True)
class Move:
    variant: str
    metric: str
    epoch: int
    baseline: float
    today: float
    tolerance: float
    identical: bool

    @property
    def diff(self) -> float:
        return self.today - self.baseline

    @property
    def ok(self) -> bool:
        """Within tolerance; a non-finite value today (a diverged framework) is a move, never a wider tolerance."""
        return math.isfinite(self.today) and abs(self.diff) <= self.tolerance


@dataclass(frozen=True)
class Comparison:
    fingerprint_then: dict[str, str]
    fingerprint_now: dict[str, str]
    moves: list[Move]
    verdicts: list[Verdict]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.moves) and all(v.holds for v in self.verdicts)

    @property
    def identical(self) -> bool:
        return all(m.identical for m in self.moves)

    @property
    def summary(self) -> str:
        """One phrase for a table cell: identical, within tolerance, or what moved."""
        moved = sum(not m.ok for m in self.moves)
        failed = sum(not v.holds for v in self.verdicts)
        if not moved and not failed:
            return "identical" if self.identical else "within tolerance"
        return ", ".join(part for part in (f"{moved} cells moved" if moved else "",
                                           f"{failed} claims fail" if failed else "") if part)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "identical": self.identical, "summary": self.summary, "fingerprint_then": self.fingerprint_then,
                "fingerprint_now": self.fingerprint_now, "moves": [asdict(m) for m in self.moves],
                "verdicts": [v.to_dict() for v in self.verdicts]}

    @property
    def version_changes(self) -> str:
        """"keras 3.15.1 -> 3.16.0, ..." for every fingerprint entry that differs, or "unchanged"."""
        changed = sorted(k for k in set(self.fingerprint_then) | set(self.fingerprint_now)
                         if self.fingerprint_then.get(k) != self.fingerprint_now.get(k))
        return ", ".join(f"{k} {self.fingerprint_then.get(k)} -> {self.fingerprint_now.get(k)}" for k in changed) or "unchanged"

    def markdown(self, top: int = 15) -> str:
        """The comparison for a CI summary: what changed in the stack, what moved beyond tolerance, the claims."""
        bad = [m for m in self.moves if not m.ok]
        lines = [f"### normcheck baseline compare: {self.summary}", "", f"Versions: {self.version_changes}.",
                 f"{len(self.moves)} per-epoch medians compared, {len(bad)} beyond tolerance.", ""]
        if bad:
            lines += ["| variant | metric | epoch | baseline | today | diff | tolerance |", "|---|---|---|---|---|---|---|"]
            for m in sorted(bad, key=lambda m: -abs(m.diff) / m.tolerance if math.isfinite(m.diff) else -math.inf)[:top]:
                lines.append(f"| {m.variant} | {m.metric} | {m.epoch} | {m.baseline:.4f} | {m.today:.4f} | "
                             f"{m.diff:+.4f} | {m.tolerance:.4f} |")
            lines.append("")
        failing = [v.claim for v in self.verdicts if not v.holds]
        lines.append("Claims: " + (", ".join(f"`{c}` fails" for c in failing) if failing else
                                   f"all {len(self.verdicts)} hold" if self.verdicts else "not checked"))
        return "\n".join(lines) + "\n"

    def table(self, top: int = 15) -> str:
        lines = [f"versions: {self.version_changes}"]
        bad = [m for m in self.moves if not m.ok]
        lines.append(f"per-epoch metrics: {len(self.moves)} compared, {len(bad)} beyond tolerance, "
                     f"{'all identical to the baseline' if self.identical else 'not identical'}")
        ranked = sorted(self.moves, key=lambda m: -abs(m.diff) / m.tolerance)[:top]
        if ranked and not self.identical:
            lines.append(f"{'variant':<30} {'metric':<14} {'epoch':>5} {'baseline':>9} {'today':>9} {'diff':>9} {'tolerance':>9}")
            for m in ranked:
                lines.append(f"{m.variant:<30} {m.metric:<14} {m.epoch:>5} {m.baseline:9.4f} {m.today:9.4f} "
                             f"{m.diff:+9.4f} {m.tolerance:9.4f}{'  MOVED' if not m.ok else ''}")
        if not self.verdicts:
            lines.append("claims: not checked (they are calibrated for the question's experiment, not the baseline's)")
        elif any(not v.holds for v in self.verdicts):
            lines.append("claims: " + ", ".join(f"{v.claim} FAILS" for v in self.verdicts if not v.holds))
        else:
            lines.append(f"claims: all {len(self.verdicts)} hold")
        return "\n".join(lines)


def tolerance(values: Sequence[float]) -> float:
    med = statistics.median(values)
    sd = 1.4826 * statistics.median(abs(v - med) for v in values)
    return K * 1.25 * sd * math.sqrt(2 / len(values)) + FLOOR


def compare(baseline: Baseline, today: dict[int, dict[str, Run]], fingerprint_now: dict[str, str]) -> Comparison:
    """Today's runs (same experiment, same seeds) against the baseline's."""
    then = baseline.matrix()
    moves: list[Move] = []
    for variant in baseline.variants:
        seeds = [s for s in baseline.seeds if variant in then.get(s, {})]
        missing = [s for s in seeds if variant not in today.get(s, {})]
        if missing:
            raise InputError(f"today's runs lack {variant} for seed(s) {missing}")
        for metric in METRICS:
            for e in range(baseline.experiment.epochs):
                old = [getattr(then[s][variant], metric)[e] for s in seeds]
                new = [getattr(today[s][variant], metric)[e] for s in seeds]
                today_median = statistics.median(new) if all(map(math.isfinite, new)) else math.nan
                moves.append(Move(variant, metric, e + 1, statistics.median(old), today_median, tolerance(old), old == new))
    verdicts = check_all({s: today[s] for s in baseline.seeds}) if baseline.experiment == QUESTION_EXPERIMENT else []
    return Comparison(baseline.fingerprint, fingerprint_now, moves, verdicts)
