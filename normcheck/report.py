"""Text the CLI prints: the question-style table and the verdict lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .claims import Claim, Verdict, get_claim
from .constants import REPLICA_SEEDS
from .framework import stack_text
from .question import reported
from .run import Run
from .variants import VARIANTS


def question_table(runs_by_variant: Mapping[str, Sequence[Run]]) -> str:
    """Per variant and epoch: what Keras printed for the first seed, one training run as the question's log is,
    beside the question's numbers (the claims judge every seed)."""
    asked = reported()
    lines = []
    for name, runs in runs_by_variant.items():
        if not runs:
            continue
        v = VARIANTS[name]
        run = runs[0]
        lines.append(f"----- {v.label} [{name}], seed {run.seed} -----")
        lines.append(f"{'epoch':>7} {'loss':>8} {'acc':>7} {'eval_acc':>8} {'seconds':>8} | {'asked: loss':>11} {'acc':>7} {'seconds':>7}")
        for e in range(run.epochs):
            row = (f"{e + 1:>3}/{run.epochs:<3} {run.loss[e]:8.4f} {run.accuracy[e]:7.4f} {run.eval_accuracy[e]:8.4f} "
                   f"{run.seconds[e]:8.2f} |")
            reported_epochs = asked.get(name, [])
            if e < len(reported_epochs):
                s = reported_epochs[e]
                row += f" {s.loss:11.4f} {s.accuracy:7.4f} {s.seconds:7.0f}"
            lines.append(row)
    return "\n".join(lines)


def verdict_lines(verdicts: Sequence[Verdict]) -> str:
    held = sum(v.holds for v in verdicts)
    return "\n".join([v.line() for v in verdicts] + [f"{held}/{len(verdicts)} claims hold"])


def verdicts_markdown(verdicts: Sequence[Verdict], versions: Mapping[str, str],
                      claims: Sequence[Claim] | None = None) -> str:
    """The claim table for a CI summary: verdict, the deciding value against the threshold, and why the claim holds.
    `claims`: your own experiment's (normcheck.spec), whose bases and calibration are its own."""
    basis = {c.id: c.basis for c in claims} if claims is not None else {v.claim: get_claim(v.claim).basis for v in verdicts}
    stack = stack_text(versions)
    held = sum(v.holds for v in verdicts)
    lines = [f"### normcheck: {held}/{len(verdicts)} claims hold", "", f"Stack: {stack}.", "",
             "| claim | verdict | value | threshold | why |", "|---|---|---|---|---|"]
    for v in verdicts:
        value = f"{v.statistic:.4g} (worst: seed {v.worst_seed})" if v.over == "each" else f"{v.statistic:.4g} (median)"
        lines.append(f"| `{v.claim}` | {'holds' if v.holds else '**FAILS**'} | {value} | "
                     f"{v.op} {v.threshold:g} | {basis[v.claim]} |")
    lines += ["", "How often each claim fails on a healthy stack: calibration/<backend>.md "
              f"({len(REPLICA_SEEDS)} seeds per backend)." if claims is None else
              "How often each claim fails on a healthy stack: `python -m normcheck calibrate --experiment REF --engine fit`."]
    return "\n".join(lines) + "\n"
