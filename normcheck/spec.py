"""Your own experiment: a Keras training described as plain data and functions, checked like the question.

A `Spec` names the variants, builds and compiles the Keras model for one of them (Keras's
random generator seeded first, so a seed decides the initial weights), gives the data,
epochs and batch size, optional per-epoch measurements and the claims. Everything is
validated on construction with the same errors as the rest of normcheck; `check` also
builds each variant and reads its data, before any training. `load("pkg.module:NAME")`
finds a spec by reference, which is how worker processes, the CLI and the plugin reach it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .claims import OPS, OVER, Claim
from .errors import InputError, shown
from .run import at_epoch

MAX_EPOCHS = 10_000
MAX_BATCH = 10_000_000
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
FIT_ARGUMENTS = ("class_weight", "validation_batch_size")  # fit's own arguments a spec may set; normcheck sets the rest
SCHEMA = "normcheck.spec-run/1"


@dataclass(frozen=True)
class Data:
    """What `fit` trains on, and what is evaluated in inference mode after each epoch (Keras's `val_*` metrics).

    Arrays with the samples on the first axis (anything `numpy.asarray` takes); `x_eval` and
    `y_eval` together or not at all.
    """

    x: Any
    y: Any
    x_eval: Any = None
    y_eval: Any = None


def _fail(owner: str, name: str, value: Any, allowed: str) -> None:
    raise InputError(f"{owner}.{name}={shown(value)} is invalid; allowed: {allowed}")


def _positive(owner: str, name: str, value: Any, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        _fail(owner, name, value, f"an integer from 1 to {high}")


@dataclass(frozen=True)
class Spec:
    """An experiment: what to train per named variant, how long, in what batches, and what should come out.

    `build(variant)` returns a compiled `keras.Model`; normcheck seeds Keras before calling it and
    feeds each epoch in its own permutation of the samples, drawn from (seed, epoch), so a run depends
    only on (spec, variant, seed, versions). `data(variant)` is called once per variant and process.
    `measurements` maps a name to `f(model, data) -> float`, taken before training and after each
    epoch, outside the epoch clock; `f` may also take keyword-only `variant` and `seed`, and may
    return a mapping of names to floats instead (several measurements from one pass, recorded under
    those names, as the question's diagnostics are). `batch_size` is one number or one per variant.
    """

    name: str
    variants: tuple[str, ...]
    build: Callable[[str], Any] = field(repr=False)
    data: Callable[[str], Data] = field(repr=False)
    epochs: int
    batch_size: int | Mapping[str, int]
    claims: tuple[Claim, ...] = ()
    measurements: Mapping[str, Callable[..., float | Mapping[str, float | None]]] = field(default_factory=dict, repr=False)
    fit_arguments: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        own = "Spec"
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            _fail(own, "name", self.name, "a letter, then up to 63 letters, digits, '_', '.' or '-'")
        if isinstance(self.variants, str) or not isinstance(self.variants, (tuple, list)) or not self.variants:
            _fail(own, "variants", self.variants, "a non-empty tuple of variant names")
        object.__setattr__(self, "variants", tuple(self.variants))
        for v in self.variants:
            if not isinstance(v, str) or not NAME.fullmatch(v):
                _fail(own, "variants", self.variants, "names of a letter, then letters, digits, '_', '.' or '-'")
        if len(set(self.variants)) != len(self.variants):
            _fail(own, "variants", self.variants, "each name once")
        for name in ("build", "data"):
            if not callable(getattr(self, name)):
                _fail(own, name, getattr(self, name), f"a function of the variant name ({name}(variant))")
        _positive(own, "epochs", self.epochs, MAX_EPOCHS)
        if isinstance(self.batch_size, Mapping):
            if set(self.batch_size) != set(self.variants):
                _fail(own, "batch_size", dict(self.batch_size), f"one per variant, for exactly {', '.join(self.variants)}")
            for v, b in self.batch_size.items():
                _positive(own, f"batch_size[{v!r}]", b, MAX_BATCH)
            object.__setattr__(self, "batch_size", MappingProxyType(dict(self.batch_size)))
        else:
            _positive(own, "batch_size", self.batch_size, MAX_BATCH)
        self._check_claims()
        if not isinstance(self.measurements, Mapping):
            _fail(own, "measurements", self.measurements, "a mapping of name to f(model, data) -> float")
        for name, f in self.measurements.items():
            if not isinstance(name, str) or not name.isidentifier() or not callable(f):
                _fail(own, f"measurements[{name!r}]", f, "an identifier mapped to f(model, data) -> float")
            if not _measurement_signature(f):
                _fail(own, f"measurements[{name!r}]", f, "f(model, data) with at most keyword-only `variant` and "
                      "`seed` besides")
        object.__setattr__(self, "measurements", MappingProxyType(dict(self.measurements)))
        if not isinstance(self.fit_arguments, Mapping):
            _fail(own, "fit_arguments", self.fit_arguments, f"a mapping with keys among {', '.join(FIT_ARGUMENTS)}")
        for name in self.fit_arguments:
            if name not in FIT_ARGUMENTS:
                _fail(own, "fit_arguments", dict(self.fit_arguments),
                      f"keys among {', '.join(FIT_ARGUMENTS)} (normcheck sets x, y, epochs, batch_size, shuffle, "
                      "callbacks, verbose and validation_data itself)")
        object.__setattr__(self, "fit_arguments", MappingProxyType(dict(self.fit_arguments)))
        if not isinstance(self.description, str):
            _fail(own, "description", self.description, "a string")

    def _check_claims(self) -> None:
        if isinstance(self.claims, Claim) or not isinstance(self.claims, (tuple, list)):
            _fail("Spec", "claims", self.claims, "a tuple of normcheck.Claim (normcheck.spec.claim makes one)")
        object.__setattr__(self, "claims", tuple(self.claims))
        ids = [c.id if isinstance(c, Claim) else None for c in self.claims]
        for c in self.claims:
            if not isinstance(c, Claim):
                _fail("Spec", "claims", c, "normcheck.Claim values (normcheck.spec.claim makes one)")
            unknown = [v for v in c.variants if v not in self.variants]
            if unknown:
                _fail("Spec", f"claims[{c.id!r}]", unknown, f"variants of this spec: {', '.join(self.variants)}")
            if ids.count(c.id) > 1:
                _fail("Spec", "claims", c.id, "each claim id once")
            measure_name(c.measure, c.id)

    def batch_for(self, variant: str) -> int:
        return self.batch_size[variant] if isinstance(self.batch_size, Mapping) else self.batch_size

    def get_claim(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise InputError(f"claim {claim_id!r} is not in spec {self.name!r}; allowed: {', '.join(c.id for c in self.claims)}")

    def check_variants(self, names: list[str] | None) -> list[str]:
        if names is None:
            return list(self.variants)
        unknown = [n for n in names if n not in self.variants]
        if unknown:
            raise InputError(f"variant(s) {', '.join(map(repr, unknown))} not in spec {self.name!r}; allowed: "
                             f"{', '.join(self.variants)}")
        return list(names)


MEASUREMENT_KEYWORDS = ("variant", "seed")  # what normcheck passes a measurement that names them


def _measurement_signature(f: Callable[..., Any]) -> bool:
    """Whether `f` takes (model, data) and needs no keyword but `variant` and `seed`."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return True  # a callable without a signature to read: its call will say
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_two = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)
    required = [p for p in positional if p.default is p.empty]
    unknown = [p for p in params if p.kind == p.KEYWORD_ONLY and p.default is p.empty
               and p.name not in MEASUREMENT_KEYWORDS]
    return takes_two and len(required) <= 2 and not unknown


def measurement_keywords(f: Callable[..., Any], variant: str, seed: int) -> dict[str, Any]:
    """`variant` and `seed` for the keyword-only parameters of `f` so named (not those a `functools.partial` binds)."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return {}
    bound = f.keywords if isinstance(f, functools.partial) else {}
    given = {"variant": variant, "seed": seed}
    return {p.name: given[p.name] for p in params
            if p.kind == p.KEYWORD_ONLY and p.name in MEASUREMENT_KEYWORDS and p.name not in bound}


def arrays(spec: Spec, variant: str) -> Data:
    """`spec.data(variant)` as NumPy arrays, checked: a bad one is an InputError naming the spec, variant and field."""
    where = f"{spec.name}: data({variant!r})"
    try:
        data = spec.data(variant)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{where} raised {type(exc).__name__}: {exc}") from None
    if not isinstance(data, Data):
        raise InputError(f"{where} returned {shown(data, 80)}; allowed: a normcheck.spec.Data")
    if (data.x_eval is None) != (data.y_eval is None):
        raise InputError(f"{where}: x_eval and y_eval go together; one of them is None")
    out: dict[str, np.ndarray | None] = {}
    for name in ("x", "y", "x_eval", "y_eval"):
        value = getattr(data, name)
        if value is None:
            out[name] = None
            continue
        a = np.asarray(value)
        if a.ndim == 0 or len(a) == 0 or a.dtype.kind not in "biuf":
            raise InputError(f"{where}.{name} has shape {a.shape} and dtype {a.dtype}; allowed: numbers with at least "
                             "one sample on the first axis")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise InputError(f"{where}.{name} holds NaN or infinite values; allowed: finite numbers")
        out[name] = a
    for x, y in (("x", "y"), ("x_eval", "y_eval")):
        first, second = out[x], out[y]
        if first is not None and second is not None and len(first) != len(second):
            raise InputError(f"{where}: {x} has {len(first)} samples and {y} {len(second)}; allowed: as many")
    samples = len(out["x"])  # type: ignore[arg-type]
    if spec.batch_for(variant) > samples:
        raise InputError(f"Spec.batch_size={spec.batch_for(variant)} for {variant!r} is invalid; allowed: at most the "
                         f"{samples} samples of its data")
    return Data(**out)


def claim(id: str, statement: str, measure: Callable[[Mapping[str, SpecRun]], float], rule: str, *,
          over: str = "median", source: str = "", basis: str = "", variants: tuple[str, ...] = ()) -> Claim:
    """A claim of your own: `measure(runs of one seed, by variant) <rule>`, e.g. rule ">= 0.9".

    `variants` defaults to `measure.variants` (the measures in this module carry it)."""
    if not isinstance(rule, str) or not re.fullmatch(r"\s*(>=|>|<=|<)\s*\S+\s*", rule):
        raise InputError(f"claim {id!r}: rule={shown(rule)} is invalid; allowed: an operator ({', '.join(OPS)}) "
                         "and a finite number, e.g. '>= 0.9'")
    op, number = re.fullmatch(r"\s*(>=|>|<=|<)\s*(\S+)\s*", rule).groups()  # type: ignore[union-attr]
    try:
        threshold = float(number)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise InputError(f"claim {id!r}: rule={shown(rule)} is invalid; allowed: a finite number after {op}")
    if over not in OVER:
        raise InputError(f"claim {id!r}: over={shown(over)} is invalid; allowed: {', '.join(OVER)}")
    if not isinstance(id, str) or not NAME.fullmatch(id):
        raise InputError(f"claim id={shown(id)} is invalid; allowed: a letter, then letters, digits, '_', '.' or '-'")
    if not callable(measure):
        raise InputError(f"claim {id!r}: measure={shown(measure)} is invalid; allowed: a function of one seed's runs")
    named = tuple(variants) or tuple(getattr(measure, "variants", ()))
    if not named:
        raise InputError(f"claim {id!r} names no variants; allowed: variants=(...) or a measure from normcheck.spec "
                         "(final, difference)")
    return Claim(id, "claim", source, statement, measure, op, threshold, basis or "stated by its author", over=over,
                 variants=named)


@dataclass(frozen=True)
class Final:
    """A metric of one variant after an epoch (1-based; -1 the last): fit's logs (`accuracy`, `val_loss`, ...) or a
    measurement's name."""

    metric: str
    variant: str
    epoch: int = -1

    @property
    def variants(self) -> tuple[str, ...]:
        return (self.variant,)

    def __call__(self, runs: Mapping[str, SpecRun]) -> float:
        return runs[self.variant].metric(self.metric, self.epoch)


@dataclass(frozen=True)
class Difference:
    """`first - second`, two measures of the same seed's runs."""

    first: Callable[[Mapping[str, SpecRun]], float]
    second: Callable[[Mapping[str, SpecRun]], float]

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*getattr(self.first, "variants", ()), *getattr(self.second, "variants", ()))))

    def __call__(self, runs: Mapping[str, SpecRun]) -> float:
        return self.first(runs) - self.second(runs)


def final(metric: str, variant: str, epoch: int = -1) -> Final:
    return Final(metric, variant, epoch)


def difference(first: Callable[[Mapping[str, SpecRun]], float], second: Callable[[Mapping[str, SpecRun]], float]) -> Difference:
    return Difference(first, second)


@dataclass(frozen=True)
class SpecRun:
    """What one (spec, variant, seed) training produced, as plain data.

    `history`: fit's logs per epoch (train mode; `val_*` in inference mode on `Data.x_eval`).
    `measured`: each measurement, index 0 before training and e after epoch e. `seconds`: each
    epoch's wall time in fit, validation included, measurements not.
    """

    experiment: str
    variant: str
    seed: int
    history: dict[str, list[float]]
    measured: dict[str, list[float]]
    seconds: list[float]
    versions: dict[str, str]

    @property
    def backend(self) -> str:
        return self.versions.get("backend", "?")

    @property
    def epochs(self) -> int:
        return len(self.seconds)

    def trace(self, name: str) -> list[float]:
        """A measurement before training (index 0) and after each epoch."""
        if name not in self.measured:
            raise InputError(f"{self.experiment}/{self.variant} has no measurement {name!r}; allowed: "
                             f"{', '.join(self.measured) or 'none'}")
        return self.measured[name]

    def series(self, name: str) -> list[float]:
        """`name` after each epoch: a log of fit's, else a measurement."""
        if name in self.history:
            return self.history[name]
        if name in self.measured:
            return self.measured[name][1:]
        raise InputError(f"{self.experiment}/{self.variant} has no metric {name!r}; allowed: "
                         f"{', '.join([*self.history, *self.measured])}")

    def metric(self, name: str, epoch: int = -1) -> float:
        """`name` after epoch `epoch` (1-based; -1 the last): a log of fit's, else a measurement."""
        return at_epoch(self.series(name), epoch, f"{self.experiment}/{self.variant}")

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "experiment": self.experiment, "variant": self.variant, "seed": self.seed,
                "history": self.history, "measured": self.measured, "seconds": self.seconds, "versions": self.versions}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True)

    @classmethod
    def from_dict(cls, d: Any, where: str = "a run") -> SpecRun:
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise InputError(f"{where} is not a {SCHEMA} record")
        try:
            return cls(str(d["experiment"]), str(d["variant"]), int(d["seed"]),
                       {str(k): [float(x) for x in v] for k, v in d["history"].items()},
                       {str(k): [float(x) for x in v] for k, v in d["measured"].items()},
                       [float(x) for x in d["seconds"]], {str(k): str(v) for k, v in d["versions"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{where} is malformed: {type(exc).__name__}: {exc}") from None

    @classmethod
    def from_json(cls, text: str, where: str = "a run") -> SpecRun:
        try:
            return cls.from_dict(json.loads(text), where)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where} is not JSON: {exc}") from None


REF = re.compile(r"(?P<module>[^:]+):(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


def load(ref: str) -> Spec:
    """The Spec that `ref` names: "pkg.module:NAME", or "path/to/file.py:NAME"."""
    m = REF.fullmatch(ref) if isinstance(ref, str) else None
    if m is None:
        raise InputError(f"experiment {shown(ref)} is invalid; allowed: 'pkg.module:NAME' or 'path/file.py:NAME'")
    module_name, name = m["module"], m["name"]
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            if not path.is_file():
                raise InputError(f"experiment {ref!r}: no file {module_name!r}")
            key = f"normcheck_spec_{abs(hash(str(path)))}"
            module = sys.modules.get(key)
            if module is None:
                loader = importlib.util.spec_from_file_location(key, path)
                if loader is None or loader.loader is None:
                    raise InputError(f"experiment {ref!r}: {module_name!r} is not a Python file")
                module = importlib.util.module_from_spec(loader)
                sys.modules[key] = module
                loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except InputError:
        raise
    except ModuleNotFoundError as exc:
        raise InputError(f"experiment {ref!r}: no module {exc.name!r} (is it on sys.path?)") from None
    except Exception as exc:
        raise InputError(f"experiment {ref!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    value = getattr(module, name, None)
    if not isinstance(value, Spec):
        found = f"found {type(value).__name__}" if value is not None else "nothing there"
        raise InputError(f"experiment {ref!r}: {module_name} has no Spec named {name!r} ({found})")
    return value


def absolute(ref: str) -> str:
    """A ref that worker processes elsewhere in the file system resolve the same way (a file path made absolute)."""
    m = REF.fullmatch(ref)
    if m is not None and m["module"].endswith(".py"):
        return f"{Path(m['module']).resolve()}:{m['name']}"
    return ref


def source_path(ref: str) -> Path | None:
    """The file of the module a reference names (None where it has none), for the fingerprint a cluster checks."""
    m = REF.fullmatch(ref)
    if m is None:
        return None
    if m["module"].endswith(".py"):
        return Path(m["module"]).resolve()
    found = importlib.util.find_spec(m["module"])
    return Path(found.origin) if found is not None and found.origin else None


def rule(s: Spec) -> list[dict[str, Any]]:
    """What judges a run of `s`: each claim's measure, rule and each/median, as plain data."""
    return [{"id": c.id, "measure": measure_name(c.measure, c.id), "op": c.op, "threshold": c.threshold, "over": c.over}
            for c in s.claims]


def _bound(value: Any, claim_id: str) -> str:
    if isinstance(value, (Final, Difference)) or value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, tuple):
        return f"({', '.join(_bound(v, claim_id) for v in value)},)"
    raise InputError(f"claim {claim_id!r}: its measure binds {shown(value)}; allowed: plain values (str, int, float, "
                     "bool, None, tuples of them, final/difference), which the rule's hash can name the same way in "
                     "every process")


def measure_name(measure: Any, claim_id: str) -> str:
    """How the rule names a measure, the same in every process: a `functools.partial` with every bound argument."""
    if isinstance(measure, (Final, Difference)):
        return repr(measure)
    if isinstance(measure, functools.partial):
        bound = [_bound(v, claim_id) for v in measure.args]
        bound += [f"{k}={_bound(v, claim_id)}" for k, v in sorted(measure.keywords.items())]
        return f"{measure_name(measure.func, claim_id)}({', '.join(bound)})"
    return getattr(measure, "__qualname__", "?")


def rule_version(s: Spec) -> str:
    """The first 12 hex digits of the rule's SHA-256: a count holds for the version it was made under."""
    return hashlib.sha256(json.dumps(rule(s), sort_keys=True).encode()).hexdigest()[:12]
