"""Epoch-time benchmarks and the speed targets, as ratios measured in one run."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .experiment import QUESTION_EXPERIMENT
from .question import reported
from .variants import QUESTION_VARIANTS


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
            run = train(v, QUESTION_EXPERIMENT.replace(epochs=epochs, steps_per_execution=spe), seed, diagnostics=False)
            out.append(EpochTimes(v, run.steps_per_execution, run.seconds))
    return out


def epoch_table(times: Sequence[EpochTimes], backend: str) -> str:
    asked = reported()
    lines = [f"epoch seconds on {backend} (epochs after the first; the question: its printed Keras logs, whole seconds)",
             f"{'variant':<30} {'steps/call':>10} {'median':>8} {'min':>8} {'max':>8} | {'asked':>5}"]
    med: dict[tuple[str, int], float] = {}
    for t in times:
        m = statistics.median(t.steady)
        med[(t.variant, t.steps_per_execution)] = m
        s = statistics.median(e.seconds for e in asked[t.variant]) if t.variant in asked else float("nan")
        lines.append(f"{t.variant:<30} {t.steps_per_execution:>10} {m:8.3f} {min(t.steady):8.3f} {max(t.steady):8.3f} | {s:5.0f}")
    for spe in sorted({t.steps_per_execution for t in times}):
        pairs = [("batch_norm", "none"), ("input_and_batch_norm", "input_norm")]
        ratios = [med[(a, spe)] / med[(b, spe)] for a, b in pairs if (a, spe) in med and (b, spe) in med]
        if ratios:
            lines.append(f"BN / no-BN epoch time, {spe} steps per call: "
                         + ", ".join(f"{r:.2f}" for r in ratios) + "   (the question: 3/2 = 1.5)")
    return "\n".join(lines)


@dataclass(frozen=True)
class Overhead:
    """Paired timings of train() against a bare fit of the same compiled model, data and batch order."""

    recorded: list[float]
    bare: list[float]
    recorded_cpu: list[float]
    bare_cpu: list[float]
    probe_share: list[float]

    @property
    def probe(self) -> float:
        """Median over runs of the probe's own seconds per second of bare fit: the precise part of the cost."""
        return statistics.median(self.probe_share)

    @property
    def ratio(self) -> float:
        """Median over pairs of recorded / bare wall time: pairs run back to back, so machine drift cancels."""
        return statistics.median(r / b for r, b in zip(self.recorded, self.bare, strict=True))

    @property
    def ratio_quartiles(self) -> tuple[float, float]:
        q = statistics.quantiles([r / b for r, b in zip(self.recorded, self.bare, strict=True)], n=4)
        return q[0], q[2]

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(r / b for r, b in zip(self.recorded_cpu, self.bare_cpu, strict=True))


def bare_fit(variant: str, experiment, seed: int) -> None:
    """What recording is measured against: the same per-epoch fit calls with no callbacks and no probe."""
    from .data import dataset
    from .training import fit_epochs, prepared_model
    from .variants import get_variant

    v = get_variant(variant)
    x, y = dataset(experiment, v.input_norm)
    model, _ = prepared_model(v, experiment, seed)
    fit_epochs(model, experiment, seed, x, y, [])


def recording_overhead(variant: str = "input_and_batch_norm", epochs: int = 10, repeats: int = 10) -> Overhead:
    """Wall and CPU seconds of train() (callbacks, probe, Run) and of a bare fit, in alternating pairs."""
    from .training import train

    experiment = QUESTION_EXPERIMENT.replace(epochs=epochs)
    train(variant, experiment.replace(epochs=1), 0)
    out: dict[str, list[float]] = {"recorded": [], "bare": [], "recorded_cpu": [], "bare_cpu": [], "probe_share": []}
    probe_seconds = []
    arms = {"recorded": lambda s: probe_seconds.append(train(variant, experiment, s).probe_seconds),
            "bare": lambda s: bare_fit(variant, experiment, s)}
    for i in range(repeats):
        for name in ("recorded", "bare") if i % 2 == 0 else ("bare", "recorded"):
            wall, cpu = time.perf_counter(), time.process_time()
            arms[name](i)
            out[name].append(time.perf_counter() - wall)
            out[f"{name}_cpu"].append(time.process_time() - cpu)
    out["probe_share"] = [p / b for p, b in zip(probe_seconds, out["bare"], strict=True)]
    return Overhead(**out)


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
    return elapsed, out.stdout


def matrix_vs_question_script(backend: str, seeds: int = 5, jobs: int | None = None) -> dict[str, float]:
    """Whole-process wall times in one run: the question's script (TensorFlow, one seed) against normcheck's
    claim matrix (its four variants x `seeds` seeds) and `python -m normcheck` with no options.

    `jobs=None` leaves --jobs at the CLI's default. On JAX the matrix runs twice: with an empty
    compilation cache (cold) and again (warm).
    """
    import tempfile

    from .framework import user_environment

    env = user_environment()
    question_wall, stdout = _timed([sys.executable, "-m", "normcheck.question_script", "tensorflow"], env)
    question_fit = json.loads(stdout.strip().splitlines()[-1])["fit_seconds"]
    cli = [sys.executable, "-m", "normcheck", "--backend", backend, "--quiet"]
    cmd = [*cli, "--seeds", str(seeds), "--variants", ",".join(QUESTION_VARIANTS), *(["--jobs", str(jobs)] if jobs else [])]
    out = {"question_script_wall": question_wall, "question_script_fit": question_fit}
    if backend == "jax":
        with tempfile.TemporaryDirectory(prefix="normcheck-jax-cache-") as cache:
            env = {**env, "NORMCHECK_JAX_CACHE": cache}
            out["matrix_wall_cold"], _ = _timed(cmd, env)
            out["matrix_wall"], _ = _timed(cmd, env)
            out["default_run_wall"], _ = _timed(cli, env)
        return out
    out["matrix_wall"], _ = _timed(cmd, env)
    out["default_run_wall"], _ = _timed(cli, env)
    return out


def overhead_line(o: Overhead) -> str:
    return (f"recording overhead (input_and_batch_norm, 10 epochs, {len(o.bare)} alternating pairs): train() "
            f"{statistics.median(o.recorded):.2f} s vs bare fit {statistics.median(o.bare):.2f} s (medians); "
            f"median paired ratio {o.ratio:.3f} wall (quartiles {o.ratio_quartiles[0]:.3f}-{o.ratio_quartiles[1]:.3f}), "
            f"{o.cpu_ratio:.3f} CPU; the probe's own time is {100 * o.probe:.1f}% of a bare fit")


def matrix_line(m: dict[str, float], backend: str, jobs: int | None) -> str:
    script = m["question_script_wall"]
    cold = (f" (compilation cache cold: {m['matrix_wall_cold']:.1f} s, ratio {m['matrix_wall_cold'] / script:.2f})"
            if "matrix_wall_cold" in m else "")
    return (f"the question's script, one seed, TensorFlow default fit: {script:.1f} s ({m['question_script_fit']:.1f} s in fit)\n"
            f"claim matrix (4 variants x 5 seeds x 10 epochs, {backend}, --jobs {jobs or 'default'}): "
            f"{m['matrix_wall']:.1f} s{cold}; ratio {m['matrix_wall'] / script:.2f}\n"
            f"python -m normcheck, no options ({backend}): {m['default_run_wall']:.1f} s; ratio {m['default_run_wall'] / script:.2f}")
