"""Epoch-time benchmarks and the speed targets, as ratios measured in one run."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .experiment import SEED_EXPERIMENT
from .seed import reported

SEED_FOUR = ("none", "batch_norm", "input_norm", "input_and_batch_norm")


@dataclass(frozen=True)
class EpochTimes:
    variant: str
    steps_per_execution: int
    seconds: list[float]

    @property
    def steady(self) -> list[float]:
        """Epochs after the first, which also traces the training function."""
        return self.seconds[1:] or self.seconds


def epoch_times(variants: Sequence[str], epochs: int, seed: int = 0, slow_too: bool = True) -> list[EpochTimes]:
    from .training import train

    out = []
    for spe in ((1, None) if slow_too else (None,)):
        for v in variants:
            run = train(v, SEED_EXPERIMENT.replace(epochs=epochs, steps_per_execution=spe), seed, diagnostics=False)
            out.append(EpochTimes(v, run.steps_per_execution, run.seconds))
    return out


def epoch_table(times: Sequence[EpochTimes], backend: str) -> str:
    seed = reported()
    lines = [f"epoch seconds on {backend} (epochs after the first; the seed: its printed Keras logs, whole seconds)",
             f"{'variant':<30} {'steps/call':>10} {'median':>8} {'min':>8} {'max':>8} | {'seed':>5}"]
    med: dict[tuple[str, int], float] = {}
    for t in times:
        m = statistics.median(t.steady)
        med[(t.variant, t.steps_per_execution)] = m
        s = statistics.median(e.seconds for e in seed[t.variant]) if t.variant in seed else float("nan")
        lines.append(f"{t.variant:<30} {t.steps_per_execution:>10} {m:8.3f} {min(t.steady):8.3f} {max(t.steady):8.3f} | {s:5.0f}")
    for spe in sorted({t.steps_per_execution for t in times}):
        pairs = [("batch_norm", "none"), ("input_and_batch_norm", "input_norm")]
        ratios = [med[(a, spe)] / med[(b, spe)] for a, b in pairs if (a, spe) in med and (b, spe) in med]
        if ratios:
            lines.append(f"BN / no-BN epoch time, {spe} steps per call: "
                         + ", ".join(f"{r:.2f}" for r in ratios) + "   (the seed: 3/2 = 1.5)")
    return "\n".join(lines)


def recording_overhead(variant: str = "input_and_batch_norm", epochs: int = 10, repeats: int = 6) -> tuple[float, float]:
    """Wall seconds of train() with and without normcheck's recording, interleaved; medians."""
    from .training import train

    experiment = SEED_EXPERIMENT.replace(epochs=epochs)
    train(variant, experiment.replace(epochs=1), 0)
    with_rec, bare = [], []
    for i in range(repeats):
        for diag, bucket in ((True, with_rec), (False, bare)) if i % 2 == 0 else ((False, bare), (True, with_rec)):
            start = time.perf_counter()
            train(variant, experiment, i, diagnostics=diag)
            bucket.append(time.perf_counter() - start)
    return statistics.median(with_rec), statistics.median(bare)


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
    return elapsed, out.stdout


def matrix_vs_seed_script(backend: str, seeds: int = 5, jobs: int = 2) -> dict[str, float]:
    """Whole-process wall times: the seed's script (TensorFlow, one seed) vs normcheck's claim matrix."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    seed_wall, stdout = _timed([sys.executable, "-m", "normcheck.seedscript", "tensorflow"], env)
    seed_fit = json.loads(stdout.strip().splitlines()[-1])["fit_seconds"]
    matrix_wall, _ = _timed([sys.executable, "-m", "normcheck", "--backend", backend, "--seeds", str(seeds),
                             "--variants", ",".join(SEED_FOUR), "--jobs", str(jobs), "--quiet"], env)
    return {"seed_script_wall": seed_wall, "seed_script_fit": seed_fit, "matrix_wall": matrix_wall,
            "ratio": matrix_wall / seed_wall}


def main(backend: str, epochs: int, variants: Sequence[str], targets: bool, jobs: int) -> int:
    print(epoch_table(epoch_times(variants, epochs, slow_too=backend != "torch"), backend), flush=True)
    if targets:
        rec, bare = recording_overhead()
        print(f"\nrecording overhead: train() {rec:.2f} s with diagnostics vs {bare:.2f} s bare "
              f"(10 epochs, input_and_batch_norm): +{100 * (rec / bare - 1):.1f}%", flush=True)
        m = matrix_vs_seed_script(backend, jobs=jobs)
        print(f"claim matrix (4 variants x 5 seeds x 10 epochs, {backend}, --jobs {jobs}): {m['matrix_wall']:.1f} s; "
              f"the seed's script, one seed, TensorFlow default fit: {m['seed_script_wall']:.1f} s "
              f"({m['seed_script_fit']:.1f} s in fit); ratio {m['ratio']:.2f}")
    return 0

