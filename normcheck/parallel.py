"""Train a (variant x seed) matrix, in this process or across worker processes."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from . import framework
from .experiment import Experiment
from .run import Run, RunsBySeed, by_seed
from .training import train
from .variants import get_variant


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), the default for --jobs."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _worker_init(backend: str, legacy: str | None) -> None:
    """A worker: its parent's backend, Ctrl-C left to the parent (which stops the pool), gone when the parent is."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def leave_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=leave_with_parent, daemon=True).start()
    if legacy is not None:
        os.environ["TF_USE_LEGACY_KERAS"] = legacy
    framework.select_backend(backend)
    framework.skip_tensorflow()
    framework.quiet_startup()


def _train_chunk(tasks: list[tuple[str, int]], experiment: Experiment) -> list[str]:
    return [train(v, experiment, s).to_json() for v, s in tasks]


def chunks(tasks: list[tuple[str, int]], jobs: int, largest: int = 6) -> list[list[tuple[str, int]]]:
    """Chunks of one variant each, at least two per worker where there are enough runs, heaviest first.

    A worker traces each variant it meets once, so a chunk keeps to one variant;
    small chunks, handed out as workers free up, keep both workers busy to the end
    (five variants of one seed: no chunk of two variants held back for one worker
    while the other idles).
    """
    size = max(1, min(largest, -(-len(tasks) // (2 * jobs))))
    by_variant: dict[str, list[tuple[str, int]]] = {}
    for task in tasks:
        by_variant.setdefault(task[0], []).append(task)
    out = []
    for runs in by_variant.values():
        runs.sort(key=lambda t: t[1])
        out += [runs[i:i + size] for i in range(0, len(runs), size)]
    return sorted(out, key=_weight, reverse=True)


def _weight(chunk: list[tuple[str, int]]) -> int:
    """A chunk's cost, as runs times the ops between input and output a step goes through (BN adds one).

    Handed out heaviest first, the chunks that end the matrix are light ones, so the
    workers finish together instead of one training two BN variants while the other idles.
    """
    return len(chunk) * len(get_variant(chunk[0][0]).hidden)


def train_matrix(
    variants: Sequence[str],
    seeds: Sequence[int],
    experiment: Experiment,
    *,
    jobs: int = 1,
    on_run: Callable[[Run, int, int], None] | None = None,
    progress=None,
    done: Sequence[Run] = (),
) -> RunsBySeed:
    """Every variant for every seed; with jobs > 1, runs are spread over processes. Runs in `done` are not retrained."""
    out: RunsBySeed = {s: {} for s in seeds} | by_seed(done)
    tasks = [(v, s) for s in seeds for v in variants if v not in out[s]]
    total = len(tasks) + sum(len(r) for r in out.values())

    def record(run: Run) -> None:
        out[run.seed][run.variant] = run
        if on_run is not None:
            on_run(run, sum(len(r) for r in out.values()), total)

    if not tasks:
        return out
    if jobs <= 1 or len(tasks) == 1:
        for v, s in tasks:
            record(train(v, experiment, s, progress=progress))
        return out
    ctx = multiprocessing.get_context("spawn")
    initargs = (framework.default_backend(), os.environ.get("TF_USE_LEGACY_KERAS"))
    # The pool's exit terminates its workers at once: on Ctrl-C, SIGTERM (the CLI raises) or an error,
    # queued chunks are dropped and running ones stopped instead of waited for.
    with ctx.Pool(min(jobs, len(tasks)), _worker_init, initargs) as pool:
        for texts in pool.imap_unordered(functools.partial(_train_chunk, experiment=experiment), chunks(tasks, jobs)):
            for text in texts:
                record(Run.from_json(text))
    sys.stderr.flush()
    return out
