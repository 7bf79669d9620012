"""Accuracy against input scale: where raw inputs stop being learnable."""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from . import cluster as cluster_module
from . import parallel
from .experiment import QUESTION_EXPERIMENT, Experiment
from .run import Run

MAX_PER_DECADE = 100  # a finer grid is a training run per point per seed, and says nothing new
MAX_RUNS = 10_000  # variants x points x seeds: about three hours of one-epoch runs
SCALE_RANGE = (1e-30, 1e30)  # max|x|: float32 holds the data at both ends (the experiment allows |x| up to 1e30)
SWEEP_VARIANTS = ("none", "batch_norm", "input_norm", "batch_norm_before_activation")


@dataclass(frozen=True)
class SweepPoint:
    variant: str
    max_abs_x: float
    seed: int
    epochs: int
    accuracy: float
    eval_accuracy: float


def grid(low: float = 1.0, high: float = 1e6, per_decade: int = 2) -> list[float]:
    """max|x| on a log grid; the question's own (24999) is always included."""
    n = round(np.log10(high / low) * per_decade) + 1
    points = {float(f"{v:.3g}") for v in np.logspace(np.log10(low), np.log10(high), n)}
    return sorted(points | {QUESTION_EXPERIMENT.max_abs_x})


def experiment_for(max_abs_x: float, epochs: int, base: Experiment = QUESTION_EXPERIMENT) -> Experiment:
    return base.replace(scale=max_abs_x / (base.n_samples - 1), epochs=epochs)


def sweep(variants: Sequence[str], scales: Sequence[float], seeds: Sequence[int], epochs: int,
          log: Callable[[str], None] | None = None, cluster: str | None = None) -> list[SweepPoint]:
    """Every (variant, scale, seed), here or on the Dask cluster at `cluster` (one scale's runs at a time)."""
    total = len(variants) * len(scales) * len(seeds)
    finished = 0

    def logged(run: Run, *_: int) -> None:
        nonlocal finished
        finished += 1
        if log:
            log(f"[{finished}/{total}] {run.variant} max|x|={run.experiment.max_abs_x:g} seed {run.seed}: inference "
                f"accuracy {run.eval_accuracy[-1]:.4f}")

    warn = log or (lambda line: print(line, file=sys.stderr, flush=True))
    with cluster_module.Cluster(cluster, log=warn) if cluster else contextlib.nullcontext() as open_cluster:
        matrices = {s: parallel.train_matrix(variants, seeds, experiment_for(s, epochs), on_run=logged,
                                             cluster=open_cluster) for s in scales}
    return [SweepPoint(v, s, seed, epochs, matrices[s][seed][v].accuracy[-1], matrices[s][seed][v].eval_accuracy[-1])
            for v in variants for s in scales for seed in seeds]


def to_csv(points: Sequence[SweepPoint]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(asdict(points[0])))
    writer.writeheader()
    writer.writerows(asdict(p) for p in points)
    return buf.getvalue()
