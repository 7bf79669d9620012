"""The calibration engines: real fit over a (variant x seed) matrix, and a replica of `fit` over many seeds at once.

`collect` trains real fit (parallel.py) and keeps every run as it finishes (store.py),
resuming an interrupted calibration of the same setup.

The replica is the calibration engine, never the checked path.

Real training goes through `keras.Model.fit` (training.py). To say how often a claim
or a comparison fails on a healthy stack takes thousands of seeds, which fit cannot
train in minutes. The replica runs the same math (the oracle's, oracle.py) in JAX,
float32, with `vmap` over seeds and `lax.scan` over the steps of an epoch: each
seed starts from the initial weights its Keras backend draws (one real build per
seed), sees normcheck's batch order, and yields a `Run` with what Keras prints
(train-mode loss and accuracy as epoch means) and the inference-mode metrics and
diagnostics (diagnostics.compute, the function the real path uses). The suite
holds it to real fit (tests/regression/test_replica.py): seed by seed where the
trajectories are stable, in distribution where float32 makes them chaotic.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from .. import diagnostics, framework, oracle, parallel
from .. import seeds as seeds_module
from ..data import dataset, epoch_order
from ..errors import InputError
from ..experiment import QUESTION_EXPERIMENT, Experiment
from ..run import Run
from ..variants import BN, TANH, VARIANTS, Variant, build_model, get_variant
from . import store

ENGINES = ("replica", "fit")
REPLICA = "replica"  # the engine's name in a replica Run's versions
SEED_BATCH = 500  # seeds the replica trains in one vmapped program


def collect(seeds: Iterable[int], path: str | Path, experiment: Experiment = QUESTION_EXPERIMENT,
            variants: Iterable[str] = tuple(VARIANTS), log=print, jobs: int = 1) -> list[Run]:
    """Train every (variant, seed) and write the runs to `path` (JSON lines), resuming a partial file of the same setup.

    The partial file's first line records the setup (experiment, backend, variants); a
    partial left by another setup is refused before any training, naming what differs.
    """
    path = Path(path)
    variants = list(variants)
    partial = path.with_name(path.name + ".partial")
    setup = {"setup": {"experiment": experiment.to_dict(), "backend": framework.default_backend(), "variants": variants}}
    done = store.resume(partial, setup) if partial.exists() else []
    with partial.open("a") as fh:
        if partial.stat().st_size == 0:
            fh.write(json.dumps(setup) + "\n")

        def keep(run: Run, finished: int, total: int) -> None:
            fh.write(run.to_json() + "\n")
            fh.flush()
            log(f"[{finished}/{total}] {run.variant} seed={run.seed}: accuracy {run.accuracy[0]:.4f} -> "
                f"{run.accuracy[-1]:.4f}, {sum(run.seconds):.1f} s")

        matrix = parallel.train_matrix(variants, list(seeds), experiment, jobs=jobs, on_run=keep, done=done)
    os.replace(partial, path)
    return [matrix[s][v] for s in sorted(matrix) for v in variants if v in matrix[s]]


def _jax():
    try:
        import jax  # noqa: PLC0415 -- a framework, optional: imported when the replica runs
        import jax.numpy as jnp  # noqa: PLC0415 -- as above
    except ImportError:
        raise InputError("the replica needs JAX: pip install 'normcheck[jax]'") from None
    return jax, jnp


def initial_weights(seed_list: Sequence[int], experiment: Experiment = QUESTION_EXPERIMENT) -> dict[str, np.ndarray]:
    """Each seed's initial weights as this process's Keras backend draws them, stacked on a leading seed axis.

    Every variant draws the same numbers for a seed (its dense and output kernels are
    the only random ones, drawn in that order), so one build of the BN variant per seed serves all.
    """
    keras = framework.keras()
    out: dict[str, list[np.ndarray]] = {}
    for seed in seed_list:
        seeds_module.check(seed)
        keras.utils.set_random_seed(seed)
        weights = oracle.weights_from_model(build_model("batch_norm", experiment), "batch_norm")
        for name, value in weights.items():
            out.setdefault(name, []).append(value.astype(np.float32))
    return {name: np.stack(values) for name, values in out.items()}


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


def _programs(variant: Variant, loss_mode: str):
    """The jitted epoch (scan over steps, vmap over seeds) and inference pass for one variant."""
    jax, jnp = _jax()
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

    @jax.jit
    def epoch(carry, xs, ys):
        return jax.lax.scan(step, carry, (xs, ys))

    @jax.jit
    def probs(weights, x):
        return jax.lax.map(lambda w: jax.nn.sigmoid(_forward(jnp, variant, w, x, training=False)[0]), weights)

    return trainable, epoch, probs


def _snapshot(variant: Variant, probs, weights: dict, x, inputs: list[diagnostics.Inputs]) -> list[dict]:
    """Every seed's diagnostics, through the function the real probe uses, from the replica's weights and outputs."""
    p = np.asarray(probs(weights, x))
    host = {k: np.asarray(val, dtype=np.float64) for k, val in weights.items()}
    return [diagnostics.compute(variant, {k: val[i] for k, val in host.items()}, p[i], seed_inputs)
            for i, seed_inputs in enumerate(inputs)]


def simulate(variant: str | Variant, seed_list: Sequence[int], initial: dict[str, np.ndarray],
             experiment: Experiment = QUESTION_EXPERIMENT, loss_mode: str = "logits",
             versions: dict[str, str] | None = None) -> list[Run]:
    """One Run per seed of `variant`, from `initial` (as `initial_weights` returns), in normcheck's batch order."""
    _, jnp = _jax()
    v = get_variant(variant)
    if experiment.order != "owned" or experiment.n_samples % experiment.batch_size:
        raise InputError(f"the replica follows normcheck's own order over whole batches; {experiment} is not that")
    if loss_mode not in oracle.LOSS_MODES:
        raise InputError(f"loss_mode={loss_mode!r} is invalid; allowed: {', '.join(oracle.LOSS_MODES)}")
    x, y = dataset(experiment, v.input_norm)
    x1, y1 = x.ravel(), y.ravel()
    trainable, epoch, probs = _programs(v, loss_mode)
    n, bs = experiment.n_samples, experiment.batch_size
    steps = n // bs
    versions = {**(versions or framework.versions()), "engine": REPLICA}
    runs: list[Run] = []
    for start in range(0, len(seed_list), SEED_BATCH):
        batch = list(seed_list[start:start + SEED_BATCH])
        w0 = {k: jnp.asarray(val[start:start + len(batch)]) for k, val in initial.items()}
        params = {k: w0[k] for k in trainable}
        fixed = {k: w0[k] for k in oracle.STATS} if v.batch_norm else {}
        carry = (params, fixed, {k: jnp.zeros_like(p) for k, p in params.items()},
                 {k: jnp.zeros_like(p) for k, p in params.items()}, jnp.float32(0))
        inputs = [diagnostics.Inputs(x, y, bs, s) for s in batch]
        xj = jnp.asarray(x1)
        history: list[tuple[np.ndarray, np.ndarray]] = []
        diags = [_snapshot(v, probs, {**params, **fixed}, xj, inputs)]
        for e in range(experiment.epochs):
            order = np.stack([epoch_order(s, e, n) for s in batch])
            xs = jnp.asarray(x1[order].reshape(len(batch), steps, bs).transpose(1, 0, 2))
            ys = jnp.asarray(y1[order].reshape(len(batch), steps, bs).transpose(1, 0, 2))
            carry, (loss, accuracy) = epoch(carry, xs, ys)
            history.append((np.asarray(loss, dtype=np.float64).mean(axis=0),
                            np.asarray(accuracy, dtype=np.float64).mean(axis=0)))
            diags.append(_snapshot(v, probs, {**carry[0], **carry[1]}, xj, inputs))
        for i, seed in enumerate(batch):
            per_epoch = [d[i] for d in diags]
            runs.append(Run(
                variant=v.name, seed=seed, experiment=experiment,
                loss=[float(h[0][i]) for h in history], accuracy=[float(h[1][i]) for h in history],
                eval_loss=[float(d["eval_loss"]) for d in per_epoch[1:]],
                eval_accuracy=[float(d["eval_accuracy"]) for d in per_epoch[1:]],
                seconds=[0.0] * experiment.epochs, diagnostics=per_epoch,
                order="owned", steps_per_execution=steps, versions=versions,
            ))
    return runs


def calibration_runs(seed_list: Sequence[int], variants: Sequence[str], experiment: Experiment = QUESTION_EXPERIMENT,
                     log: Callable[[str], None] = lambda m: None) -> list[Run]:
    """Every variant for every seed, with this process's Keras backend's initial weights and loss."""
    backend = framework.keras().backend.backend()
    start = time.perf_counter()
    initial = initial_weights(seed_list, experiment)
    log(f"initial weights of {len(seed_list)} seeds drawn by Keras on {backend} in {time.perf_counter() - start:.1f} s")
    versions = framework.versions()
    runs: list[Run] = []
    for name in variants:
        start = time.perf_counter()
        runs += simulate(name, seed_list, initial, experiment, framework.traits(backend).loss_mode, versions)
        log(f"{name}: {len(seed_list)} seeds in {time.perf_counter() - start:.1f} s")
    return runs
