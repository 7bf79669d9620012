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
from .variants import BN, DENSE, Variant

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
        order = np.random.default_rng([seed, 2**31]).permutation(len(x))
        usable = len(x) - len(x) % batch_size
        self.batch_x = x[order[:usable].reshape(-1, batch_size)[:BATCHES]].astype(np.float32)
        grid = slice(None, None, max(1, len(x) // GRADIENT_POINTS))
        self.grid_x, self.grid_y = x[grid], y[grid]


def compute(variant: Variant, weights: dict[str, np.ndarray], probs: np.ndarray, inputs: Inputs,
            bn_view: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float | None]:
    """Every diagnostic of one model state: `probs` are its inference-mode outputs on `inputs.x`, `weights` the oracle's.

    The real path passes what Keras predicted and, for BN variants, `bn_view`: the per-batch std of
    what Keras's BatchNormalization layer received and of what it returned in training mode. The
    replica (calibration/engine.py) passes its own outputs and lets the oracle compute BN's view.
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
