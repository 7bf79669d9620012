"""Step-by-step traces of real `fit`, for comparing backends and the NumPy oracle.

`python -m normcheck.traces BACKEND VARIANT STEPS OUT.npz [INIT.npz]` traces one
backend in a fresh process (Keras fixes its backend per process).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import framework, oracle
from .data import dataset, epoch_order
from .errors import InputError
from .experiment import QUESTION_EXPERIMENT, Experiment
from .mutations import apply_from_environment
from .training import build_compiled
from .variants import get_variant


@dataclass
class Trace:
    initial: dict[str, np.ndarray]
    losses: np.ndarray
    weights: list[dict[str, np.ndarray]]
    slots: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray
    order: np.ndarray


def trace(variant: str, steps: int, seed: int = 0, initial: dict[str, np.ndarray] | None = None,
          experiment: Experiment = QUESTION_EXPERIMENT) -> Trace:
    """`steps` steps of fit (one step per call), with the weights after each step and Adam's slots at the end."""
    keras = framework.keras()
    v = get_variant(variant)
    x, y = dataset(experiment, v.input_norm)
    model, _ = build_compiled(v, experiment.replace(steps_per_execution=1), seed)
    if initial is not None:
        oracle.set_weights(model, {k: np.asarray(a, dtype=np.float32) for k, a in initial.items()}, v)
    start = oracle.weights_from_model(model, v)
    order = epoch_order(seed, 0, len(x))[: steps * experiment.batch_size]
    means, weights = [], []

    Callback: Any = keras.callbacks.Callback

    class Record(Callback):
        def on_train_batch_end(self, batch, logs=None):
            means.append(float(logs["loss"]))
            weights.append(oracle.weights_from_model(self.model, v))

    model.fit(x[order], y[order], batch_size=experiment.batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    k = np.arange(1, len(means) + 1)
    losses = np.diff(np.concatenate([[0.0], np.asarray(means, dtype=np.float64) * k]))
    slots = {}
    for var in model.optimizer.variables:
        name = getattr(var, "path", None) or var.name
        slots[name] = framework.to_numpy(var).astype(np.float64)
    return Trace(start, losses, weights, slots, x, y, order)


def first_divergence(expected: list[dict[str, np.ndarray]], got: list[dict[str, np.ndarray]],
                     rtol: float, atol: float) -> tuple[int, str, float] | None:
    """The first (step, weight, max abs difference) where two weight trajectories part, or None."""
    for step, (e, g) in enumerate(zip(expected, got, strict=False)):
        for name in e:
            if not np.allclose(g[name], e[name], rtol=rtol, atol=atol):
                return step + 1, name, float(np.max(np.abs(g[name] - e[name])))
    return None


def adam_slot(slots: dict[str, np.ndarray], variant: str, name: str, kind: str) -> np.ndarray:
    """Keras's Adam slot ("momentum" or "velocity") for the oracle's weight `name` (Keras 3 or 2 naming)."""
    group, weight = name.split("/")
    keras_layer = get_variant(variant).layer_names()[group]
    keras2 = f"{kind[0]}/{keras_layer}/{weight}"
    found = [a for k, a in slots.items()
             if k.split("/")[-1] == f"{keras_layer}_{weight}_{kind}" or k.split(":")[0].endswith(keras2)]
    if len(found) != 1:
        raise InputError(f"no unique Adam {kind} slot for {name} among {sorted(slots)}")
    return found[0]


def adam_slot_pairs(slots: dict[str, np.ndarray], expected: oracle.OracleTrace, variant: str):
    """(label, Keras's slot, the oracle's) for every Adam slot of every trained weight."""
    for name in expected.m:
        for kind, want in (("momentum", expected.m[name]), ("velocity", expected.v[name])):
            yield f"Adam {kind} of {name}", adam_slot(slots, variant, name, kind).reshape(want.shape), want


def save(t: Trace, path: str) -> None:
    arrays: dict[str, Any] = {f"w{i}/{k}": a for i, w in enumerate(t.weights) for k, a in w.items()}
    arrays.update({f"init/{k}": a for k, a in t.initial.items()})
    arrays.update({f"slot/{k}": a for k, a in t.slots.items()})
    np.savez(path, losses=t.losses, order=t.order, **arrays)


def load(path: str) -> dict:
    data = np.load(path)
    steps = len(data["losses"])
    weights: list[dict[str, np.ndarray]] = [{} for _ in range(steps)]
    initial, slots = {}, {}
    for key in data.files:
        head, _, name = key.partition("/")
        if head.startswith("w") and head[1:].isdigit():
            weights[int(head[1:])][name] = data[key]
        elif head == "init":
            initial[name] = data[key]
        elif head == "slot":
            slots[name] = data[key]
    return {"losses": data["losses"], "order": data["order"], "weights": weights, "initial": initial, "slots": slots}


if __name__ == "__main__":
    backend, variant, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    framework.select_backend(backend)
    framework.skip_tensorflow()
    apply_from_environment()
    init = load(sys.argv[5])["initial"] if len(sys.argv) > 5 else None
    save(trace(variant, steps, initial=init), out)
