"""PNG pictures of the story: learning curves, accuracy against input scale, and what `baseline compare` saw move."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .baseline import Cell, Comparison
from .errors import InputError
from .experiment import QUESTION_EXPERIMENT
from .question import reported
from .run import Run
from .sweep import SweepPoint
from .variants import VARIANTS


def _pyplot():
    try:
        import matplotlib  # noqa: PLC0415 -- optional and heavy (an extra): only plotting needs it
    except ImportError:
        raise InputError("plots need matplotlib, which is not installed; allowed: pip install 'normcheck[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- as above, after choosing the Agg backend

    return plt


FORMATS = ("png", "svg", "pdf")


def check_target(path: str | Path) -> str:
    """Before any training: the format the file's suffix asks for is one matplotlib writes, matplotlib is there, the path is writable."""
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InputError(f"plot path {str(path)!r} has suffix {Path(path).suffix!r}; allowed: {', '.join('.' + f for f in FORMATS)}")
    _pyplot()
    files.check_writable(path)
    return fmt


def _save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format=check_target(path), dpi=110, bbox_inches="tight")
    files.write_bytes(path, buf.getvalue())


def learning_curves(runs_by_variant: Mapping[str, Sequence[Run]], path) -> None:
    """Train-mode (what Keras prints) and inference-mode accuracy per epoch; the question's numbers as crosses.

    The bottom row zooms into 0.90-1.00, where the input-normalized variants differ.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    asked = reported()
    panels = (("accuracy", "train-mode accuracy (batch statistics, as Keras prints)"),
              ("eval_accuracy", "inference-mode accuracy (whole data set, after each epoch)"))
    for col, (key, title) in enumerate(panels):
        for row in (0, 1):
            ax = axes[row][col]
            for name, runs in runs_by_variant.items():
                if not runs:
                    continue
                values = np.array([getattr(r, key) for r in runs])
                epochs = np.arange(1, values.shape[1] + 1)
                ax.plot(epochs, np.median(values, axis=0), marker="o", color=VARIANTS[name].color, label=f"{name} ({len(runs)} seed(s))")
                if len(runs) > 1:
                    ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=VARIANTS[name].color, alpha=0.15)
                if key == "accuracy" and name in asked:
                    ax.plot([e.epoch for e in asked[name]], [e.accuracy for e in asked[name]], "x", color=VARIANTS[name].color, ms=8)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(title, fontsize=10)
                ax.set_ylim(0.45, 1.02)
            else:
                ax.set_ylim(0.90, 1.001)
                ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("accuracy (zoom 0.90-1.00)")
    axes[0][0].plot([], [], "kx", label="the question's reported numbers")
    axes[0][0].legend(fontsize=8, loc="center right")
    fig.suptitle("Input vs batch normalization: median over seeds (band: min-max)")
    _save(fig, path)
    plt.close(fig)


def scale_sweep(points: Sequence[SweepPoint], path) -> None:
    """Inference-mode accuracy against max|x| on a log axis, per variant."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in dict.fromkeys(p.variant for p in points):
        pts = [p for p in points if p.variant == name]
        scales = sorted({p.max_abs_x for p in pts})
        acc = [[p.eval_accuracy for p in pts if p.max_abs_x == s] for s in scales]
        ax.plot(scales, [np.median(a) for a in acc], marker="o", color=VARIANTS[name].color, label=name)
        ax.fill_between(scales, [min(a) for a in acc], [max(a) for a in acc], color=VARIANTS[name].color, alpha=0.15)
    question_x = QUESTION_EXPERIMENT.max_abs_x
    ax.axvline(question_x, color="k", ls=":", lw=1)
    ax.text(question_x, 0.52, f" the question's X (max {question_x:g})", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("max |x| of the raw input (X scaled to [0, max])")
    ax.set_ylabel(f"inference-mode accuracy after {points[0].epochs} epoch(s)")
    ax.set_ylim(0.45, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("Where raw inputs stop being learnable (median over seeds, band: min-max)")
    _save(fig, path)
    plt.close(fig)



METRIC_LABELS = {"loss": "train-mode loss", "accuracy": "train-mode accuracy", "eval_accuracy": "inference-mode accuracy"}


def _epochs_text(epochs: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> "epochs 1-3, 5"."""
    spans: list[list[int]] = []
    for e in sorted(epochs):
        if spans and e == spans[-1][1] + 1:
            spans[-1][1] = e
        else:
            spans.append([e, e])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
    return f"epoch{'s' if len(epochs) > 1 else ''} {text}"


def comparison(result: Comparison, path) -> list[Cell]:
    """`baseline compare --plot`: one panel per variant (row) and metric (column), baseline and today per epoch with
    the tolerance band around the baseline; cells beyond tolerance are red crosses, named in their panel's title.

    Returns the marked cells, in the order of `result.cells`. Values are what each cell holds: medians over the
    seeds, or the worst seed's where the regime compares seed by seed (the row's label says which).
    """
    plt = _pyplot()
    variants = list(dict.fromkeys(c.variant for c in result.cells))
    metrics = list(dict.fromkeys(c.metric for c in result.cells))
    rows, cols = max(len(variants), 1), max(len(metrics), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 0.6, 2.0 * rows + 0.9), squeeze=False, sharex=True)
    marked = [c for c in result.cells if not c.ok]
    for i, variant in enumerate(variants):
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            cells = sorted((c for c in result.cells if c.variant == variant and c.metric == metric), key=lambda c: c.epoch)
            if not cells:
                ax.set_axis_off()
                continue
            epochs = [c.epoch for c in cells]
            then = np.array([c.baseline for c in cells])
            tol = np.array([c.tolerance for c in cells])
            ax.fill_between(epochs, then - tol, then + tol, color="0.6", alpha=0.3, lw=0, label="tolerance")
            ax.plot(epochs, then, color="black", marker=".", lw=1, label="baseline")
            ax.plot(epochs, [c.today for c in cells], color="tab:blue", marker=".", lw=1, ls="--", label="today")
            moved = [c for c in cells if not c.ok]
            for c in moved:  # a non-finite value today is drawn on the baseline, and said so in the title
                ax.plot(c.epoch, c.today if math.isfinite(c.today) else c.baseline, "x", color="red", ms=8, mew=2)
            lines = [METRIC_LABELS.get(metric, metric)] if i == 0 else []
            if moved:
                lost = [c.epoch for c in moved if not math.isfinite(c.today)]
                lines.append(f"moved: {_epochs_text([c.epoch for c in moved])}"
                             + (f" ({_epochs_text(lost)} not finite)" if lost else ""))
            ax.set_title("\n".join(lines), fontsize=8, color="red" if moved else "black")
            if j == 0:
                rule = "worst seed" if cells[0].rule == "seed" else "median over seeds"
                ax.set_ylabel(f"{variant}\n({rule})", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if i == rows - 1:
                ax.set_xlabel("epoch", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(axes[0][0].plot([], [], "x", color="red", mew=2)[0])
    labels.append("beyond tolerance")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"baseline compare, regime {result.regime}: {len(marked)} of {len(result.cells)} cells moved", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _save(fig, path)
    plt.close(fig)
    return marked


def spec_curves(s: Any, matrix: Mapping[int, Mapping[str, Any]], variants: Sequence[str], path) -> None:
    """Your own experiment (normcheck.spec): each of fit's logs per epoch, one panel each, every variant's median over
    the seeds with a band from the 10th to the 90th percentile."""
    plt = _pyplot()
    runs = {v: [rs[v] for rs in matrix.values()] for v in variants}
    metrics = list(dict.fromkeys(k for v in variants for k in runs[v][0].history))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, v in enumerate(variants):
            values = np.array([r.history[metric] for r in runs[v]])
            epochs = np.arange(1, values.shape[1] + 1)
            color = colors[i % len(colors)]
            ax.plot(epochs, np.median(values, axis=0), marker="o", color=color, label=v)
            if len(values) > 1:
                ax.fill_between(epochs, *np.percentile(values, [10, 90], axis=0), color=color, alpha=0.15)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{s.name}: median over {len(matrix)} seed(s) (band: 10th-90th percentile)")
    _save(fig, path)
    plt.close(fig)
