"""What the CLI and the plugin do with a Spec: run and judge it, count its claims' failures, suggest thresholds.

Counts are as for the question (calibration/rates.py): disjoint groups of seeds in order, each
judged as a run of that many seeds, with the exact one-sided 95% Clopper-Pearson upper bound.
A threshold the counts support is read from the same seeds it is then counted on, so the page
says so: state it, freeze it, and count it again on seeds that did not choose it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import files, spec, spec_fit
from .calibration.rates import RUN_SIZES, claim_rates, upper_bound
from .claims import Claim, Verdict
from .errors import InputError
from .framework import stack_text
from .run import disjoint_groups

RunsBySeed = dict[int, dict[str, spec.SpecRun]]
TARGET = 1e-3  # the false-fail rate per run the suggested thresholds aim at, by default


def by_seed(runs: Sequence[spec.SpecRun]) -> RunsBySeed:
    out: RunsBySeed = {}
    for r in runs:
        out.setdefault(r.seed, {})[r.variant] = r
    return out


def verdicts(s: spec.Spec, matrix: Mapping[int, Mapping[str, spec.SpecRun]]) -> list[Verdict]:
    """Every claim of the spec whose variants ran for every seed given; a measure that raises is an InputError naming
    its claim (your own code, not normcheck's)."""
    out = []
    for c in s.claims:
        if all(v in rs for rs in matrix.values() for v in c.variants):
            try:
                out.append(c.check(matrix))
            except InputError:
                raise
            except Exception as exc:
                raise InputError(f"claim {c.id!r} of {s.name}: its measure raised {type(exc).__name__}: {exc} "
                                 f"(it declares variants {', '.join(c.variants)})") from None
    return out


def table(s: spec.Spec, matrix: Mapping[int, Mapping[str, spec.SpecRun]], variants: Sequence[str]) -> str:
    """Per variant, each of fit's logs and each measurement after the last epoch: the median over the seeds."""
    first = next(iter(matrix.values()))
    metrics = list(dict.fromkeys(k for v in variants for k in (*first[v].history, *first[v].measured)))
    n = len(matrix)
    lines = [f"{s.name}: after epoch {s.epochs}, median over {n} seed{'s' if n != 1 else ''}",
             "| variant | " + " | ".join(metrics) + " | seconds |", "|---" * (len(metrics) + 2) + "|"]
    for v in variants:
        cells = [f"{statistics.median(rs[v].metric(m) for rs in matrix.values()):.4f}" for m in metrics]
        secs = statistics.median(sum(rs[v].seconds) for rs in matrix.values())
        lines.append(f"| {v} | " + " | ".join(cells) + f" | {secs:.2f} |")
    return "\n".join(lines)


def needed_runs(target: float) -> int:
    """The fewest runs whose 0 failures bound the rate by `target`."""
    return math.ceil(math.log(0.05) / math.log1p(-target))


def supported_threshold(claim: Claim, matrix: RunsBySeed, size: int, target: float) -> tuple[str, float] | None:
    """The tightest rule these seeds' runs of `size` support for a false-fail rate of `target`: as many groups may fail
    as keep the exact upper bound at or below `target`, and the threshold is the next group's statistic (ties make fewer
    fail). None where the groups are too few for even 0 failures to bound the rate by `target`."""
    values = claim.values(matrix)
    groups = [claim.statistic(g) for g in disjoint_groups(values, size)]
    allowed = -1
    while allowed + 1 < len(groups) and upper_bound(allowed + 1, len(groups)) <= target:
        allowed += 1
    if allowed < 0:
        return None
    low_fails = claim.op.startswith(">")
    ordered = sorted(groups, reverse=not low_fails)
    return (">=" if low_fails else "<="), ordered[allowed]


@dataclass(frozen=True)
class Range:
    """Seeds judged under some rule: "development" were seen while the rule was chosen; "held-out" were drawn after
    `rule_version` was frozen in commit `frozen_in`, recorded before any of their runs."""

    first: int
    last: int
    role: str
    backends: tuple[str, ...]
    note: str
    rule_version: str | None = None
    frozen_in: str | None = None

    def label(self) -> str:
        if self.role == "held-out":
            return f"held-out seeds {self.first}-{self.last} (rule {self.rule_version}, frozen in {self.frozen_in})"
        return f"development seeds {self.first}-{self.last}"


def ranges_path(out: str | Path, s: spec.Spec) -> Path:
    return Path(out) / f"{s.name}-seed-ranges.json"


def load_ranges(out: str | Path, s: spec.Spec) -> list[Range]:
    """The hand-kept record of the seed ranges judged for `s`, if there is one; a malformed one names its place."""
    path = ranges_path(out, s)
    if not path.exists():
        return []
    where = f"seed-range record {str(path)!r}"
    data = files.read_json(path, "seed-range record")
    try:
        out_ranges = [Range(int(r["first"]), int(r["last"]), str(r["role"]), tuple(map(str, r["backends"])),
                            str(r["note"]), r.get("rule_version"), r.get("frozen_in")) for r in data["ranges"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where} is malformed: {type(exc).__name__}: {exc}") from None
    for r in out_ranges:
        if r.role not in ("development", "held-out") or r.first > r.last or (
                r.role == "held-out" and not (r.rule_version and r.frozen_in)):
            raise InputError(f"{where}: {r} is invalid; allowed: role development or held-out (with rule_version and "
                             "frozen_in), first <= last")
    return out_ranges


def rates_page(s: spec.Spec, runs: Sequence[spec.SpecRun], *, target: float = TARGET, command: str = "",
               ranges: Sequence[Range] = ()) -> str:
    """The claims of `s` over the stored runs: spread, counted failing runs of 1 and 5 seeds with exact bounds (per
    recorded seed range, where there is a record), and the thresholds the development seeds support for `target`."""
    matrix = {seed: rs for seed, rs in by_seed(runs).items() if all(v in rs for v in s.variants)}
    if not matrix:
        raise InputError(f"no seed ran every variant of {s.name!r}; run `calibrate --experiment ... --engine fit` first")
    first = next(iter(matrix.values()))[s.variants[0]]
    backend = first.backend
    parts = [(r.label(), {k: v for k, v in matrix.items() if r.first <= k <= r.last})
             for r in ranges if backend in r.backends]
    parts = [(label, m) for label, m in parts if m] or [(f"seeds {_span(sorted(matrix))}", matrix)]
    version = spec.rule_version(s)
    lines = [f"# `{s.name}`: claims over {len(matrix)} real-fit seeds on {backend}", ""]
    if command:
        lines += [f"<!-- generated by `{command}` -->", ""]
    lines += [f"Every variant through `keras.Model.fit`; stack: {stack_text(first.versions)}. Rule version {version} "
              "(the claims' measures, rules and each/median, hashed).", "",
              "Every rate is a count: the seeds cut into disjoint groups of 1 and of 5 in seed order, each judged as a "
              "run of that many seeds (a median claim on the group's median), with the exact one-sided 95% upper bound "
              "(Clopper-Pearson).", ""]
    for label, part in parts:
        lines += [f"## {label}", ""]
        stale = [r for r in ranges if r.label() == label and r.role == "held-out" and r.rule_version != version]
        if stale:
            lines += [f"Counted under rule {stale[0].rule_version}, not today's {version}: these counts do not hold for "
                      "today's rule.", ""]
        lines += ["| claim | rule | over | min | median | max | runs of 1 failing | 95% upper | runs of 5 failing | "
                  "95% upper |", "|---|---|---|---|---|---|---|---|---|---|"]
        per_claim, together = claim_rates(s.claims, part, RUN_SIZES)
        for c, rate in zip(s.claims, per_claim, strict=True):
            values = list(c.values(part).values())
            one, five = rate.failing[RUN_SIZES[0]], rate.failing[RUN_SIZES[1]]
            lines.append(f"| `{c.id}` | {c.op} {c.threshold:g} | {c.over} | {min(values):.4g} | "
                         f"{statistics.median(values):.4g} | {max(values):.4g} | {one.failing}/{one.trials} | "
                         f"{one.upper:.1e} | {five.failing}/{five.trials} | {five.upper:.1e} |")
        lines += ["", "Every claim together (a run fails when any claim fails):", ""]
        lines += [f"- a run of {n} seed{'s' if n != 1 else ''}: {count.text()} runs fail." for n, count in together.items()]
        lines.append("")
    lines += compare_section(s, matrix, [r for r in ranges if r.role == "held-out" and backend in r.backends])
    development = {k: v for k, v in matrix.items()
                   if not ranges or any(r.role == "development" and r.first <= k <= r.last for r in ranges)}
    lines += [f"## Thresholds the development seeds support for a false-fail rate of {target:g} per claim and run", "",
              "Per claim, the tightest threshold for which the counted failing runs keep the 95% upper bound at or below "
              "the target. Read from the seeds that count it, so not a stated rate: freeze it in a commit, then count it "
              f"on seeds that did not choose it. A run fails when any of its {len(s.claims)} claims does, so for a rate "
              f"per run, give each claim a share of it (`--target` divided by {len(s.claims)} keeps the sum).", "",
              "| claim | " + " | ".join(f"runs of {n}" for n in RUN_SIZES) + " |", "|---" * (len(RUN_SIZES) + 1) + "|"]
    for c in s.claims:
        cells = []
        for n in RUN_SIZES:
            found = supported_threshold(c, development, n, target) if development else None
            cells.append(f"{found[0]} {found[1]:.4g}" if found else
                         f"needs {needed_runs(target)} runs (these seeds make {len(development) // n})")
        lines.append(f"| `{c.id}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _span(seed_list: Sequence[int]) -> str:
    if seed_list == list(range(seed_list[0], seed_list[-1] + 1)):
        return f"{seed_list[0]}-{seed_list[-1]}"
    return f"{len(seed_list)} seeds from {seed_list[0]} to {seed_list[-1]}"


def store_path(out: str | Path, s: spec.Spec, backend: str) -> Path:
    return Path(out) / f"{s.name}-{backend}.jsonl"


def page_path(out: str | Path, s: spec.Spec, backend: str) -> Path:
    return Path(out) / f"{s.name}-{backend}.md"


def calibrate(ref: str, seed_list: Sequence[int], out: str | Path, backend: str, *, jobs: int, target: float,
              report_only: bool, log: Callable[[str], None], cluster: str | None = None,
              warn: Callable[[str], None] = print) -> str:
    """Real fit over the seeds into <out>/<name>-<backend>.jsonl (resumable), then the page beside it."""
    s = spec.load(ref)
    store, page = store_path(out, s, backend), page_path(out, s, backend)
    files.gate({}, {"the runs": store, "the page": page})
    Path(out).mkdir(parents=True, exist_ok=True)
    if not report_only:
        spec_fit.collect(spec.absolute(ref), s.variants, seed_list, store, jobs=jobs, log=log, cluster=cluster,
                         warn=warn)
    runs = spec_fit.load_runs(store) if store.exists() else []
    text = rates_page(s, runs, target=target, ranges=load_ranges(out, s),
                      command=f"python -m normcheck calibrate --experiment {ref} --engine fit --backend {backend} "
                              f"--out {out} --report")
    files.write_text(page, text)
    return text + f"\nwrote {page}"


def parse_target(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise InputError(f"--target {text!r} is invalid; allowed: a rate between 0 and 1, e.g. 1e-3")
    return value


def run_json(matrix: RunsBySeed, found: Sequence[Verdict]) -> dict[str, Any]:
    return {"runs": [r.to_dict() for rs in matrix.values() for r in rs.values()], "verdicts": [v.to_dict() for v in found]}


def compare_section(s: spec.Spec, matrix: RunsBySeed, held: Sequence[Range]) -> list[str]:
    """`baseline compare --experiment` on a healthy stack whose initial weights were redrawn, replayed on held-out
    seeds: tolerances from the first half of them, disjoint pairs of groups from the second half."""
    from . import spec_baseline  # noqa: PLC0415 -- spec_baseline imports this module

    lines: list[str] = []
    for r in held:
        seeds_ = sorted(k for k in matrix if r.first <= k <= r.last)
        half = len(seeds_) // 2
        n = RUN_SIZES[1]
        if half < 4 * n:
            continue
        first, second = ({k: matrix[k] for k in part} for part in (seeds_[:half], seeds_[half:]))
        flagged, pairs = spec_baseline.replays(first, second, s.variants, n)
        lines += [f"## `baseline compare --experiment` on a healthy stack, {r.label()}", "",
                  f"Tolerances from seeds {_span(seeds_[:half])} (`--calibration` holding them), then {pairs} disjoint "
                  f"pairs of {n}-seed groups from seeds {_span(seeds_[half:])}, each compared as baseline and today "
                  f"(regime redrawn, every logged metric and epoch of every variant): {flagged}/{pairs} flagged "
                  f"(95% upper {upper_bound(flagged, pairs):.1e}); the tolerances aim at {spec_baseline.ALPHA:g}.", ""]
    return lines

