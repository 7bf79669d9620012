"""The question's experiment as a frozen, validated value."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .errors import InputError, shown

ORDERS: tuple[str, ...] = ("owned", "fit")
MAX_SAMPLES = 10_000_000  # the diagnostics hold a (samples x units) float64 array: bounds keep it within memory
MAX_UNITS = 4096
MAX_EPOCHS = 10_000
MAX_ACTIVATIONS = 2**27  # n_samples x hidden_units: the diagnostics' float64 array (and predict's) within 1 GiB


def _fail(field: str, value: Any, allowed: str) -> None:
    raise InputError(f"Experiment.{field}={shown(value)} is invalid; allowed: {allowed}")


def _check_int(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(field, value, f"an integer from {low} to {high}")


@dataclass(frozen=True)
class Experiment:
    """Everything but the variant and the seed that decides a training run.

    Defaults are the question's script: X = 0..24999, y = 0 below 12500 and 1 from it,
    Dense(20, tanh), Adam and binary cross-entropy with Keras's defaults, batch 20,
    10 epochs. Inputs are X * scale + shift. `steps_per_execution=None` means one
    whole epoch per call where the backend allows it (the history is identical).
    `order="owned"` feeds each epoch in a NumPy permutation drawn from
    (seed, epoch); `order="fit"` leaves shuffling to `fit(shuffle=True)`.
    """

    n_samples: int = 25000
    hidden_units: int = 20
    batch_size: int = 20
    epochs: int = 10
    scale: float = 1.0
    shift: float = 0.0
    steps_per_execution: int | None = None
    order: str = "owned"

    activation = "tanh"
    optimizer = "adam"
    loss = "binary_crossentropy"

    def __new__(cls, *args: Any, **kwargs: Any) -> Experiment:
        """Unknown or surplus arguments are a ValueError naming them and the fields allowed (not the TypeError the
        generated __init__ would raise)."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise InputError(f"Experiment has no field(s) {', '.join(unknown)}; allowed: {', '.join(names)} (the "
                             f"activation, optimizer and loss are the question's: {cls.activation}, {cls.optimizer} "
                             f"with Keras's defaults, {cls.loss})")
        if len(args) > len(names):
            raise InputError(f"Experiment takes at most {len(names)} positional arguments ({', '.join(names)}); "
                             f"got {len(args)}")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        _check_int("n_samples", self.n_samples, 2, MAX_SAMPLES)
        _check_int("hidden_units", self.hidden_units, 1, MAX_UNITS)
        _check_int("batch_size", self.batch_size, 1, MAX_SAMPLES)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        if self.n_samples * self.hidden_units > MAX_ACTIVATIONS:
            raise InputError(f"Experiment.n_samples={self.n_samples} x hidden_units={self.hidden_units} is "
                             f"{self.n_samples * self.hidden_units} activations; allowed: at most {MAX_ACTIVATIONS} "
                             "(the diagnostics hold them all as float64, within 1 GiB)")
        if self.batch_size > self.n_samples:
            _fail("batch_size", self.batch_size, f"at most n_samples={self.n_samples}")
        for name in ("scale", "shift"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                _fail(name, value, "a finite number")
        if self.scale == 0:
            _fail("scale", self.scale, "a finite non-zero number")
        if max(abs(self.shift), abs(self.shift + self.scale * (self.n_samples - 1))) > 1e30:
            _fail("scale", self.scale, "values that keep every input below 1e30 in magnitude")
        if self.steps_per_execution is not None:
            _check_int("steps_per_execution", self.steps_per_execution, 1, MAX_SAMPLES)
        if self.order not in ORDERS:
            _fail("order", self.order, " or ".join(repr(o) for o in ORDERS))

    @property
    def max_abs_x(self) -> float:
        """The largest raw input's magnitude: 24999 in the question."""
        return float(max(abs(self.shift), abs(self.shift + self.scale * (self.n_samples - 1))))

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_samples // self.batch_size)

    def replace(self, **changes: Any) -> Experiment:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Experiment:
        if not isinstance(data, dict):
            raise InputError(f"an experiment must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown Experiment field(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)


QUESTION_EXPERIMENT = Experiment()
