"""The counted false-fail rate a run carries, shipped with the package so the CLI can state it in one line.

`calibrate --promote` writes normcheck/carried-rates.json from the held-out counts of the frozen rule
(calibration/<backend>.md has them in full). The file names its rule version: where the claims have
moved since, or the run's size or backend was never counted, `line` says so instead of a rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .experiment import QUESTION_EXPERIMENT

PATH = Path(__file__).with_name("carried-rates.json")
SCHEMA = "normcheck.carried/1"
COUNTED_ORDER = QUESTION_EXPERIMENT.order  # the replica's batch order: the one its counts hold for
FIT_SEEDS_WORDS = {"held out": "held-out fit seeds", "development": "calibration fit seeds"}  # a count's "fit_seeds"


def read(path: Path = PATH) -> dict[str, Any] | None:
    """The shipped record, or None where none is shipped or it is not this schema, whole and well formed: the
    CLI reads it after training, where a malformed file must cost a sentence, not the run."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if _well_formed(data) else None


def _well_formed(data: object) -> bool:
    if not (isinstance(data, dict) and data.get("schema") == SCHEMA and isinstance(data.get("rule"), str)
            and isinstance(data.get("backends"), dict)):
        return False
    for counted in data["backends"].values():
        if not (isinstance(counted, dict) and isinstance(counted.get("seeds"), str)
                and isinstance(counted.get("runs"), dict)):
            return False
        for size, run in counted["runs"].items():
            if not (size.isdigit() and isinstance(run, dict) and _count(run.get("failing"))
                    and _count(run.get("trials")) and _probability(run.get("upper"))
                    and isinstance(run.get("fit"), list) and all(isinstance(c, str) for c in run["fit"])
                    and isinstance(run.get("fit_seeds", ""), str) and _stages(run.get("stages", []))):
                return False
    compare = data.get("compare", [])
    return isinstance(compare, list) and all(_compare_row(r) for r in compare)


CLOSE = "xla-defaults"  # the engine of compare's close-regime counts: the replica again with JAX's default XLA options
ENGINES = ("replica", "fit", CLOSE)  # compare's counts: redrawn replica, redrawn real fit, close replica


def _compare_row(row: object) -> bool:
    return (isinstance(row, dict) and row.get("engine") in ENGINES and _count(row.get("size"))
            and isinstance(row.get("a"), str) and isinstance(row.get("b"), str) and _count(row.get("flagged"))
            and _count(row.get("trials")) and row["trials"] > 0 and _probability(row.get("upper"))
            and _probability(row.get("joint_upper", 0)) and _stages(row.get("stages", []))
            and all(isinstance(row.get(k, []), list) and all(isinstance(v, str) for v in row.get(k, []))
                    for k in ("left_out", "variants")))


def _stages(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(s, list) and len(s) == 2 and all(_count(v) for v in s)
                                           for s in value)


def _probability(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def line(backend: str, seeds: int, rule_version: str, path: Path = PATH, order: str = COUNTED_ORDER) -> str:
    """One sentence: how often a healthy stack fails some claim in a run like this one, counted on held-out seeds."""
    if order != COUNTED_ORDER:
        return (f"no counted false-fail rate for batch order {order!r}: the held-out counts ran in normcheck's own "
                f"order ({COUNTED_ORDER!r})")
    data = read(path)
    if data is None:
        return "no counted false-fail rate is shipped with this normcheck (calibration/<backend>.md)"
    if data.get("rule") != rule_version:
        return (f"no counted false-fail rate for these claims: the shipped counts are for rule {data.get('rule')}, "
                f"the claims here are rule {rule_version} (calibration/<backend>.md)")
    counted = data.get("backends", {}).get(backend)
    if counted is None:
        return (f"no counted false-fail rate on {backend}: counted on {', '.join(sorted(data.get('backends', {})))} "
                "(calibration/<backend>.md)")
    run = counted["runs"].get(str(seeds))
    if run is None:
        sizes = " and ".join(sorted(counted["runs"], key=int))
        return f"no counted false-fail rate for a run of {seeds} seeds on {backend}: counted for runs of {sizes}"
    fit = run.get("fit", [])
    stages = run.get("stages", [])
    staged = (f" counted in {len(stages)} stages ({' then '.join(f'{f}/{n}' for f, n in stages)}; staged bound)"
              if len(stages) > 1 else "")
    held_out = run.get("fit_seeds") == FIT_SEEDS_WORDS["held out"]
    where = "real fit's held-out seeds" if held_out else "real fit's calibration seeds"
    on_fit = (f" plus {len(fit)} claim{'s' if len(fit) > 1 else ''} counted on {where}, 95% upper "
              f"{run['upper']:.1e} for both" if fit else f", 95% upper {run['upper']:.1e}")
    return (f"with its initial weights redrawn, a healthy {backend} stack failed some claim in {run['failing']}/"
            f"{run['trials']} replica runs of {seeds} seed{'s' if seeds > 1 else ''} on held-out seeds{staged}{on_fit} "
            f"(rule {data['rule']}, seeds {counted['seeds']}: calibration/{backend}.md)")


def compare_line(backend_then: str, backend_now: str, seeds: int, regime: str, rule_version: str,
                 path: Path = PATH, question: bool = True) -> str:
    """One sentence: how often compare flags a healthy stack in a comparison like this one, counted on held-out
    seeds; where no count backs this experiment, regime, pair of backends or group size, it says so instead."""
    if not question:
        return "no counted false-alarm rate: compare's counts are for the question's experiment"
    if regime == "identical":
        return "identical runs: no cell can move, so there is no false alarm to count"
    data = read(path)
    if data is None or not data.get("compare"):
        return "no counted false-alarm rate for compare is shipped with this normcheck (calibration/compare.md)"
    if data["rule"] != rule_version:
        return (f"no counted false-alarm rate: the shipped counts are for rule {data['rule']}, compare here is rule "
                f"{rule_version} (calibration/compare.md)")
    a, b = sorted((backend_then, backend_now))
    if regime == "close":
        return _close_line(data, a, b, seeds)
    rows = [r for r in data["compare"] if (r["a"], r["b"]) == (a, b) and r["engine"] != CLOSE]
    if not rows:
        return f"no counted false-alarm rate for {a} against {b} (calibration/compare.md)"
    sized = [r for r in rows if r["size"] == seeds]
    if not sized:
        return _other_sizes(rows, f"{seeds} seeds a side")
    parts, uncovered = [], []
    covered = {v for f in sized if f["engine"] == "fit" for v in f.get("variants", [])}
    for r in sized:
        if r["engine"] == "fit":
            parts.append(f"{r['flagged']}/{r['trials']} held-out real-fit replays of {', '.join(r['variants'])}")
            continue
        uncovered += [v for v in r.get("left_out", []) if v not in covered]
        without = f" without {', '.join(r['left_out'])}" if r.get("left_out") else ""
        parts.append(f"{r['flagged']}/{r['trials']} held-out replica replays{without}")
    upper = sized[0]["joint_upper"] if len(sized) > 1 and "joint_upper" in sized[0] else sized[0]["upper"]
    bound = f"95% upper {upper:.2%}{' for both together' if len(sized) > 1 else ''}"
    return (f"{seeds} seeds a side, {a} against {b}, initial weights redrawn: a healthy stack was flagged in "
            f"{' and '.join(parts)}, {bound}{_uncovered(uncovered)} (rule {data['rule']}: calibration/compare.md)")


def _other_sizes(rows: list[dict[str, Any]], asked: str) -> str:
    counted = " and ".join(str(n) for n in sorted({r["size"] for r in rows}))
    return f"no counted false-alarm rate for {asked}: counted for {counted} (calibration/compare.md)"


def _uncovered(variants: list[str]) -> str:
    return (f"; no count covers the cells of {', '.join(variants)} here (the replica does not stand for fit there)"
            if variants else "")


def _close_line(data: dict[str, Any], a: str, b: str, seeds: int) -> str:
    rows = [r for r in data["compare"] if r["engine"] == CLOSE and (r["a"], r["b"]) == (a, b)]
    if not rows:
        return f"no counted false-alarm rate for the close regime, {a} against {b}, on held-out seeds (calibration/compare.md)"
    sized = [r for r in rows if r["size"] == seeds]
    if not sized:
        return _other_sizes(rows, f"the close regime with {seeds} seeds a side")
    r = sized[0]
    return (f"{seeds} seeds a side, {a}, the same initial weights: held-out replica runs against the same seeds with "
            f"float-level differences (JAX's default XLA options) were flagged in {r['flagged']}/{r['trials']} "
            f"replays, 95% upper {r['upper']:.2%}{_uncovered(r.get('left_out', []))} (rule {data['rule']}: "
            "calibration/compare.md)")
