"""Per-epoch measurements that explain the outcomes: saturation, gradients, BN's view.

At the end of each epoch the Keras weights are copied (a few milliseconds); the
measurements run on that copy in NumPy (float32 for the pass over all samples, as
Keras computes it; float64 for the gradient). The NumPy inference pass is the oracle's (reference.py), which the
suite checks against Keras step by step; each Run also records Keras's own
inference-mode accuracy after the last epoch, and a test holds the two together.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from . import reference
from .variants import Variant

SATURATION_LEVEL = 0.99
BATCHES = 250
GRADIENT_POINTS = 2500


class Probe:
    """Measures a model's weights over the whole data set, in inference mode.

    Loss, accuracy and saturation use every sample. BN's view uses 250 batches
    of a fixed random order, and the gradient an evenly spaced grid of 2500
    points: the same statistics at a tenth of the cost.
    """

    def __init__(self, model, variant: Variant, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                 background: bool = True):
        self.model = model
        self.variant = variant
        self.x, self.y = x, y
        self._y64 = y.astype(np.float64)
        order = np.random.default_rng([seed, 2**31]).permutation(len(x))
        usable = len(x) - len(x) % batch_size
        self._batches = order[:usable].reshape(-1, batch_size)[:BATCHES]
        self._grid = slice(None, None, max(1, len(x) // GRADIENT_POINTS))
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="normcheck-probe") if background else None
        self._pending: list[Future] = []

    def snapshot(self) -> None:
        """Measure the model as it is now (in the background when enabled)."""
        weights = reference.weights_from_model(self.model)
        if self._pool is None:
            future: Future = Future()
            future.set_result(self.measure(weights))
        else:
            future = self._pool.submit(self.measure, weights)
        self._pending.append(future)

    def results(self) -> list[dict[str, float | None]]:
        """Every snapshot's measurements, in order; waits for the background thread."""
        out = [f.result() for f in self._pending]
        if self._pool is not None:
            self._pool.shutdown()
        return out

    def measure(self, weights: dict[str, np.ndarray]) -> dict[str, float | None]:
        w32 = {k: v.astype(np.float32) for k, v in weights.items()}
        full = reference.forward_backward(self.variant, w32, self.x, self.y, training=False, backward=False, dtype=np.float32)
        probs, y = full.probs.astype(np.float64), self._y64
        eps = reference.DEFAULTS["bce_epsilon"]
        pc = np.clip(probs, eps, 1 - eps)
        batch_std = full.bn_input[self._batches].astype(np.float64).std(axis=1)
        g = self._grid
        fb = reference.forward_backward(self.variant, weights, self.x[g], self.y[g], training=False)
        out: dict[str, float | None] = {
            "eval_loss": float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean()),
            "eval_accuracy": float(((probs > 0.5) == (y > 0.5)).mean()),
            "saturation": float((np.abs(full.hidden) > SATURATION_LEVEL).mean()),
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


def keras_eval_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Keras's own inference-mode accuracy, for holding the NumPy pass to it."""
    from . import framework

    probs = framework.to_numpy(model(x, training=False)).astype(np.float64)
    return float(((probs > 0.5) == (y > 0.5)).mean())
