"""Per-epoch measurements that explain the outcomes: saturation, gradients, BN's view.

Computed once per epoch on the whole data set in inference mode, outside the
epoch's clock, so they are cheap enough to leave on.
"""

from __future__ import annotations

import numpy as np

from . import framework, reference
from .variants import HIDDEN, OUTPUT, Variant, bn_input_layer

SATURATION_LEVEL = 0.99
BATCHES = 250
GRADIENT_POINTS = 2500
KEYS = ("eval_loss", "eval_accuracy", "saturation", "grad_norm", "preact_grad_rms", "batch_std", "bn_output_std")


class Probe:
    """Reads a model's hidden activations and outputs on the full data set.

    Loss, accuracy and saturation use every sample. BN's view uses 250 batches
    of a fixed random order, and the gradient an evenly spaced grid of 2500
    points: the same statistics at a tenth of the cost.
    """

    def __init__(self, model, variant: Variant, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        keras = framework.keras()
        self.model = model
        self.variant = variant
        self.x, self.y = x, y
        names = [bn_input_layer(variant), HIDDEN, OUTPUT]
        self._probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
        order = np.random.default_rng([seed, 2**31]).permutation(len(x))
        usable = len(x) - len(x) % batch_size
        self._batches = order[:usable].reshape(-1, batch_size)[:BATCHES]
        self._grid = slice(None, None, max(1, len(x) // GRADIENT_POINTS))

    def measure(self) -> dict[str, float | None]:
        bn_in, hidden, probs = (framework.to_numpy(t).astype(np.float64) for t in self._probe(self.x, training=False))
        y = self.y.astype(np.float64)
        eps = reference.DEFAULTS["bce_epsilon"]
        pc = np.clip(probs, eps, 1 - eps)
        batch_std = bn_in[self._batches].std(axis=1)
        weights = reference.weights_from_model(self.model)
        g = self._grid
        fb = reference.forward_backward(self.variant, weights, self.x[g], self.y[g], training=False)
        out: dict[str, float | None] = {
            "eval_loss": float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean()),
            "eval_accuracy": float(((probs > 0.5) == (y > 0.5)).mean()),
            "saturation": float((np.abs(hidden) > SATURATION_LEVEL).mean()),
            "grad_norm": float(np.linalg.norm(fb.grads["dense/kernel"])),
            "preact_grad_rms": float(np.sqrt((fb.preact_grad**2).sum(axis=1).mean())),
            "batch_std": float(np.median(batch_std)),
            "bn_output_std": None,
        }
        if self.variant.batch_norm is not None:
            gamma = np.abs(weights["bn/gamma"])
            bn_out = gamma * batch_std / np.sqrt(batch_std**2 + reference.DEFAULTS["bn_epsilon"])
            out["bn_output_std"] = float(np.median(bn_out))
        return out
