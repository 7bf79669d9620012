"""Train a (variant x seed) matrix, in this process or across worker processes."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from . import cluster as cluster_module
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


def _train_chunk(tasks: list[tuple[str, int]], experiment: Experiment | str) -> tuple[str, list[str]]:
    """One block in a worker: the question's experiment, or your own by its reference (normcheck.spec)."""
    if isinstance(experiment, str):
        from .spec_fit import train_block  # noqa: PLC0415 -- spec_fit imports this module

        return f"local {os.getpid()}", train_block(tasks, experiment)
    return f"local {os.getpid()}", [train(v, experiment, s).to_json() for v, s in tasks]


class LocalPool:
    """Worker processes on this machine (the default executor): `blocks` trains each block in one of them."""

    def __init__(self, jobs: int):
        self.workers = jobs

    def blocks(self, blocks: Sequence[list[tuple[str, int]]], experiment: Experiment | str
               ) -> Iterator[tuple[str, list[str]]]:
        ctx = multiprocessing.get_context("spawn")
        initargs = (framework.default_backend(), os.environ.get("TF_USE_LEGACY_KERAS"))
        # The pool's exit terminates its workers at once: on Ctrl-C, SIGTERM (the CLI raises) or an error,
        # queued chunks are dropped and running ones stopped instead of waited for.
        with ctx.Pool(min(self.workers, len(blocks)), _worker_init, initargs) as pool:
            yield from pool.imap_unordered(functools.partial(_train_chunk, experiment=experiment), blocks)
        sys.stderr.flush()

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class Throughput:
    """Runs per worker as blocks come back, for a closing line: how fast the matrix trained, and where."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.runs: dict[str, int] = {}

    def add(self, worker: str, runs: int) -> None:
        self.runs[worker] = self.runs.get(worker, 0) + runs

    def left(self, finished: int, total: int) -> float | None:
        """Seconds until `total` at this session's pace, once a run has finished in it."""
        done = sum(self.runs.values())
        return (time.perf_counter() - self.start) / done * (total - finished) if done else None

    def summary(self) -> str:
        seconds = time.perf_counter() - self.start
        total = sum(self.runs.values())
        each = ", ".join(f"{w} {n} ({n / seconds:.2f}/s)" for w, n in sorted(self.runs.items()))
        return f"{total} runs in {seconds:.1f} s, {total / max(seconds, 1e-9):.2f} runs/s; per worker: {each or 'none'}"


def chunks(tasks: list[tuple[str, int]], jobs: int, largest: int = 6,
           weight: Callable[[list[tuple[str, int]]], int] | None = None) -> list[list[tuple[str, int]]]:
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
    return sorted(out, key=weight or _weight, reverse=True)


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
    cluster: str | cluster_module.Cluster | None = None,
    block: int | None = None,
    throughput: Throughput | None = None,
    log: Callable[[str], None] = print,
) -> RunsBySeed:
    """Every variant for every seed; with jobs > 1, runs are spread over processes, with `cluster` (a Dask scheduler's
    address, or a Cluster already open, which is left open) over that cluster's workers (cluster.py). Runs in `done`
    are not retrained, and a run that comes back twice is recorded once. `block` caps the runs per block (default:
    `chunks`'s); `throughput` counts runs per worker; `log` gets the cluster's refusals."""
    out: RunsBySeed = {s: {} for s in seeds} | by_seed(done)
    tasks = [(v, s) for s in seeds for v in variants if v not in out[s]]
    total = len(tasks) + sum(len(r) for r in out.values())

    def record(run: Run) -> bool:
        if run.variant in out[run.seed]:
            return False
        out[run.seed][run.variant] = run
        if on_run is not None:
            on_run(run, sum(len(r) for r in out.values()), total)
        return True

    if not tasks:
        return out
    if cluster is None and (jobs <= 1 or len(tasks) == 1):
        for v, s in tasks:
            record(train(v, experiment, s, progress=progress))
            if throughput is not None:
                throughput.add("this process", 1)
        return out
    executor: LocalPool | cluster_module.Cluster
    if isinstance(cluster, cluster_module.Cluster):
        executor = cluster
    else:
        executor = LocalPool(jobs) if cluster is None else cluster_module.Cluster(cluster, log=log)
    with contextlib.nullcontext() if executor is cluster else executor:
        cut = chunks(tasks, executor.workers) if block is None else chunks(tasks, executor.workers, largest=block)
        for worker, texts in executor.blocks(cut, experiment):
            kept = [record(Run.from_json(text)) for text in texts]
            if throughput is not None:
                throughput.add(worker, sum(kept))
    return out
