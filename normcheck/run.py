"""A training run as plain data: per-epoch lists of floats, JSON in and out."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import seeds
from .errors import InputError, shown
from .experiment import ORDERS, Experiment
from .variants import VARIANTS

_V = TypeVar("_V")

SCHEMA = "normcheck.run/2"
READABLE = ("normcheck.run/1", SCHEMA)
METRICS = ("loss", "accuracy", "eval_loss", "eval_accuracy")  # per epoch: what Keras prints, then inference mode
PER_EPOCH = (*METRICS, "seconds")  # every per-epoch list a Run holds


@dataclass(frozen=True)
class Run:
    """What one (variant, experiment, seed) training produced.

    `loss`/`accuracy` are the train-mode numbers Keras prints (what the question
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

    @property
    def diagnostic_names(self) -> list[str]:
        """The diagnostics' names (none for a run without diagnostics)."""
        return list(self.diagnostics[0]) if self.diagnostics else []

    def trace(self, name: str) -> list[float]:
        """A measurement before training and after each epoch: a diagnostic (what `normcheck.spec.SpecRun.trace`
        gives for a measurement, so one claim reads either kind of run)."""
        if name not in self.diagnostic_names:
            raise InputError(f"{self.variant} seed {self.seed} has no measurement {name!r}; allowed: "
                             f"{', '.join(self.diagnostic_names) or 'none (run without diagnostics)'}")
        return self.diag(name)

    def series(self, name: str) -> list[float]:
        """`name` after each epoch: one of METRICS, else a diagnostic."""
        if name in METRICS:
            return list(getattr(self, name))
        if name not in self.diagnostic_names:
            raise InputError(f"{self.variant} seed {self.seed} has no metric {name!r}; allowed: "
                             f"{', '.join([*METRICS, *self.diagnostic_names])}")
        return self.diag(name)[1:]

    def metric(self, name: str, epoch: int = -1) -> float:
        """`name` after epoch `epoch` (1-based; -1 the last)."""
        return at_epoch(self.series(name), epoch, f"{self.variant} seed {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["experiment"] = self.experiment.to_dict()
        out["schema"] = SCHEMA
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "run", *, finite: bool = True) -> Run:
        """A Run from its JSON form, every field checked; errors name `where` and the place in it.

        `finite=False` lets NaN and infinities through: a run normcheck trained itself may
        carry them (a framework that diverges), and that is a finding, not bad input.
        """
        if not isinstance(data, dict) or data.get("schema") not in READABLE:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"{where} is not a normcheck run (schema {shown(got)}); expected schema {SCHEMA!r}")
        data = dict(data)
        if data.pop("schema") == "normcheck.run/1":
            data.pop("keras_eval_accuracy", None)
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(n for n in names if n not in data and cls.__dataclass_fields__[n].default is dataclasses.MISSING
                         and cls.__dataclass_fields__[n].default_factory is dataclasses.MISSING)
        if missing:
            raise InputError(f"{where} is missing field(s) {missing}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{where} has unknown field(s) {unknown}")
        data["experiment"] = _check_fields(data, where, finite)
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Run:
        """A run normcheck wrote itself (a worker's result, the shared cache): non-finite values pass."""
        return cls.from_dict(json.loads(text), finite=False)


RunsBySeed = dict[int, dict[str, Run]]


def at_epoch(values: list[float], epoch: int, where: str) -> float:
    """The value after epoch `epoch` (1-based; -1 the last) of a per-epoch list, else an InputError naming `where`."""
    if epoch == 0 or not -len(values) <= epoch <= len(values):
        raise InputError(f"epoch {epoch} is invalid for {where}; allowed: 1 to {len(values)} or -1")
    return float(values[epoch - 1 if epoch > 0 else epoch])


def by_seed(runs: Iterable[Run]) -> RunsBySeed:
    """Runs grouped as {seed: {variant: run}}, seeds in the order first seen."""
    out: RunsBySeed = {}
    for run in runs:
        out.setdefault(run.seed, {})[run.variant] = run
    return out


def disjoint_groups(matrix: Mapping[int, _V], size: int) -> list[dict[int, _V]]:
    """The seeds in order, cut into consecutive groups of `size` (a shorter rest is left out): runs or any per-seed value."""
    seeds = sorted(matrix)
    return [{s: matrix[s] for s in seeds[i:i + size]} for i in range(0, len(seeds) - size + 1, size)]


def _bad(where: str, place: str, value: Any, allowed: str) -> InputError:
    return InputError(f"{where}: {place} is {shown(value)}; allowed: {allowed}")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _check_fields(data: dict[str, Any], where: str, finite: bool) -> Experiment:
    """Types, finite values, known names and per-epoch lengths equal to the experiment's epochs; returns the experiment."""
    if not isinstance(data["variant"], str) or data["variant"] not in VARIANTS:
        raise _bad(where, "variant", data["variant"], ", ".join(VARIANTS))
    try:
        seeds.check(data["seed"])
    except InputError:
        raise _bad(where, "seed", data["seed"], "an integer from 0 to 2**32 - 1") from None
    if not isinstance(data["experiment"], dict):
        raise _bad(where, "experiment", data["experiment"], "a JSON object of Experiment fields")
    try:
        experiment = Experiment.from_dict(data["experiment"])
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    epochs = experiment.epochs
    diagnostics = data.get("diagnostics", [])
    no_probe = diagnostics == []
    for key in PER_EPOCH:
        values = data[key]
        if not isinstance(values, list) or len(values) != epochs:
            raise _bad(where, key, values, f"a list of {epochs} numbers, one per epoch")
        for i, v in enumerate(values):
            nan_allowed = not finite or (no_probe and key.startswith("eval_") and _number(v) and math.isnan(v))
            if not _number(v) or not (math.isfinite(v) or nan_allowed) or (key == "seconds" and v < 0):
                raise _bad(where, f"{key}[{i}]", v, "a finite number" + (" >= 0" if key == "seconds" else ""))
    if not isinstance(diagnostics, list) or len(diagnostics) not in (0, epochs + 1):
        raise _bad(where, "diagnostics", diagnostics, f"a list of {epochs + 1} objects (before training, then per epoch) or []")
    for i, d in enumerate(diagnostics):
        if not isinstance(d, dict) or not all(isinstance(k, str) and (v is None or (_number(v) and (math.isfinite(v) or not finite)))
                                              for k, v in d.items()):
            raise _bad(where, f"diagnostics[{i}]", d, "an object of names to finite numbers or null")
    if not isinstance(data.get("order", "owned"), str) or data.get("order", "owned") not in ORDERS:
        raise _bad(where, "order", data["order"], " or ".join(ORDERS))
    spe = data.get("steps_per_execution", 1)
    if not _number(spe) or isinstance(spe, float) or spe < 1:
        raise _bad(where, "steps_per_execution", spe, "an integer >= 1")
    versions = data.get("versions", {})
    if not isinstance(versions, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items()):
        raise _bad(where, "versions", versions, "an object of names to version strings")
    probe = data.get("probe_seconds", 0.0)
    if not _number(probe) or not math.isfinite(probe) or probe < 0:
        raise _bad(where, "probe_seconds", probe, "a finite number >= 0")
    return experiment
