"""Epoch-time benchmarks and the speed targets, as ratios taken within one round of whole-process runs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from . import files
from .constants import DEFAULT_SEEDS
from .data import dataset
from .errors import InputError
from .experiment import QUESTION_EXPERIMENT
from .framework import user_environment
from .parallel import available_cores
from .question import reported
from .question_script import PERMUTATIONS
from .training import fit_epochs, prepared_model, train
from .variants import QUESTION_VARIANTS, get_variant


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
    v = get_variant(variant)
    x, y = dataset(experiment, v.input_norm)
    model, _ = prepared_model(v, experiment, seed)
    fit_epochs(model, experiment, seed, x, y, [])


def recording_overhead(variant: str = "input_and_batch_norm", epochs: int = QUESTION_EXPERIMENT.epochs,
                       repeats: int = 10) -> Overhead:
    """Wall and CPU seconds of train() (callbacks, probe, Run) and of a bare fit, in alternating pairs."""
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


ROUNDS = 3  # `bench --targets` measures each figure this many times, in turn
FIGURES = ("question_script_wall", "one_process_script_wall", "one_process_script_fit", "matrix_wall_cold", "matrix_wall",
           "default_run_wall")  # each a list over the rounds
COMPARATORS = ("question_script_wall", "one_process_script_wall")  # the target's comparator, then the stricter one
QUESTION_SCRIPT = [sys.executable, "-m", "normcheck.question_script", "tensorflow"]


def _timed(cmd: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 1)) -> tuple[float, str]:
    """A whole process's wall time and output; an exit code outside `ok` (normcheck's CLI exits 1 when a claim fails)
    is an error, not a time."""
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
    return elapsed, out.stdout


def posted_script_wall(env: dict[str, str]) -> float:
    """The question's script as its author ran it: one process per permutation of its two commented lines, each
    required to exit 0 having printed its tenth epoch."""
    total = 0.0
    for name in PERMUTATIONS:
        wall, stdout = _timed([*QUESTION_SCRIPT, name], env, ok=(0,))
        if "Epoch 10/10" not in stdout:
            raise RuntimeError(f"the question's script ({name}) exited 0 without printing its tenth epoch")
        total += wall
    return total


def matrix_vs_question_script(backend: str, seed_count: int = DEFAULT_SEEDS, jobs: int | None = None,
                              rounds: int = ROUNDS) -> dict:
    """Whole-process wall times, `rounds` times: the question's script (TensorFlow, one seed) as posted
    (`posted_script_wall`) and silently in one process, against normcheck's claim matrix (its four variants x
    `seed_count` seeds) and `python -m normcheck` with no options. Each figure is a list, one per round, so each
    ratio is taken within a round; the scripts run first in even rounds and last in odd ones, so neither side always
    meets the machine first. `load` is the 1-minute load average as each round starts.

    `jobs=None` leaves --jobs at the CLI's default. On JAX the matrix runs twice a round: with an empty
    compilation cache (cold) and again (warm). The last matrix run's own clocks give `phases`.
    """
    env = user_environment()
    cli = [sys.executable, "-m", "normcheck", "--backend", backend, "--quiet"]
    out: dict = {"rounds": rounds, "load": [], **{key: [] for key in FIGURES}}
    if backend != "jax":
        del out["matrix_wall_cold"]

    def scripts() -> None:
        out["question_script_wall"].append(posted_script_wall(env))
        wall, stdout = _timed(QUESTION_SCRIPT, env, ok=(0,))
        out["one_process_script_wall"].append(wall)
        out["one_process_script_fit"].append(json.loads(stdout.strip().splitlines()[-1])["fit_seconds"])

    for round_ in range(rounds):
        out["load"].append(os.getloadavg()[0])
        if round_ % 2 == 0:
            scripts()
        with tempfile.TemporaryDirectory(prefix="normcheck-bench-") as scratch:
            runs = f"{scratch}/matrix.json"
            cmd = [*cli, "--seeds", str(seed_count), "--variants", ",".join(QUESTION_VARIANTS), "--json", runs,
                   *(["--jobs", str(jobs)] if jobs else [])]
            round_env = env
            if backend == "jax":
                round_env = {**env, "NORMCHECK_JAX_CACHE": f"{scratch}/jax-cache"}
                out["matrix_wall_cold"].append(_timed(cmd, round_env)[0])
            out["matrix_wall"].append(_timed(cmd, round_env)[0])
            if round_ == rounds - 1:
                with open(runs) as f:
                    out["phases"] = phases(json.load(f)["runs"], out["matrix_wall"][-1], jobs or available_cores())
            out["default_run_wall"].append(_timed(cli, round_env)[0])
        if round_ % 2 == 1:
            scripts()
    return out


def ratios(m: dict, key: str, comparator: str = COMPARATORS[0]) -> list[float]:
    """`key`'s wall over the comparator's, round by round."""
    return [a / b for a, b in zip(m[key], m[comparator], strict=True)]


def ratio_text(m: dict, key: str, comparator: str = COMPARATORS[0]) -> str:
    """A ratio's median over the rounds (in bold against the target's comparator), with its range where there is more
    than one."""
    r = ratios(m, key, comparator)
    median = f"{statistics.median(r):.2f}"
    spread = f" ({min(r):.2f}-{max(r):.2f})" if len(r) > 1 else ""
    return (f"**{median}**" if comparator == COMPARATORS[0] else median) + spread


def medians(m: dict) -> dict[str, float]:
    """Each measured figure's median over the rounds."""
    return {key: statistics.median(m[key]) for key in FIGURES if key in m}


def phases(runs: Sequence[dict], wall: float, jobs: int) -> dict[str, float]:
    """Where a matrix's time went, from its runs' own clocks: worker-seconds in each phase.

    `epochs` is time inside fit between epoch callbacks; `first_epoch_extra` the first epochs' excess over
    the run's steady epoch (tracing, first-call set-up); `probe` the diagnostics; `rest` what the workers'
    share of the wall leaves: process start and imports, model set-up, data, handing runs back, idle.
    """
    epochs = sum(sum(r["seconds"]) for r in runs)
    first = sum(r["seconds"][0] - statistics.median(r["seconds"][1:]) for r in runs if len(r["seconds"]) > 1)
    probe = sum(r.get("probe_seconds", 0.0) for r in runs)
    steady = statistics.median(s for r in runs for s in r["seconds"][1:])
    workers = min(jobs, len(runs))
    return {"wall": wall, "workers": workers, "runs": len(runs), "epochs": epochs, "first_epoch_extra": first,
            "steady_epoch": steady, "probe": probe, "rest": workers * wall - epochs - probe}


def overhead_line(o: Overhead) -> str:
    return (f"recording overhead (input_and_batch_norm, {QUESTION_EXPERIMENT.epochs} epochs, {len(o.bare)} alternating "
            "pairs): train() "
            f"{statistics.median(o.recorded):.2f} s vs bare fit {statistics.median(o.bare):.2f} s (medians); "
            f"median paired ratio {o.ratio:.3f} wall (quartiles {o.ratio_quartiles[0]:.3f}-{o.ratio_quartiles[1]:.3f}), "
            f"{o.cpu_ratio:.3f} CPU; the probe's own time is {100 * o.probe:.1f}% of a bare fit")


def matrix_line(m: dict, backend: str, jobs: int | None) -> str:
    med = medians(m)
    cold = (f" (compilation cache cold: {med['matrix_wall_cold']:.1f} s, ratio {ratio_text(m, 'matrix_wall_cold')})"
            if "matrix_wall_cold" in med else "")
    return (f"medians over {m['rounds']} rounds; ratios within a round, median (range)\n"
            f"the question's script as posted, TensorFlow, one seed, four processes: {med['question_script_wall']:.1f} s; "
            f"silently in one process: {med['one_process_script_wall']:.1f} s ({med['one_process_script_fit']:.1f} s in fit)\n"
            f"claim matrix ({MATRIX}, {backend}, --jobs {jobs or 'default'}): "
            f"{med['matrix_wall']:.1f} s{cold}; ratio {ratio_text(m, 'matrix_wall')}, "
            f"{ratio_text(m, 'matrix_wall', COMPARATORS[1])} against one process\n"
            f"python -m normcheck, no options ({backend}): {med['default_run_wall']:.1f} s; ratio "
            f"{ratio_text(m, 'default_run_wall')}, {ratio_text(m, 'default_run_wall', COMPARATORS[1])} "
            "against one process"
            + ("\n" + phase_table(m["phases"]) if "phases" in m else ""))


def phase_table(p: dict[str, float]) -> str:
    """The matrix's phases as a Markdown table, in worker-seconds and as shares of the workers' time."""
    total = p["workers"] * p["wall"]
    rows = [("epochs inside `fit`", p["epochs"]),
            ("of which first epochs beyond a steady one (tracing, first call)", p["first_epoch_extra"]),
            ("probe (diagnostics, outside the epoch clocks)", p["probe"]),
            ("rest: process start and imports, model set-up, data, handing runs back, idle", p["rest"])]
    lines = [f"| phase ({p['runs']:.0f} runs, {p['workers']:.0f} workers, wall {p['wall']:.1f} s) | worker-seconds | share |",
             "|---|---|---|"]
    lines += [f"| {name} | {value:.1f} | {value / total:.0%} |" for name, value in rows]
    lines.append(f"| steady epoch, median | {p['steady_epoch']:.3f} s | |")
    return "\n".join(lines)


MATRIX = f"{len(QUESTION_VARIANTS)} variants x {DEFAULT_SEEDS} seeds x {QUESTION_EXPERIMENT.epochs} epochs"  # the timed claim matrix
README_START = "<!-- speed:start (generated by `python -m normcheck bench --readme docs/performance.md`) -->"
README_END = "<!-- speed:end -->"
RESULTS = ("docs/bench-tensorflow.json", "docs/bench-jax.json")
MATRIX_TARGETS = {"tensorflow": 0.5, "jax": 0.2}  # the claim matrix, as a share of the question's script
DEFAULT_RUN_TARGETS = {"tensorflow": 0.5}  # `python -m normcheck` with no options (every variant, the default seeds)


def readme_block(results: dict[str, dict]) -> str:
    """The speed block (docs/performance.md) from `bench --targets --json` results per backend: the targets, judged
    against both comparators (by the median of the rounds' ratios), and the phases."""
    def both(m: dict, key: str, target: float | None) -> str:
        if target is None:
            return ""
        return " / ".join(("met" if statistics.median(ratios(m, key, c)) <= target else "not met") for c in COMPARATORS)

    def shown(m: dict, key: str) -> str:
        return f"{ratio_text(m, key)}; in one process {ratio_text(m, key, COMPARATORS[1])}"

    rounds = {result["matrix_vs_question_script"]["rounds"] for result in results.values()}
    lines = [README_START, "",
             f"| target | measured: whole processes, medians of {' or '.join(map(str, sorted(rounds)))} rounds; each "
             "ratio taken within a round against the script as posted, then against it run silently in one process: "
             "median (range) | met: as posted / in one process |",
             "|---|---|---|"]
    for backend, result in results.items():
        m = result["matrix_vs_question_script"]
        med = medians(m)
        target = MATRIX_TARGETS.get(backend)
        judged = both(m, "matrix_wall", target)
        cold = ""
        if "matrix_wall_cold" in m:
            cold = (f"; with an empty compilation cache {med['matrix_wall_cold']:.1f} s, {shown(m, 'matrix_wall_cold')}")
            judged = f"warm {judged}; cold {both(m, 'matrix_wall_cold', target)}" if target else ""
        lines.append(f"| {backend}: {MATRIX}{f' at most {target}x' if target else ''} the question's script | "
                     f"{med['matrix_wall']:.1f} s vs {med['question_script_wall']:.1f} s as posted and "
                     f"{med['one_process_script_wall']:.1f} s in one process: {shown(m, 'matrix_wall')}"
                     f"{' (compilation cache warm: the CLI keeps one)' if cold else ''}{cold} | {judged} |")
        target = DEFAULT_RUN_TARGETS.get(backend)
        lines.append(f"| {backend}: `python -m normcheck`, no options{f' at most {target}x' if target else ''} | "
                     f"{med['default_run_wall']:.1f} s: {shown(m, 'default_run_wall')} | "
                     f"{both(m, 'default_run_wall', target)} |")
    lines.append("")
    for backend, result in results.items():
        if "phases" in result["matrix_vs_question_script"]:
            lines += [f"Where the {backend} matrix's time goes (its last round):", "",
                      phase_table(result["matrix_vs_question_script"]["phases"]), ""]
    lines.append(README_END)
    return "\n".join(lines)


def load_results(paths: Sequence[str]) -> dict[str, dict]:
    """`bench --targets --json` files by backend; each must hold the targets' measurements."""
    out = {}
    for path in paths:
        data = files.read_json(path, "bench results")
        targets = data.get("matrix_vs_question_script") if isinstance(data, dict) else None
        if not (isinstance(targets, dict) and "rounds" in targets and "backend" in data):
            raise InputError(f"{path!r} holds no speed targets measured in rounds; allowed: a file written by "
                             "`python -m normcheck bench --targets --json PATH` since rounds were added")
        out[data["backend"]] = data
    return out


def write_readme(readme: str, paths: Sequence[str] = RESULTS) -> None:
    """Replace the speed block in `readme` (docs/performance.md) with `readme_block` of the stored results."""
    files.replace_block(readme, README_START, README_END, lambda: readme_block(load_results(paths)))
