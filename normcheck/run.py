"""A training run as plain data: per-epoch lists of floats, JSON in and out."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .experiment import Experiment

SCHEMA = "normcheck.run/2"
READABLE = ("normcheck.run/1", SCHEMA)
PER_EPOCH = ("loss", "accuracy", "eval_loss", "eval_accuracy", "seconds")


@dataclass(frozen=True)
class Run:
    """What one (variant, experiment, seed) training produced.

    `loss`/`accuracy` are the train-mode numbers Keras prints (what the seed
    reported); `eval_*` are inference-mode numbers on the whole data set after
    each epoch (Keras's own inference, `framework.predict`); `probe_seconds` is the wall
    time spent measuring them and the diagnostics, outside the epoch clock;
    `diagnostics[0]` is taken before training, `diagnostics[e]` after epoch e.
    """

    variant: str
    seed: int
    experiment: Experiment
    loss: list[float]
    accuracy: list[float]
    eval_loss: list[float]
    eval_accuracy: list[float]
    seconds: list[float]
    diagnostics: list[dict[str, float]] = field(default_factory=list)
    order: str = "owned"
    steps_per_execution: int = 1
    versions: dict[str, str] = field(default_factory=dict)
    probe_seconds: float = 0.0

    @property
    def backend(self) -> str:
        return self.versions.get("backend", "?")

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def diag(self, key: str) -> list[float]:
        """One diagnostic over time: index 0 before training, e after epoch e."""
        return [d[key] for d in self.diagnostics]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["experiment"] = self.experiment.to_dict()
        out["schema"] = SCHEMA
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        if not isinstance(data, dict) or data.get("schema") not in READABLE:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"not a normcheck run (schema {got!r}); expected schema {SCHEMA!r}")
        data = dict(data)
        if data.pop("schema") == "normcheck.run/1":
            data.pop("keras_eval_accuracy", None)
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(n for n in names if n not in data and cls.__dataclass_fields__[n].default is dataclasses.MISSING
                         and cls.__dataclass_fields__[n].default_factory is dataclasses.MISSING)
        if missing:
            raise InputError(f"run is missing field(s) {missing}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"run has unknown field(s) {unknown}")
        data["experiment"] = Experiment.from_dict(data["experiment"])
        lengths = {k: len(data[k]) for k in PER_EPOCH}
        if len(set(lengths.values())) != 1:
            raise InputError(f"run's per-epoch lists differ in length: {lengths}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Run:
        return cls.from_dict(json.loads(text))


Matrix = dict[int, dict[str, Run]]


def by_seed(runs: Iterable[Run]) -> Matrix:
    """Runs grouped as {seed: {variant: run}}, seeds in the order first seen."""
    out: Matrix = {}
    for run in runs:
        out.setdefault(run.seed, {})[run.variant] = run
    return out
