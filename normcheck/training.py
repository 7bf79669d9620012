"""train(variant, experiment, seed) -> Run, through the real keras.Model.fit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import framework, seeds
from .data import dataset, epoch_order
from .diagnostics import Probe
from .errors import InputError
from .experiment import QUESTION_EXPERIMENT, Experiment
from .run import Run
from .variants import Variant, build_model, get_variant

Progress = Callable[[str, int, int, int, float], None]


def resolve_steps_per_execution(experiment: Experiment, backend: str) -> int:
    """None means one whole epoch, where the backend accepts more than one step per call."""
    wanted = experiment.steps_per_execution
    if not framework.traits(backend).whole_epoch_calls:
        if wanted not in (None, 1):
            raise InputError(f"Experiment.steps_per_execution={wanted!r} is invalid on {backend}; allowed: 1 or None")
        return 1
    return min(wanted or experiment.steps_per_epoch, experiment.steps_per_epoch)


EpochHook = Callable[[int, dict[str, Any], float, Callable[[], Any]], None]


def epoch_recorder(after_epoch: EpochHook) -> Any:
    """A fit callback that times each epoch, then, outside the clock, hands `after_epoch` the epoch, fit's logs, the
    seconds and a way to the model (read only where a measurement needs it: on JAX, reading `.model` syncs the
    trained weights into the model's variables)."""
    keras = framework.keras()
    Callback: Any = keras.callbacks.Callback

    class Recorder(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._start
            after_epoch(epoch, logs or {}, seconds, lambda: self.model)

    return Recorder()


def compile_model(model, experiment: Experiment, spe: int | None = None) -> int:
    """Compile as the question did: Adam and binary cross-entropy by name, accuracy printed; returns the steps per
    call (`spe`, else the experiment's on this backend)."""
    if spe is None:
        spe = resolve_steps_per_execution(experiment, framework.keras().backend.backend())
    model.compile(optimizer=experiment.optimizer, loss=experiment.loss, metrics=["accuracy"], steps_per_execution=spe)
    return spe


def build_compiled(variant: str | Variant, experiment: Experiment, seed: int):
    """Seed Keras, build the question's network and compile it as the question did."""
    keras = framework.keras()
    keras.utils.set_random_seed(seed)
    model = build_model(variant, experiment)
    return model, compile_model(model, experiment)


_COMPILED: dict[tuple, tuple] = {}


SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {  # name: (default, allowed)
    "NORMCHECK_REUSE": ("1", ("0", "1")),  # 1: one compiled model per variant, reused across seeds; 0: a fresh build per run
    "NORMCHECK_FIT_CALLS": ("run", ("run", "epoch")),  # run: one fit call per run; epoch: a call per epoch (the long way)
}


def setting(name: str) -> str:
    """An environment switch of the training path, its default when unset; anything else is bad input."""
    default, allowed = SETTINGS[name]
    value = os.environ.get(name, default)
    if value not in allowed:
        raise InputError(f"{name}={value!r} is invalid; allowed: {' or '.join(allowed)}")
    return value


def check_settings() -> None:
    """Every training switch, checked before any training starts."""
    for name in SETTINGS:
        setting(name)


def reuse_requested() -> bool:
    return setting("NORMCHECK_REUSE") == "1"


def reuse_enabled() -> bool:
    return reuse_requested() and hasattr(framework.keras(), "ops")


def prepared_model(variant: Variant, experiment: Experiment, seed: int):
    """A compiled model in the exact state a fresh build for `seed` would have.

    Tracing the training step costs 1-2 s per new model. With the owned batch
    order, nothing in fit draws random numbers, so one compiled model per
    (variant, graph settings) is reused: it gets the weights a freshly seeded
    build draws, and its optimizer variables go back to their state at build
    time. The suite checks the history is identical to a fresh build's.
    """
    if experiment.order != "owned" or not reuse_enabled():
        return build_compiled(variant, experiment, seed)
    keras = framework.keras()
    spe = resolve_steps_per_execution(experiment, keras.backend.backend())
    key = (variant.name, experiment.hidden_units, experiment.batch_size, spe, keras.backend.backend())
    keras.utils.set_random_seed(seed)
    fresh = build_model(variant, experiment)
    cached = _COMPILED.get(key)
    if cached is None:
        compile_model(fresh, experiment, spe)
        fresh.optimizer.build(fresh.trainable_variables)
        _COMPILED[key] = (fresh, [framework.to_numpy(v).copy() for v in fresh.optimizer.variables])
        return fresh, spe
    model, optimizer_state = cached
    model.set_weights(fresh.get_weights())
    for var, value in zip(model.optimizer.variables, optimizer_state, strict=True):
        var.assign(value)
    return model, spe


def fit_epochs(model, experiment: Experiment, seed: int, x, y, callbacks: list) -> None:
    """All epochs through keras.Model.fit, in normcheck's order (`fit_in_order`) or in fit's own."""
    if experiment.order == "fit":
        model.fit(x, y, batch_size=experiment.batch_size, epochs=experiment.epochs, shuffle=True,
                  verbose=0, callbacks=callbacks)
        return
    fit_in_order(model, x, y, batch_size=experiment.batch_size, epochs=experiment.epochs, seed=seed,
                 callbacks=callbacks)


def fit_in_order(model, x, y, *, batch_size: int, epochs: int, seed: int, callbacks: list, **fit_arguments: Any) -> None:
    """Every epoch over its own permutation of the samples, drawn from (seed, epoch), through keras.Model.fit.

    One fit call over the epochs' permutations laid end to end, with `steps_per_epoch` set so
    Keras keeps one iterator across epochs: the same batches, per-epoch metrics and callbacks
    as a call per epoch, without building a data pipeline per epoch. Where the samples do not
    divide into whole batches, an epoch ends with a short batch, so each epoch is its own call
    (`NORMCHECK_FIT_CALLS=epoch` always; the suite holds the two to the same history).
    """
    n = len(x)
    if n % batch_size == 0 and single_call_enabled():
        order = np.concatenate([epoch_order(seed, epoch, n) for epoch in range(epochs)])
        model.fit(**framework.whole_batches(x[order], y[order], batch_size), epochs=epochs,
                  steps_per_epoch=n // batch_size, shuffle=False, verbose=0, callbacks=callbacks, **fit_arguments)
        return
    for epoch in range(epochs):
        perm = epoch_order(seed, epoch, n)
        model.fit(x[perm], y[perm], batch_size=batch_size, epochs=epoch + 1, initial_epoch=epoch,
                  shuffle=False, verbose=0, callbacks=callbacks, **fit_arguments)


def single_call_enabled() -> bool:
    return setting("NORMCHECK_FIT_CALLS") == "run"


def train(
    variant: str | Variant,
    experiment: Experiment = QUESTION_EXPERIMENT,
    seed: int = 0,
    *,
    diagnostics: bool = True,
    progress: Progress | None = None,
) -> Run:
    """Train one variant with Keras and record what the question printed, and more.

    With `diagnostics=False` only Keras's own logs and epoch times are kept
    (inference-mode metrics are then NaN): the bare path benchmarks compare against.
    """
    v = get_variant(variant)
    seeds.check(seed)
    if not isinstance(experiment, Experiment):
        raise InputError(f"experiment={experiment!r} is invalid; allowed: a normcheck.Experiment")
    x, y = dataset(experiment, v.input_norm)
    model, spe = prepared_model(v, experiment, seed)
    probe = Probe(model, v, x, y, experiment.batch_size, seed) if diagnostics else None
    records: dict[str, list] = {"seconds": [], "loss": [], "accuracy": [], "diagnostics": []}
    if probe is not None:
        probe.snapshot()

    def after_epoch(epoch: int, logs: dict[str, Any], seconds: float, trained: Callable[[], Any]) -> None:
        records["seconds"].append(seconds)
        records["loss"].append(float(logs["loss"]))
        records["accuracy"].append(float(logs["accuracy"]))
        if probe is not None:
            trained()
            probe.snapshot()
        if progress is not None:
            progress(v.name, seed, epoch + 1, experiment.epochs, records["accuracy"][-1])

    fit_epochs(model, experiment, seed, x, y, [epoch_recorder(after_epoch)])
    if probe is not None:
        records["diagnostics"] = probe.results()
    after = records["diagnostics"][1:]
    nan = float("nan")
    return Run(
        variant=v.name,
        seed=seed,
        experiment=experiment,
        loss=records["loss"],
        accuracy=records["accuracy"],
        eval_loss=[d["eval_loss"] for d in after] if after else [nan] * experiment.epochs,
        eval_accuracy=[d["eval_accuracy"] for d in after] if after else [nan] * experiment.epochs,
        seconds=records["seconds"],
        diagnostics=records["diagnostics"],
        order=experiment.order,
        steps_per_execution=spe,
        versions=framework.versions(),
        probe_seconds=probe.seconds if probe is not None else 0.0,
    )
