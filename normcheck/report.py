"""Text the CLI prints: the question-style table and the verdict lines."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

from .claims import Verdict, get_claim
from .constants import REPLICA_SEEDS
from .framework import stack_text
from .question import reported
from .run import Run
from .variants import VARIANTS


def _med(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def question_table(runs_by_variant: Mapping[str, Sequence[Run]]) -> str:
    """Per variant and epoch: median over seeds of what Keras printed, beside the question's numbers."""
    asked = reported()
    lines = []
    for name, runs in runs_by_variant.items():
        if not runs:
            continue
        v = VARIANTS[name]
        n = len(runs)
        label = v.label
        lines.append(f"----- {label} [{name}], {'median of ' + str(n) + ' seeds' if n > 1 else 'seed ' + str(runs[0].seed)} -----")
        lines.append(f"{'epoch':>7} {'loss':>8} {'acc':>7} {'eval_acc':>8} {'seconds':>8} | {'asked: loss':>11} {'acc':>7} {'seconds':>7}")
        epochs = runs[0].epochs
        for e in range(epochs):
            row = (f"{e + 1:>3}/{epochs:<3} {_med(r.loss[e] for r in runs):8.4f} {_med(r.accuracy[e] for r in runs):7.4f} "
                   f"{_med(r.eval_accuracy[e] for r in runs):8.4f} {_med(r.seconds[e] for r in runs):8.2f} |")
            reported_epochs = asked.get(name, [])
            if e < len(reported_epochs):
                s = reported_epochs[e]
                row += f" {s.loss:11.4f} {s.accuracy:7.4f} {s.seconds:7.0f}"
            lines.append(row)
    return "\n".join(lines)


def verdict_lines(verdicts: Sequence[Verdict]) -> str:
    held = sum(v.holds for v in verdicts)
    return "\n".join([v.line() for v in verdicts] + [f"{held}/{len(verdicts)} claims hold"])


def verdicts_markdown(verdicts: Sequence[Verdict], versions: Mapping[str, str]) -> str:
    """The claim table for a CI summary: verdict, the deciding value against the threshold, and why the claim holds."""
    stack = stack_text(versions)
    held = sum(v.holds for v in verdicts)
    lines = [f"### normcheck: {held}/{len(verdicts)} claims hold", "", f"Stack: {stack}.", "",
             "| claim | verdict | value | threshold | why |", "|---|---|---|---|---|"]
    for v in verdicts:
        value = f"{v.statistic:.4g} (worst: seed {v.worst_seed})" if v.over == "each" else f"{v.statistic:.4g} (median)"
        lines.append(f"| `{v.claim}` | {'holds' if v.holds else '**FAILS**'} | {value} | "
                     f"{v.op} {v.threshold:g} | {get_claim(v.claim).basis} |")
    lines += ["", "How often each claim fails on a healthy stack: calibration/<backend>.md "
              f"({len(REPLICA_SEEDS)} seeds per backend)."]
    return "\n".join(lines) + "\n"
