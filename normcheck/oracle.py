"""A NumPy oracle of the training math, for checking Keras step by step.

Written with broadcasting instead of matrix products (the network has one input
and one output), so it never wakes a multithreaded BLAS beside the training.

Every hyperparameter below is the documented Keras default, written down here
and never read back from Keras objects: if a Keras release moves a default, the
oracle and Keras part ways and the suite says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .variants import BN_AFTER, BN_BEFORE, Variant, get_variant

DEFAULTS: dict[str, float | str] = {
    "adam_learning_rate": 0.001,
    "adam_beta_1": 0.9,
    "adam_beta_2": 0.999,
    "adam_epsilon": 1e-7,
    "bn_momentum": 0.99,
    "bn_epsilon": 1e-3,
    "bce_epsilon": 1e-7,
    "dense_kernel_initializer": "GlorotUniform",
    "dense_bias_initializer": "Zeros",
}

PARAMS = ("dense/kernel", "dense/bias", "bn/gamma", "bn/beta", "output/kernel", "output/bias")
STATS = ("bn/moving_mean", "bn/moving_variance")
LOSS_MODES = ("logits", "clipped")


def loss_mode_for(backend: str) -> str:
    """TensorFlow computes BCE after a sigmoid from logits; JAX and torch from clipped probabilities."""
    return "logits" if backend == "tensorflow" else "clipped"


def weights_from_model(model) -> dict[str, np.ndarray]:
    """The oracle's named weights from a model built by `variants.build_model`."""
    from . import framework

    out: dict[str, np.ndarray] = {}
    first = model.get_layer("dense") if any(layer.name == "dense" for layer in model.layers) else model.get_layer("hidden")
    out["dense/kernel"], out["dense/bias"] = (framework.to_numpy(w) for w in first.weights)
    if any(layer.name == "batch_norm" for layer in model.layers):
        g, b, mm, mv = (framework.to_numpy(w) for w in model.get_layer("batch_norm").weights)
        out.update({"bn/gamma": g, "bn/beta": b, "bn/moving_mean": mm, "bn/moving_variance": mv})
    out["output/kernel"], out["output/bias"] = (framework.to_numpy(w) for w in model.get_layer("output").weights)
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


def _bn(a, w, training):
    eps = DEFAULTS["bn_epsilon"]
    if training:
        mean, var = a.mean(axis=0), a.var(axis=0)
    else:
        mean, var = w["bn/moving_mean"], w["bn/moving_variance"]
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (a - mean) * inv
    return xhat * w["bn/gamma"] + w["bn/beta"], (xhat, inv, mean, var)


def _bn_backward(d, w, cache, training):
    xhat, inv, _, _ = cache
    grads = {"bn/gamma": (d * xhat).sum(axis=0), "bn/beta": d.sum(axis=0)}
    dxhat = d * w["bn/gamma"]
    if training:
        n = d.shape[0]
        da = inv / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    else:
        da = dxhat * inv
    return da, grads


@dataclass
class LossAndGradients:
    loss: float
    probs: np.ndarray
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    batch_stats: tuple[np.ndarray, np.ndarray] | None = None
    preact_grad: np.ndarray | None = None
    hidden: np.ndarray | None = None


def forward_backward(
    variant: str | Variant, w: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
    *, training: bool, loss_mode: str = "logits", dtype=np.float64, backward: bool = True,
) -> LossAndGradients:
    """Mean binary cross-entropy of one batch and its gradients, as Keras's train step computes them."""
    v = get_variant(variant)
    if loss_mode not in LOSS_MODES:
        raise ValueError(f"loss_mode={loss_mode!r} is invalid; allowed: {', '.join(LOSS_MODES)}")
    x = np.asarray(x, dtype=dtype).reshape(-1, 1)
    y = np.asarray(y, dtype=dtype).reshape(-1, 1)
    z1 = x * w["dense/kernel"].reshape(1, -1) + w["dense/bias"]
    bn_cache = None
    if v.batch_norm == BN_BEFORE:
        u, bn_cache = _bn(z1, w, training)
        h = np.tanh(u)
        feats = h
    else:
        h = np.tanh(z1)
        feats = h
        if v.batch_norm == BN_AFTER:
            feats, bn_cache = _bn(h, w, training)
    z2 = (feats * w["output/kernel"].reshape(1, -1)).sum(axis=1, keepdims=True) + w["output/bias"]
    p = 1 / (1 + np.exp(-z2))
    n = x.shape[0]
    if loss_mode == "logits":
        per = np.maximum(z2, 0) - z2 * y + np.log1p(np.exp(-np.abs(z2)))
        dz2 = (p - y) / n
    else:
        eps = DEFAULTS["bce_epsilon"]
        pc = np.clip(p, eps, 1 - eps)
        per = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        dz2 = (p - y) / n * ((p > eps) & (p < 1 - eps))
    if not backward:
        return LossAndGradients(float(per.mean()), p, hidden=h)
    grads = {"output/kernel": (feats * dz2).sum(axis=0).reshape(-1, 1), "output/bias": dz2.sum(axis=0)}
    dfeats = dz2 * w["output/kernel"].reshape(1, -1)
    if v.batch_norm == BN_BEFORE:
        du = dfeats * (1 - h**2)
        dz1, g = _bn_backward(du, w, bn_cache, training)
        grads.update(g)
    else:
        dh = dfeats
        if v.batch_norm == BN_AFTER:
            dh, g = _bn_backward(dfeats, w, bn_cache, training)
            grads.update(g)
        dz1 = dh * (1 - h**2)
    grads["dense/kernel"] = (x * dz1).sum(axis=0).reshape(1, -1)
    grads["dense/bias"] = dz1.sum(axis=0)
    stats = (bn_cache[2], bn_cache[3]) if (bn_cache is not None and training) else None
    return LossAndGradients(float(per.mean()), p, grads, stats, dz1 * n)


def inference_affine(variant: str | Variant, w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Inference-mode BN as the affine map it is: (scale, shift) per unit, identity without BN."""
    if get_variant(variant).batch_norm is None:
        return np.ones_like(w["dense/bias"]), np.zeros_like(w["dense/bias"])
    scale = w["bn/gamma"] / np.sqrt(w["bn/moving_variance"] + DEFAULTS["bn_epsilon"])
    return scale, w["bn/beta"] - w["bn/moving_mean"] * scale


def kernel_gradient(variant: str | Variant, w: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inference-mode gradient of the mean loss for the first layer's kernel, and per-sample d(loss)/d(pre-activation).

    The same numbers as `forward_backward(training=False)` with BN folded into
    its affine map: a third of the array passes, for the per-epoch probe.
    """
    v = get_variant(variant)
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    scale, shift = inference_affine(v, w)
    k2 = w["output/kernel"].reshape(1, -1)
    z1 = x * w["dense/kernel"].reshape(1, -1) + w["dense/bias"]
    if v.batch_norm == BN_BEFORE:
        h = np.tanh(z1 * scale + shift)
        z2 = h @ k2.T + w["output/bias"]
    else:
        h = np.tanh(z1)
        z2 = h @ (k2 * scale).T + (shift @ k2.T + w["output/bias"])
    dz1 = ((1 / (1 + np.exp(-z2)) - y) / len(x)) * (k2 * scale) * (1 - h**2)
    return (x * dz1).sum(axis=0), dz1 * len(x)


@dataclass
class OracleTrace:
    """Per-step losses, weights after every step, and Adam's slots at the end."""

    losses: list[float]
    weights: list[dict[str, np.ndarray]]
    m: dict[str, np.ndarray]
    v: dict[str, np.ndarray]


def train_steps(
    variant: str | Variant, initial: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
    order: np.ndarray, batch_size: int, *, loss_mode: str = "logits", dtype=np.float64,
) -> OracleTrace:
    """Adam on the question's network, one step per batch of `order`, exactly as Keras defines it."""
    w = {k: np.array(val, dtype=dtype) for k, val in initial.items()}
    params = [k for k in PARAMS if k in w]
    m = {k: np.zeros_like(w[k]) for k in params}
    vel = {k: np.zeros_like(w[k]) for k in params}
    lr, b1, b2, eps = (DEFAULTS[k] for k in ("adam_learning_rate", "adam_beta_1", "adam_beta_2", "adam_epsilon"))
    mom = DEFAULTS["bn_momentum"]
    losses, snapshots = [], []
    for step, start in enumerate(range(0, len(order), batch_size)):
        idx = order[start:start + batch_size]
        fb = forward_backward(variant, w, x[idx], y[idx], training=True, loss_mode=loss_mode, dtype=dtype)
        losses.append(fb.loss)
        if fb.batch_stats is not None:
            mean, var = fb.batch_stats
            w["bn/moving_mean"] = w["bn/moving_mean"] * mom + mean * (1 - mom)
            w["bn/moving_variance"] = w["bn/moving_variance"] * mom + var * (1 - mom)
        t = step + 1
        alpha = dtype(lr * np.sqrt(1 - b2**t) / (1 - b1**t))
        for k in params:
            g = fb.grads[k].reshape(w[k].shape)
            m[k] += (g - m[k]) * (1 - b1)
            vel[k] += (g * g - vel[k]) * (1 - b2)
            w[k] = w[k] - m[k] * alpha / (np.sqrt(vel[k]) + eps)
        snapshots.append({k: val.copy() for k, val in w.items()})
    return OracleTrace(losses, snapshots, m, vel)
