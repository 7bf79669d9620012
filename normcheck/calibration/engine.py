"""The calibration engines: real fit over a (variant x seed) matrix, and a replica of `fit` over many seeds at once.

`collect` trains real fit (parallel.py) and keeps every run as it finishes (store.py),
resuming an interrupted calibration of the same setup.

The replica is the calibration engine, never the checked path.

Real training goes through `keras.Model.fit` (training.py). To say how often a claim
or a comparison fails on a healthy stack takes thousands of seeds, which fit cannot
train in minutes. The replica runs the same math (the oracle's, oracle.py) in JAX,
float32, with `vmap` over seeds and `lax.scan` over the steps of an epoch: each
seed starts from the initial weights its Keras backend draws (Keras's own
initializers, held to a real build per seed), sees normcheck's batch order, and
yields a `Run` with what Keras prints (train-mode loss and accuracy as epoch means)
and the inference-mode metrics and diagnostics (diagnostics.compute_many, held to
compute, the function the real path uses). The suite
holds it to real fit (tests/regression/test_replica.py): seed by seed where the
trajectories are stable, in distribution where float32 makes them chaotic.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache, partial
from pathlib import Path

import numpy as np

from .. import diagnostics, files, framework, oracle, parallel, worker
from .. import seeds as seeds_module
from ..data import dataset, epoch_order
from ..errors import InputError
from ..experiment import QUESTION_EXPERIMENT, Experiment
from ..run import Run
from ..variants import BN, TANH, VARIANTS, Variant, build_model, get_variant
from . import store

ENGINES = ("replica", "fit")
REPLICA = "replica"  # the engine's name in a replica Run's versions
SEED_BATCH = 500  # seeds per compiled program: XLA fuses by shape, so a seed's float32 results depend on it


def collect(seeds: Iterable[int], path: str | Path, experiment: Experiment = QUESTION_EXPERIMENT,
            variants: Iterable[str] = tuple(VARIANTS), log=print, jobs: int = 1, cluster: str | None = None,
            warn: Callable[[str], None] | None = None) -> list[Run]:
    """Train every (variant, seed) and write the runs to `path` (JSON lines), resuming a partial file of the same setup.

    The partial file's first line records the setup (experiment, backend, variants); a
    partial left by another setup is refused before any training, naming what differs.
    A finished `path` of the same setup is read back for the seeds asked for again (a held-out
    range continued, ledger.py): only the new seeds train.
    Runs are written as their blocks finish, from worker processes or from a Dask cluster
    (`cluster`, its scheduler's address): an interruption loses at most the blocks in flight.
    `warn` (default: stderr) gets what a cluster refuses, which `log` (progress) may keep quiet.
    """
    path = Path(path)
    seeds = list(seeds)
    variants = list(variants)
    partial = path.with_name(path.name + ".partial")
    setup = {"setup": {"experiment": experiment.to_dict(), "backend": framework.default_backend(), "variants": variants}}
    fresh = not partial.exists()
    extended = fresh and _extend(path, partial, setup, seeds)
    done = store.resume(partial, setup) if partial.exists() else []
    pace = parallel.Throughput()
    try:
        matrix = _collect_into(partial, setup, seeds, experiment, variants, log, jobs, cluster, done, pace,
                               warn or _stderr)
    except BaseException:
        if fresh and not pace.runs and (extended or not store.resume(partial, setup)):  # nothing new: no file left
            partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    if pace.runs:
        log(pace.summary())
    return [matrix[s][v] for s in sorted(matrix) for v in variants if v in matrix[s]]


def _extend(path: Path, partial: Path, setup: dict, seeds: list[int]) -> bool:
    """Start `partial` with the runs the finished `path` holds of this same setup, on this process's stack, for seeds
    asked for again (a held-out range continued, ledger.py), as the replica's `grow` does: only the other seeds train,
    and the file ends up holding the seeds asked for. A file of another setup is replaced as before; one that cannot
    be read is refused before any training."""
    if not path.exists() or store.setup_line(path) != setup:
        return False
    now = framework.versions()
    stack = (*worker.FINGERPRINT, now["backend"])
    asked = set(seeds)
    kept = [r for r in store.load_fit_runs(path)
            if r.seed in asked and all(r.versions.get(k) == now.get(k) for k in stack)]
    if not kept:
        return False
    files.write_text(partial, "".join(line + "\n" for line in [json.dumps(setup), *(r.to_json() for r in kept)]))
    return True


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _collect_into(partial: Path, setup: dict, seeds: Iterable[int], experiment: Experiment, variants: list[str], log,
                  jobs: int, cluster: str | None, done: list[Run], pace: parallel.Throughput, warn: Callable[[str], None]):
    """The matrix, each run appended to `partial` as it finishes (its first line the setup)."""
    with partial.open("a") as fh:
        if partial.stat().st_size == 0:
            fh.write(json.dumps(setup) + "\n")

        def keep(run: Run, finished: int, total: int) -> None:
            fh.write(run.to_json() + "\n")
            fh.flush()
            left = pace.left(finished, total)
            eta = f", about {_clock(left)} left" if left is not None else ""
            log(f"[{finished}/{total}] {run.variant} seed={run.seed}: accuracy {run.accuracy[0]:.4f} -> "
                f"{run.accuracy[-1]:.4f}, {sum(run.seconds):.1f} s{eta}")

        return parallel.train_matrix(variants, list(seeds), experiment, jobs=jobs, on_run=keep, done=done,
                                     cluster=cluster, throughput=pace, log=warn)


COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}
"""XLA options for the replica's programs: without XLA CPU's YNNPACK fusions its many small per-seed operations run
faster (docs/performance.md). Float32 results move in their last digits, so the stored replica runs were made with
these options; a JAX that does not know them compiles with its defaults."""


@cache
def _compiler_options(xla_defaults: bool = False) -> dict[str, str]:
    """COMPILER_OPTIONS where this JAX knows them; none with `xla_defaults` (JAX's defaults, compare's close regime)."""
    if xla_defaults:
        return {}
    jax, jnp = _jax()
    try:
        jax.jit(jnp.tanh, compiler_options=COMPILER_OPTIONS)(jnp.zeros(1)).block_until_ready()
    except (TypeError, RuntimeError):  # an older jit without the argument, or an XLA without the option
        return {}
    return COMPILER_OPTIONS


def _jax():
    try:
        import jax  # noqa: PLC0415 -- a framework, optional: imported when the replica runs
        import jax.numpy as jnp  # noqa: PLC0415 -- as above
    except ImportError:
        raise InputError("the replica needs JAX: pip install 'normcheck[jax]'") from None
    return jax, jnp


def initial_weights(seed_list: Sequence[int], experiment: Experiment = QUESTION_EXPERIMENT) -> dict[str, np.ndarray]:
    """Each seed's initial weights as this process's Keras backend draws them, stacked on a leading seed axis.

    Every variant draws the same numbers for a seed: its dense and output kernels are the only random
    weights, each from a GlorotUniform initializer that takes its seed from Python's `random` when the layer
    is made, in that order. So one real build gives the constant weights, and per seed the two initializers
    are called directly after `set_random_seed`, as a build would (tests/regression/test_replica.py holds this
    to a real build per seed on each backend): a build per seed costs more than the training.
    """
    keras = framework.keras()
    template = built_weights(seeds_module.check(seed_list[0]), experiment) if len(seed_list) else {}
    out = {name: np.repeat(value[None], len(seed_list), axis=0) for name, value in template.items()}
    units = experiment.hidden_units
    for i, seed in enumerate(seed_list):
        keras.utils.set_random_seed(seeds_module.check(seed))
        dense, output = keras.initializers.GlorotUniform(), keras.initializers.GlorotUniform()
        out["dense/kernel"][i] = framework.to_numpy(dense((1, units), dtype="float32"))
        out["output/kernel"][i] = framework.to_numpy(output((units, 1), dtype="float32"))
    return out


def built_weights(seed: int, experiment: Experiment = QUESTION_EXPERIMENT) -> dict[str, np.ndarray]:
    """One seed's initial weights, float32, from a real build of the BN variant after `set_random_seed`."""
    framework.keras().utils.set_random_seed(seed)
    weights = oracle.weights_from_model(build_model("batch_norm", experiment), "batch_norm")
    return {name: value.astype(np.float32) for name, value in weights.items()}


def _forward(jnp, variant: Variant, p: dict, x, *, training: bool):
    """Logits and BN's batch statistics for one seed's inputs x of shape (n,)."""
    eps = oracle.DEFAULTS["bn_epsilon"]
    a = x[:, None] * p["dense/kernel"][0] + p["dense/bias"]
    stats = None
    for op in variant.hidden[1:]:
        if op == TANH:
            a = jnp.tanh(a)
        elif op == BN:
            if training:
                mean = a.mean(axis=0)
                var = jnp.mean(jnp.square(a - mean), axis=0)
                stats = (mean, var)
            else:
                mean, var = p["bn/moving_mean"], p["bn/moving_variance"]
            a = (a - mean) / jnp.sqrt(var + eps) * p["bn/gamma"] + p["bn/beta"]
    return a @ p["output/kernel"][:, 0] + p["output/bias"][0], stats


def _loss(jnp, loss_mode: str, z, y):
    if loss_mode == "logits":
        return oracle.bce_from_logits(jnp, z, y)
    return oracle.bce_from_probs(jnp, 1 / (1 + jnp.exp(-z)), y)


def _programs(variant: Variant, loss_mode: str, xla_defaults: bool = False):
    """The jitted epoch (scan over steps, vmap over seeds), inference pass and batch gather for one variant;
    `xla_defaults` compiles them with JAX's default options instead of COMPILER_OPTIONS."""
    jax, jnp = _jax()
    options = _compiler_options(xla_defaults)
    mom = oracle.DEFAULTS["bn_momentum"]
    trainable = [k for k in oracle.PARAMS if variant.batch_norm or not k.startswith("bn/")]

    def batch_loss(params, fixed, x, y):
        z, stats = _forward(jnp, variant, {**params, **fixed}, x, training=True)
        return _loss(jnp, loss_mode, z, y).mean(), (z, stats)

    grad = jax.vmap(jax.value_and_grad(batch_loss, has_aux=True))

    def step(carry, batch):
        params, fixed, m, v, t = carry
        x, y = batch
        (loss, (z, stats)), g = grad(params, fixed, x, y)
        accuracy = ((z > 0) == (y > 0.5)).mean(axis=1)
        if stats is not None:
            fixed = {"bn/moving_mean": fixed["bn/moving_mean"] * mom + stats[0] * (1 - mom),
                     "bn/moving_variance": fixed["bn/moving_variance"] * mom + stats[1] * (1 - mom)}
        t = t + 1
        alpha = oracle.adam_alpha(jnp, t)
        moments = {k: oracle.adam_moments(m[k], v[k], g[k]) for k in params}
        m = {k: moments[k][0] for k in params}
        v = {k: moments[k][1] for k in params}
        params = {k: oracle.adam_apply(jnp, params[k], m[k], v[k], alpha) for k in params}
        return (params, fixed, m, v, t), (loss, accuracy)

    @partial(jax.jit, compiler_options=options)
    def epoch(carry, xs, ys):
        return jax.lax.scan(step, carry, (xs, ys))

    @partial(jax.jit, compiler_options=options)
    def probs(weights, x):
        return jax.lax.map(lambda w: jax.nn.sigmoid(_forward(jnp, variant, w, x, training=False)[0]), weights)

    return trainable, epoch, probs, _gather(xla_defaults)


class _SeedBatch:
    """What every variant of one batch of seeds shares: each epoch's batch order on the device, and BN's batches
    for the diagnostics (per input scaling), computed once instead of once per variant."""

    def __init__(self, seeds: list[int], experiment: Experiment):
        _, jnp = _jax()
        n, bs = experiment.n_samples, experiment.batch_size
        self.seeds = seeds
        self.orders = [jnp.asarray(np.stack([epoch_order(s, e, n) for s in seeds]).astype(np.int32)
                                   .reshape(len(seeds), n // bs, bs).transpose(1, 0, 2))
                       for e in range(experiment.epochs)]
        self.data = {norm: _Data(experiment, norm, seeds) for norm in (False, True)}


class _Data:
    """One input scaling's data set: on the host for the diagnostics, on the device for training and inference."""

    def __init__(self, experiment: Experiment, input_norm: bool, seeds: list[int]):
        _, jnp = _jax()
        self.x, self.y = dataset(experiment, input_norm)
        self.inputs = diagnostics.Inputs(self.x, self.y, experiment.batch_size, seeds[0])
        self.batch_x = diagnostics.batch_x_many(self.x, experiment.batch_size, seeds)
        self.xj, self.yj = jnp.asarray(self.x.ravel()), jnp.asarray(self.y.ravel())


DIAGNOSTIC_BATCH = 50  # seeds per batched diagnostic call: its float64 arrays stay in cache


def _snapshot(variant: Variant, probs, weights: dict, data: _Data) -> dict[str, np.ndarray]:
    """Every seed's diagnostics (diagnostics.compute_many, held to the real probe's `compute`) from the replica's
    weights and outputs."""
    p = np.asarray(probs(weights, data.xj))
    host = {k: np.asarray(val, dtype=np.float64) for k, val in weights.items()}
    parts = [diagnostics.compute_many(variant, {k: val[i:i + DIAGNOSTIC_BATCH] for k, val in host.items()},
                                      p[i:i + DIAGNOSTIC_BATCH], data.inputs, data.batch_x[i:i + DIAGNOSTIC_BATCH])
             for i in range(0, len(p), DIAGNOSTIC_BATCH)]
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


@cache
def _gather(xla_defaults: bool = False):
    """A jitted gather: the batches of an epoch, taken on the device from the data and that epoch's order."""
    jax, _ = _jax()
    return jax.jit(lambda values, order: values[order], compiler_options=_compiler_options(xla_defaults))


def _simulate_batch(v: Variant, batch: _SeedBatch, w0: dict, programs: tuple) -> dict[str, np.ndarray]:
    """One variant over one batch of seeds: per-epoch loss and accuracy (seed, epoch), diagnostics (seed, epoch + 1)."""
    _, jnp = _jax()
    trainable, epoch, probs, take = programs
    data = batch.data[v.input_norm]
    params = {k: w0[k] for k in trainable}
    fixed = {k: w0[k] for k in oracle.STATS} if v.batch_norm else {}
    carry = (params, fixed, {k: jnp.zeros_like(p) for k, p in params.items()},
             {k: jnp.zeros_like(p) for k, p in params.items()}, jnp.float32(0))
    history: list[tuple[np.ndarray, np.ndarray]] = []
    diags = [_snapshot(v, probs, {**params, **fixed}, data)]
    for order in batch.orders:
        carry, (loss, accuracy) = epoch(carry, take(data.xj, order), take(data.yj, order))
        history.append((np.asarray(loss, dtype=np.float64).mean(axis=0),
                        np.asarray(accuracy, dtype=np.float64).mean(axis=0)))
        diags.append(_snapshot(v, probs, {**carry[0], **carry[1]}, data))
    out = {"loss": np.stack([h[0] for h in history], axis=1), "accuracy": np.stack([h[1] for h in history], axis=1)}
    out.update({"diag/" + k: np.stack([d[k] for d in diags], axis=1) for k in diags[0]})
    out["eval_loss"], out["eval_accuracy"] = out["diag/eval_loss"][:, 1:], out["diag/eval_accuracy"][:, 1:]
    return out


def _check(experiment: Experiment, loss_mode: str) -> None:
    if experiment.order != "owned" or experiment.n_samples % experiment.batch_size:
        raise InputError(f"the replica follows normcheck's own order over whole batches; {experiment} is not that")
    if loss_mode not in oracle.LOSS_MODES:
        raise InputError(f"loss_mode={loss_mode!r} is invalid; allowed: {', '.join(oracle.LOSS_MODES)}")


def simulate(variant: str | Variant, seed_list: Sequence[int], initial: dict[str, np.ndarray],
             experiment: Experiment = QUESTION_EXPERIMENT, loss_mode: str = "logits",
             versions: dict[str, str] | None = None) -> list[Run]:
    """One Run per seed of `variant`, from `initial` (as `initial_weights` returns), in normcheck's batch order."""
    _, jnp = _jax()
    v = get_variant(variant)
    _check(experiment, loss_mode)
    programs = _programs(v, loss_mode)
    versions = {**(versions or framework.versions()), "engine": REPLICA}
    runs: list[Run] = []
    for start in range(0, len(seed_list), SEED_BATCH):
        batch = _SeedBatch(list(seed_list[start:start + SEED_BATCH]), experiment)
        w0 = {k: jnp.asarray(val[start:start + len(batch.seeds)]) for k, val in initial.items()}
        arrays = {k: a[:, None] for k, a in _simulate_batch(v, batch, w0, programs).items()}
        runs += store.runs_from_arrays(arrays, batch.seeds, [v.name], experiment, versions)
    return runs


def calibration_runs(seed_list: Sequence[int], variants: Sequence[str], experiment: Experiment = QUESTION_EXPERIMENT,
                     log: Callable[[str], None] = lambda m: None, resume: str | Path | None = None,
                     seed_batch: int = SEED_BATCH, xla_defaults: bool = False, grow: str | Path | None = None) -> list[Run]:
    """Every variant for every seed, with this process's Keras backend's initial weights and loss.

    Seeds run `seed_batch` at a time, the last batch padded to `seed_batch` (by repeating its last seed): a
    seed's numbers then do not depend on how many seeds were asked for. With `resume` (a folder), each
    finished batch is kept there (store.SeedBatchFiles) and a re-run of the same setup reads it back instead
    of training it again. `log` gets a progress line with the time left after each batch. `xla_defaults`: JAX's
    default compiler options, the same runs with float-level differences (compare's close regime, compare.md).
    With `grow` (a replica file this same setup saved with the same `seed_batch`), each batch that file ran as one of
    its own is read back from it: a run over an extended seed range trains only the new seeds.
    """
    backend = framework.keras().backend.backend()
    loss_mode = framework.traits(backend).loss_mode
    seed_list = [seeds_module.check(s) for s in seed_list]
    vs = [get_variant(name) for name in variants]
    _check(experiment, loss_mode)
    versions = {**framework.versions(), "engine": REPLICA, **({"xla": "defaults"} if xla_defaults else {})}
    names = [v.name for v in vs]
    setup = {"schema": store.SEED_BATCH_SCHEMA, "experiment": experiment.to_dict(), "versions": versions,
             "variants": names, "seed_batch": seed_batch}
    done = store.SeedBatchFiles(resume, setup) if resume is not None else None
    saved = store.SavedBatches(grow, experiment, versions, names, seed_batch) if grow and Path(grow).exists() else None
    progress = _Progress(len(seed_list), backend, log)
    starts = range(0, len(seed_list), seed_batch)
    parts: dict[int, dict[str, np.ndarray]] = {}
    for start in starts:
        found = done.read(start, seed_list[start:start + seed_batch]) if done is not None else None
        if found is None and saved is not None:
            found = saved.read(seed_list[start:start + seed_batch])
        if found is not None:
            parts[start] = found
            progress.skip(len(found["loss"]))
    todo = [(start, seed_list[start:start + seed_batch]) for start in starts if start not in parts]
    for start, found in _simulated(todo, vs, seed_batch, experiment, loss_mode, xla_defaults):
        seeds = seed_list[start:start + seed_batch]
        if done is not None:
            done.write(start, seeds, found)
        progress.advance(len(seeds))
        parts[start] = found
    arrays = {k: np.concatenate([parts[start][k] for start in starts]) for k in parts[starts[0]]}
    return store.runs_from_arrays(arrays, seed_list, names, experiment, versions)


def _prepare(seeds: list[int], size: int, experiment: Experiment) -> tuple[_SeedBatch, dict]:
    """What a batch of seeds trains from, padded to `size` seeds (by repeating the last)."""
    _, jnp = _jax()
    padded = seeds + [seeds[-1]] * (size - len(seeds))
    w0 = {k: jnp.asarray(val) for k, val in initial_weights(padded, experiment).items()}
    return _SeedBatch(padded, experiment), w0


def _simulated(batches: list[tuple[int, list[int]]], vs: list[Variant], size: int, experiment: Experiment,
               loss_mode: str, xla_defaults: bool) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(start, every variant of that batch as float32 (seed, variant, epoch)) per batch, in order.

    One thread prepares the next batch while one thread per core trains variants, queued across batches so no
    core waits for a batch's last variant. Preparing stays on one thread: the initial weights come from Keras's
    global seed. A variant's compiled programs are the same on any thread, so are its numbers.
    """
    if not batches:
        return
    programs = {v.name: _programs(v, loss_mode, xla_defaults) for v in vs}
    prep = ThreadPoolExecutor(max_workers=1)
    pool = ThreadPoolExecutor(max_workers=min(len(vs), parallel.available_cores()))
    pending: deque[tuple[int, list[int], list[Future]]] = deque()
    try:
        ahead = prep.submit(_prepare, batches[0][1], size, experiment)
        for i, (start, seeds) in enumerate(batches):
            batch, w0 = ahead.result()
            last = i + 1 == len(batches)
            if not last:
                ahead = prep.submit(_prepare, batches[i + 1][1], size, experiment)
            pending.append((start, seeds, [pool.submit(_simulate_batch, v, batch, w0, programs[v.name]) for v in vs]))
            del batch, w0
            while len(pending) > 1 or (pending and last):
                first, kept, futures = pending.popleft()
                results = [f.result() for f in futures]
                yield first, {k: np.stack([r[k][:len(kept)].astype(np.float32) for r in results], axis=1)
                              for k in results[0]}
    finally:  # on Ctrl-C, tasks not started are dropped; the running ones end with their thread
        prep.shutdown(wait=False, cancel_futures=True)
        pool.shutdown(wait=False, cancel_futures=True)


class _Progress:
    """A progress bar with the time left, one line per batch of seeds through `log` (stderr on the CLI)."""

    def __init__(self, total: int, backend: str, log: Callable[[str], None], width: int = 30):
        self.total, self.backend, self.log, self.width = total, backend, log, width
        self.done = self.computed = 0
        self.start = time.perf_counter()

    def skip(self, seeds: int) -> None:
        """Seeds read back from an interrupted run's batches: done, but no measure of speed."""
        self.done += seeds
        self._show("read back")

    def advance(self, seeds: int) -> None:
        self.done += seeds
        self.computed += seeds
        self._show("")

    def _show(self, note: str) -> None:
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.computed * (self.total - self.done) if self.computed else None
        filled = self.width * self.done // max(self.total, 1)
        parts = [f"{self.done}/{self.total} seeds", f"{_clock(elapsed)} elapsed"]
        parts += [f"about {_clock(left)} left"] if left is not None else []
        bar = "#" * filled + "." * (self.width - filled)
        self.log(f"{self.backend} [{bar}] " + ", ".join(parts + ([note] if note else [])))


def _clock(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}"
