"""Train a (variant x seed) matrix, in this process or across worker processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from .experiment import Experiment
from .run import Matrix, Run, by_seed


def _worker_init(backend: str, legacy: str | None) -> None:
    if legacy is not None:
        os.environ["TF_USE_LEGACY_KERAS"] = legacy
    from . import framework

    framework.select_backend(backend)
    framework.skip_tensorflow()
    framework.quiet_startup()


def _train_chunk(tasks: list[tuple[str, int]], experiment: Experiment) -> list[str]:
    from .training import train

    return [train(v, experiment, s).to_json() for v, s in tasks]


def chunks(tasks: list[tuple[str, int]], jobs: int, largest: int = 6) -> list[list[tuple[str, int]]]:
    """Variant-major slices, at least two per worker: a worker compiles each variant it meets
    once (about a second on JAX), so contiguous slices of one variant save compiles, and
    small slices keep both workers busy to the end."""
    rank = {v: i for i, v in enumerate(dict.fromkeys(v for v, _ in tasks))}
    ordered = sorted(tasks, key=lambda t: (rank[t[0]], t[1]))
    size = max(1, min(largest, -(-len(ordered) // (2 * jobs))))
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def train_matrix(
    variants: Sequence[str],
    seeds: Sequence[int],
    experiment: Experiment,
    *,
    jobs: int = 1,
    on_run: Callable[[Run, int, int], None] | None = None,
    progress=None,
    done: Sequence[Run] = (),
) -> Matrix:
    """Every variant for every seed; with jobs > 1, runs are spread over processes. Runs in `done` are not retrained."""
    from . import framework

    out: Matrix = {s: {} for s in seeds} | by_seed(done)
    tasks = [(v, s) for s in seeds for v in variants if v not in out[s]]
    total = len(tasks) + sum(len(r) for r in out.values())

    def record(run: Run) -> None:
        out[run.seed][run.variant] = run
        if on_run is not None:
            on_run(run, sum(len(r) for r in out.values()), total)

    if not tasks:
        return out
    if jobs <= 1 or len(tasks) == 1:
        from .training import train

        for v, s in tasks:
            record(train(v, experiment, s, progress=progress))
        return out
    import multiprocessing

    backend = framework.default_backend()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx, initializer=_worker_init,
                             initargs=(backend, os.environ.get("TF_USE_LEGACY_KERAS"))) as pool:
        futures = [pool.submit(_train_chunk, chunk, experiment) for chunk in chunks(tasks, jobs)]
        for fut in as_completed(futures):
            for text in fut.result():
                record(Run.from_json(text))
    sys.stderr.flush()
    return out
