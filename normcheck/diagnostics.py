"""Per-epoch measurements that explain the outcomes: saturation, gradients, BN's view.

Loss and accuracy in inference mode come from Keras itself (`framework.predict`
over the whole data set, one call). The rest is NumPy on a copy of
Keras's weights, through the oracle's code (oracle.py), which the suite
checks against Keras step by step. Each measurement is chosen to cost a few
milliseconds: recording must stay within 5% of a bare epoch (issue 5).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import framework, oracle
from .variants import BN, DENSE, TANH, Variant

SATURATION_LEVEL = 0.99
BATCHES = 100
GRADIENT_POINTS = 1000


class Inputs:
    """What the measurements look at, fixed per (data, seed): the data, its sorted inputs, BN's batches, the gradient grid.

    BN's view uses 100 batches of a fixed random order (2000 samples), and the
    gradient an evenly spaced grid of 1000 points: the same statistics at a
    small part of the cost of the whole data set.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        self.x = x
        self.y64 = y.astype(np.float64).ravel()
        self.sorted_x = np.sort(x.astype(np.float64).ravel())
        self.batch_x = bn_batches(x, batch_size, seed)
        grid = slice(None, None, max(1, len(x) // GRADIENT_POINTS))
        self.grid_x, self.grid_y = x[grid], y[grid]


def bn_batches(x: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """BN's view's batches for `seed`: the first `BATCHES` batches of a fixed random order, float32."""
    order = np.random.default_rng([seed, 2**31]).permutation(len(x))
    usable = len(x) - len(x) % batch_size
    return x[order[:usable].reshape(-1, batch_size)[:BATCHES]].astype(np.float32)


def batch_x_many(x: np.ndarray, batch_size: int, seeds: list[int]) -> np.ndarray:
    """`Inputs.batch_x` of each seed, stacked on a leading seed axis, without an `Inputs` (a sort of x) per seed."""
    return np.stack([bn_batches(x, batch_size, seed) for seed in seeds])


def compute(variant: Variant, weights: dict[str, np.ndarray], probs: np.ndarray, inputs: Inputs,
            bn_view: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float | None]:
    """Every diagnostic of one model state: `probs` are its inference-mode outputs on `inputs.x`, `weights` the oracle's.

    The real path passes what Keras predicted and, for BN variants, `bn_view`: the per-batch std of
    what Keras's BatchNormalization layer received and of what it returned in training mode. The
    replica (calibration/engine.py) computes many seeds at once through `compute_many`, which lets the
    oracle compute BN's view and is held to this function bit for bit.
    """
    probs = np.asarray(probs, dtype=np.float64).ravel()
    y = inputs.y64
    gradient = oracle.forward_backward(variant, weights, inputs.grid_x, inputs.grid_y, training=False)
    batch_std = _batch_std(variant, weights, inputs.batch_x) if bn_view is None else bn_view[0]
    assert gradient.preact_grad is not None
    out: dict[str, float | None] = {
        "eval_loss": float(oracle.clipped_bce(probs, y).mean()),
        "eval_accuracy": float(((probs > 0.5) == (y > 0.5)).mean()),
        "saturation": _saturation(variant, weights, inputs.sorted_x),
        "grad_norm": float(np.linalg.norm(gradient.grads["dense/kernel"])),
        "preact_grad_rms": float(np.sqrt((gradient.preact_grad**2).sum(axis=1).mean())),
        "batch_std": float(np.median(batch_std)),
        "bn_output_std": None,
    }
    if variant.batch_norm:
        if bn_view is None:
            gamma = np.abs(weights["bn/gamma"])
            bn_out = gamma * batch_std / np.sqrt(batch_std**2 + oracle.DEFAULTS["bn_epsilon"])
        else:
            bn_out = bn_view[1]
        out["bn_output_std"] = float(np.median(bn_out))
    return out


def compute_many(variant: Variant, weights: dict[str, np.ndarray], probs: np.ndarray, inputs: Inputs,
                 batch_x: np.ndarray) -> dict[str, np.ndarray]:
    """`compute` for many model states at once (weights and probs with a leading seed axis), for the replica.

    Same operations in the same order as `compute` with the oracle computing BN's view, so each value
    is the one `compute` returns for that seed (tests/unit holds them equal): per-seed Python calls
    cost more than the arithmetic. `inputs` gives the data (shared by every seed), `batch_x` each
    seed's BN batches (`batch_x_many`). A missing value is NaN.
    """
    probs = np.asarray(probs, dtype=np.float64).reshape(len(probs), -1)
    w = {k: np.asarray(val, dtype=np.float64) for k, val in weights.items()}
    grad, preact = _inference_gradient(variant, w, inputs.grid_x, inputs.grid_y)
    batch_std = _batch_std_many(variant, w, batch_x)
    out = {
        "eval_loss": oracle.clipped_bce(probs, inputs.y64).mean(axis=1),
        "eval_accuracy": ((probs > 0.5) == (inputs.y64 > 0.5)).mean(axis=1),
        "saturation": _saturation_many(variant, w, inputs.sorted_x),
        "grad_norm": np.sqrt(np.array([g.dot(g) for g in grad])),
        "preact_grad_rms": np.sqrt((preact**2).sum(axis=2).mean(axis=1)),
        "batch_std": np.median(batch_std.reshape(len(batch_std), -1), axis=1),
        "bn_output_std": np.full(len(probs), np.nan),
    }
    if variant.batch_norm:
        gamma = np.abs(w["bn/gamma"])[:, None, :]
        bn_out = gamma * batch_std / np.sqrt(batch_std**2 + oracle.DEFAULTS["bn_epsilon"])
        out["bn_output_std"] = np.median(bn_out.reshape(len(bn_out), -1), axis=1)
    return out


def _inference_gradient(variant: Variant, w: dict[str, np.ndarray], x: np.ndarray,
                        y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per seed: the first layer's kernel gradient (seed, units) and the pre-activation gradient (seed, n, units),
    as `oracle.forward_backward` computes them in inference mode with the logits loss."""
    eps = oracle.DEFAULTS["bn_epsilon"]
    x = np.asarray(x, dtype=np.float64).reshape(1, -1, 1)
    y = np.asarray(y, dtype=np.float64).reshape(1, -1, 1)
    n = x.shape[1]
    a, caches = x, []
    for op in variant.hidden:
        if op == DENSE:
            caches.append(a)
            a = a * w["dense/kernel"].reshape(len(w["dense/kernel"]), 1, -1) + w["dense/bias"][:, None, :]
        elif op == BN:
            inv = 1.0 / np.sqrt(w["bn/moving_variance"][:, None, :] + eps)
            a = (a - w["bn/moving_mean"][:, None, :]) * inv * w["bn/gamma"][:, None, :] + w["bn/beta"][:, None, :]
            caches.append(inv)
        else:
            a = np.tanh(a)
            caches.append(a)
    kernel = w["output/kernel"].reshape(len(a), 1, -1)
    z2 = (a * kernel).sum(axis=2, keepdims=True) + w["output/bias"][:, None, :]
    p = 1 / (1 + np.exp(-z2))
    d = (p - y) / n * kernel
    for op, cache in reversed(list(zip(variant.hidden, caches, strict=True))):
        if op == TANH:
            d = d * (1 - cache**2)
        elif op == BN:
            d = d * w["bn/gamma"][:, None, :] * cache
        else:
            grad = (cache * d).sum(axis=1)
    return grad, d * n


def _saturation_many(variant: Variant, w: dict[str, np.ndarray], sorted_x: np.ndarray) -> np.ndarray:
    """`_saturation` per seed (with `oracle.tanh_input_affine`'s arithmetic): the same two binary searches per unit,
    for every seed's units in one call."""
    c = np.arctanh(SATURATION_LEVEL)
    s, t = w["dense/kernel"].reshape(w["dense/bias"].shape), w["dense/bias"]
    for op in variant.hidden[1:]:
        if op == TANH:
            break
        scale = w["bn/gamma"] / np.sqrt(w["bn/moving_variance"] + oracle.DEFAULTS["bn_epsilon"])
        s, t = s * scale, t * scale + w["bn/beta"] - w["bn/moving_mean"] * scale
    n = sorted_x.size
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = (-c - t) / s, (c - t) / s
    lo, hi = np.where(b < a, b, a), np.where(b < a, a, b)
    counts = np.searchsorted(sorted_x, lo.ravel(), "left") + n - np.searchsorted(sorted_x, hi.ravel(), "right")
    counts = np.where(s.ravel() == 0, np.where(np.abs(t.ravel()) > c, n, 0), counts)
    units = t.shape[-1]
    return counts.reshape(-1, units).sum(axis=1) / (n * units)


def _batch_std_many(variant: Variant, w: dict[str, np.ndarray], batch_x: np.ndarray) -> np.ndarray:
    """`_batch_std` per seed: (seed, batch, unit), from float32 weights and each seed's batches."""
    w32 = {k: val.astype(np.float32) for k, val in w.items()}
    seeds, batches, size = batch_x.shape[:3]
    a = batch_x.reshape(seeds, -1, 1)
    for op in variant.hidden:
        if op == BN:
            break
        a = np.tanh(a) if op == TANH else a * w32["dense/kernel"].reshape(seeds, 1, -1) + w32["dense/bias"][:, None, :]
    return a.reshape(seeds, batches, size, -1).std(axis=2, dtype=np.float64)


class Probe:
    """Measures a Keras model over the whole data set, in inference mode, after each epoch."""

    def __init__(self, model, variant: Variant, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        start = time.perf_counter()
        self.model = model
        self.variant = variant
        self.inputs = Inputs(x, y, batch_size, seed)
        self._results: list[dict[str, float | None]] = []
        self._layer_before_bn: Any = None
        self._bn_copy: Any = None
        self.seconds = time.perf_counter() - start

    def snapshot(self) -> None:
        """Measure the model as it is now; `seconds` keeps what measuring has cost so far."""
        start = time.perf_counter()
        self._results.append(self.read_model())
        self.seconds += time.perf_counter() - start

    def results(self) -> list[dict[str, float | None]]:
        """Every snapshot's measurements, in order."""
        return list(self._results)

    def read_model(self) -> dict[str, float | None]:
        """Every diagnostic of the model as it is now: Keras predicts, the rest is `compute` on its weights."""
        probs = framework.predict(self.model, self.inputs.x)
        bn_view = self.keras_bn_view() if self.variant.batch_norm else None
        return compute(self.variant, oracle.weights_from_model(self.model, self.variant), probs, self.inputs, bn_view)

    def keras_bn_view(self) -> tuple[np.ndarray, np.ndarray]:
        """Per (batch, unit): the std of what the model's BatchNormalization layer receives, and of what it returns
        when called in training mode on that batch of 20.

        What BN receives is the output of the layer before it (the first layer: BN follows it directly or
        its tanh). A copy of the BN layer (its config, gamma and beta tiled once per batch) normalizes all
        batches in one call: the batches side by side as features, so each is normalized by its own
        statistics. The copy's moving statistics move; the model's do not.
        """
        names = self.variant.layer_names()
        bn = self.model.get_layer(names[BN])
        batches, size = self.inputs.batch_x.shape[:2]
        if self._bn_copy is None:
            keras = framework.keras()
            self._layer_before_bn = self.model.get_layer(names[DENSE])
            self._bn_copy = keras.layers.BatchNormalization.from_config({**bn.get_config(), "name": "normcheck_probe_bn"})
            self._bn_copy.build((None, batches * bn.gamma.shape[0]))
        received = framework.to_numpy(self._layer_before_bn(self.inputs.batch_x.reshape(-1, 1), training=False))
        received = np.asarray(received, dtype=np.float32).reshape(batches, size, -1)
        units = received.shape[-1]
        wide = received.transpose(1, 0, 2).reshape(size, batches * units)
        self._bn_copy.gamma.assign(np.tile(framework.to_numpy(bn.gamma), batches))
        self._bn_copy.beta.assign(np.tile(framework.to_numpy(bn.beta), batches))
        returned = np.asarray(framework.to_numpy(self._bn_copy(wide, training=True)), dtype=np.float64)
        return (received.std(axis=1, dtype=np.float64),
                returned.reshape(size, batches, units).std(axis=0))


def _saturation(variant: Variant, w: dict[str, np.ndarray], sorted_x: np.ndarray) -> float:
    """Share of (sample, unit) pairs with |tanh| > 0.99, counted exactly on the sorted inputs.

    Each unit's input is s*x + t, so |tanh| > 0.99 holds for x outside one
    interval: two binary searches per unit instead of a pass over 25000 x 20.
    """
    c = np.arctanh(SATURATION_LEVEL)
    s, t = oracle.tanh_input_affine(variant, w)
    xs = sorted_x
    count = 0
    for sj, tj in zip(s, t, strict=True):
        if sj == 0:
            count += xs.size if abs(tj) > c else 0
            continue
        lo, hi = sorted(((-c - tj) / sj, (c - tj) / sj))
        count += np.searchsorted(xs, lo, "left") + xs.size - np.searchsorted(xs, hi, "right")
    return float(count / (xs.size * s.size))


def _batch_std(variant: Variant, w: dict[str, np.ndarray], batch_x: np.ndarray) -> np.ndarray:
    """Per-batch standard deviation of what BN normalizes (or would, where there is none), for each unit, in float32."""
    w32 = {k: v.astype(np.float32) for k, v in w.items()}
    bn_input, _ = oracle.hidden_forward(variant, w32, batch_x.reshape(-1, 1), training=False, upto=BN)
    return bn_input.reshape(*batch_x.shape[:2], -1).std(axis=1, dtype=np.float64)
