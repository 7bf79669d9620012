"""A NumPy oracle of the training math, for checking Keras step by step.

Written with broadcasting instead of matrix products (the network has one input
and one output), so it never wakes a multithreaded BLAS beside the training.

Every hyperparameter below is the documented Keras default, written down here
and never read back from Keras objects: if a Keras release moves a default, the
oracle and Keras part ways and the suite says so.

The loss and Adam's update are written once for NumPy and JAX alike (`xp` is
`numpy` or `jax.numpy`): the replica (calibration/engine.py) runs the same
functions, op for op, on its own arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import framework
from .errors import InputError
from .variants import BN, DENSE, TANH, Variant, get_variant

DEFAULTS: dict[str, float] = {
    "adam_learning_rate": 0.001,
    "adam_beta_1": 0.9,
    "adam_beta_2": 0.999,
    "adam_epsilon": 1e-7,
    "bn_momentum": 0.99,
    "bn_epsilon": 1e-3,
    "bce_epsilon": 1e-7,
}
INITIALIZERS: dict[str, str] = {"dense_kernel_initializer": "GlorotUniform", "dense_bias_initializer": "Zeros"}

PARAMS = ("dense/kernel", "dense/bias", "bn/gamma", "bn/beta", "output/kernel", "output/bias")
STATS = ("bn/moving_mean", "bn/moving_variance")
LOSS_MODES = ("logits", "clipped")


WEIGHTS = {DENSE: ("dense/kernel", "dense/bias"), BN: ("bn/gamma", "bn/beta", *STATS),
           "output": ("output/kernel", "output/bias")}


def weights_from_model(model, variant: str | Variant | None = None) -> dict[str, np.ndarray]:
    """The oracle's named weights, float64, from a model built by `variants.build_model`."""
    names = get_variant(variant or model.name).layer_names()
    return {name: np.array(framework.to_numpy(value), dtype=np.float64)
            for group, layer in names.items()
            for name, value in zip(WEIGHTS[group], model.get_layer(layer).weights, strict=True)}


def set_weights(model, weights: dict[str, np.ndarray], variant: str | Variant | None = None) -> None:
    """Give a model built by `variants.build_model` the oracle's named weights."""
    names = get_variant(variant or model.name).layer_names()
    for group, layer in names.items():
        model.get_layer(layer).set_weights([weights[name] for name in WEIGHTS[group]])


def random_weights(rng: np.random.Generator, units: int = 20, *, kernel_scale: float = 1.0,
                   gamma_scale: float = 1.0) -> dict[str, np.ndarray]:
    """Random weights in the oracle's layout, for checking its math away from Keras's initial values."""
    return {"dense/kernel": rng.normal(size=(1, units)) * kernel_scale, "dense/bias": rng.normal(size=units),
            "bn/gamma": rng.normal(size=units) * gamma_scale, "bn/beta": rng.normal(size=units),
            "bn/moving_mean": rng.normal(size=units), "bn/moving_variance": rng.uniform(0.1, 2, size=units),
            "output/kernel": rng.normal(size=(units, 1)), "output/bias": rng.normal(size=1)}


def bce_from_logits(xp, z, y):
    """Per-sample binary cross-entropy from the logits `z`, as TensorFlow computes it after a sigmoid."""
    return xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))


def bce_from_probs(xp, probs, y):
    """Per-sample binary cross-entropy from probabilities clipped to [eps, 1 - eps], as Keras computes it off logits."""
    eps = DEFAULTS["bce_epsilon"]
    pc = xp.clip(probs, eps, 1 - eps)
    return -(y * xp.log(pc) + (1 - y) * xp.log(1 - pc))


def clipped_bce(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`bce_from_probs` in NumPy."""
    return bce_from_probs(np, probs, y)


def adam_alpha(xp, t):
    """Adam's step size at step `t` (1-based), bias corrections folded in, as Keras computes it."""
    lr, b1, b2 = (DEFAULTS[k] for k in ("adam_learning_rate", "adam_beta_1", "adam_beta_2"))
    return lr * xp.sqrt(1 - b2**t) / (1 - b1**t)


def adam_moments(m, v, g):
    """Adam's first and second moments after gradient `g`."""
    b1, b2 = DEFAULTS["adam_beta_1"], DEFAULTS["adam_beta_2"]
    return m + (g - m) * (1 - b1), v + (g * g - v) * (1 - b2)


def adam_apply(xp, w, m, v, alpha):
    """A weight after one Adam step with moments `m`, `v` and step size `alpha`."""
    return w - m * alpha / (xp.sqrt(v) + DEFAULTS["adam_epsilon"])


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


def hidden_forward(variant: str | Variant, w: dict[str, np.ndarray], x: np.ndarray, *, training: bool,
                   upto: str | None = None) -> tuple[np.ndarray, list]:
    """The hidden ops of `variant` on x of shape (n, 1), in order, stopping before `upto` if given.

    Returns the result and, per op, what its backward step needs.
    """
    a, caches = x, []
    for op in get_variant(variant).hidden:
        if op == upto:
            break
        if op == DENSE:
            caches.append(a)
            a = a * w["dense/kernel"].reshape(1, -1) + w["dense/bias"]
        elif op == BN:
            a, cache = _bn(a, w, training)
            caches.append(cache)
        else:
            a = np.tanh(a)
            caches.append(a)
    return a, caches


def forward_backward(
    variant: str | Variant, w: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
    *, training: bool, loss_mode: str = "logits", dtype=np.float64, backward: bool = True,
) -> LossAndGradients:
    """Mean binary cross-entropy of one batch and its gradients, as Keras's train step computes them."""
    v = get_variant(variant)
    if loss_mode not in LOSS_MODES:
        raise InputError(f"loss_mode={loss_mode!r} is invalid; allowed: {', '.join(LOSS_MODES)}")
    x = np.asarray(x, dtype=dtype).reshape(-1, 1)
    y = np.asarray(y, dtype=dtype).reshape(-1, 1)
    feats, caches = hidden_forward(v, w, x, training=training)
    h = caches[v.hidden.index(TANH)]
    z2 = (feats * w["output/kernel"].reshape(1, -1)).sum(axis=1, keepdims=True) + w["output/bias"]
    p = 1 / (1 + np.exp(-z2))
    n = x.shape[0]
    if loss_mode == "logits":
        per = bce_from_logits(np, z2, y)
        dz2 = (p - y) / n
    else:
        eps = DEFAULTS["bce_epsilon"]
        per = clipped_bce(p, y)
        dz2 = (p - y) / n * ((p > eps) & (p < 1 - eps))
    if not backward:
        return LossAndGradients(float(per.mean()), p, hidden=h)
    grads = {"output/kernel": (feats * dz2).sum(axis=0).reshape(-1, 1), "output/bias": dz2.sum(axis=0)}
    d = dz2 * w["output/kernel"].reshape(1, -1)
    stats = None
    for op, cache in reversed(list(zip(v.hidden, caches, strict=True))):
        if op == TANH:
            d = d * (1 - cache**2)
        elif op == BN:
            d, g = _bn_backward(d, w, cache, training)
            grads.update(g)
            stats = (cache[2], cache[3]) if training else None
        else:
            grads["dense/kernel"] = (cache * d).sum(axis=0).reshape(1, -1)
            grads["dense/bias"] = d.sum(axis=0)
    return LossAndGradients(float(per.mean()), p, grads, stats, d * n)


def tanh_input_affine(variant: str | Variant, w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of each tanh unit's input as a function of x, in inference mode (BN is then affine)."""
    s, t = w["dense/kernel"].ravel(), w["dense/bias"]
    for op in get_variant(variant).hidden[1:]:
        if op == TANH:
            break
        scale = w["bn/gamma"] / np.sqrt(w["bn/moving_variance"] + DEFAULTS["bn_epsilon"])
        s, t = s * scale, t * scale + w["bn/beta"] - w["bn/moving_mean"] * scale
    return s, t


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
        alpha = dtype(adam_alpha(np, step + 1))
        for k in params:
            m[k][...], vel[k][...] = adam_moments(m[k], vel[k], fb.grads[k].reshape(w[k].shape))  # in place, in dtype
            w[k] = adam_apply(np, w[k], m[k], vel[k], alpha)
        snapshots.append({k: val.copy() for k, val in w.items()})
    return OracleTrace(losses, snapshots, m, vel)
