"""Mutation self-test: inject framework changes into Keras and show the suite catches each.

A mutation is applied in the pytest process (NORMCHECK_MUTATION=name) before any
model is built. `python -m normcheck mutations` runs the `upgrade` tests once per
mutation in a fresh process, plus an unmutated control that must pass, and
writes the table "change -> caught by".
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import framework
from .constants import BACKEND_OPTION, SEEDS_OPTION
from .errors import InputError


@dataclass(frozen=True)
class Mutation:
    name: str
    change: str
    apply: Callable[[], None]


def _default(cls, **defaults) -> None:
    """Move defaults in the signature itself, as a release would (get_config sees them too)."""
    init = cls.__init__
    code = init.__code__
    positional = code.co_varnames[: code.co_argcount]
    values = list(init.__defaults__ or ())
    offset = len(positional) - len(values)
    kw = dict(init.__kwdefaults__ or {})
    for name, value in defaults.items():
        if name in positional[offset:]:
            values[positional.index(name) - offset] = value
        elif name in kw:
            kw[name] = value
        else:
            raise InputError(f"{cls.__name__}.__init__ has no default for {name!r}")
    init.__defaults__ = tuple(values)
    init.__kwdefaults__ = kw or None


def _keras():
    return framework.keras()


def _bn(**kw):
    _default(_keras().layers.BatchNormalization, **kw)


def _adam(**kw):
    _default(_keras().optimizers.Adam, **kw)


def _dense_init():
    _default(_keras().layers.Dense, kernel_initializer="glorot_normal")


def _bn_unbiased_variance():
    from keras.src.layers.normalization import batch_normalization as bn  # noqa: PLC0415 -- a framework, once chosen

    moments = bn.BatchNormalization._moments

    def patched(self, inputs, mask):
        mean, var = moments(self, inputs, mask)
        n = _keras().ops.cast(_keras().ops.shape(inputs)[0], var.dtype)
        return mean, var * n / (n - 1)

    bn.BatchNormalization._moments = patched


def _tanh_changed():
    from keras.src.activations import activations  # noqa: PLC0415 -- a framework, once chosen

    original = activations.tanh

    def tanh(x):
        return original(x * 1.01)

    activations.tanh = tanh
    import keras.src.activations as acts  # noqa: PLC0415 -- a framework, once chosen

    acts.ALL_OBJECTS_DICT["tanh"] = tanh


def _fit_no_shuffle():
    model = _keras().Model
    fit = model.fit

    @functools.wraps(fit)
    def patched(self, *args, **kwargs):
        kwargs["shuffle"] = False
        return fit(self, *args, **kwargs)

    model.fit = patched


def _fuzz_factor():
    _keras().backend.set_epsilon(1e-4)


MUTATIONS: dict[str, Mutation] = {m.name: m for m in (
    Mutation("bn_epsilon", "BatchNormalization epsilon default 1e-3 -> 1e-2", lambda: _bn(epsilon=1e-2)),
    Mutation("bn_momentum", "BatchNormalization momentum default 0.99 -> 0.9", lambda: _bn(momentum=0.9)),
    Mutation("bn_unbiased_variance", "BatchNormalization normalizes with the unbiased (n-1) batch variance", _bn_unbiased_variance),
    Mutation("adam_learning_rate", "Adam learning_rate default 0.001 -> 0.002", lambda: _adam(learning_rate=0.002)),
    Mutation("adam_beta_2", "Adam beta_2 default 0.999 -> 0.99", lambda: _adam(beta_2=0.99)),
    Mutation("adam_epsilon", "Adam epsilon default 1e-7 -> 1e-4", lambda: _adam(epsilon=1e-4)),
    Mutation("dense_initializer", "Dense kernel_initializer default glorot_uniform -> glorot_normal", _dense_init),
    Mutation("tanh_changed", "tanh(x) computed as tanh(1.01 x)", _tanh_changed),
    Mutation("fit_no_shuffle", "fit(shuffle=True) no longer shuffles", _fit_no_shuffle),
    Mutation("fuzz_factor", "keras.backend.epsilon() (BCE clipping) 1e-7 -> 1e-4", _fuzz_factor),
)}

SELECTION = ["-m", "upgrade"]


def get(name: str) -> Mutation:
    try:
        return MUTATIONS[name]
    except KeyError:
        raise InputError(f"mutation {name!r} is unknown; allowed: {', '.join(MUTATIONS)}") from None


def apply(name: str) -> Mutation:
    mutation = get(name)
    mutation.apply()
    return mutation


def apply_from_environment() -> Mutation | None:
    """Apply the mutation NORMCHECK_MUTATION names, if any: in pytest and in the subprocesses tests start."""
    name = os.environ.get("NORMCHECK_MUTATION")
    return apply(name) if name else None


def run_suite(mutation: str | None, backend: str, seeds: str, root: Path, tests: list[str]) -> list[str]:
    """Failed test ids of one pytest run under `mutation` (None: the control)."""
    env = dict(os.environ)
    env.pop("NORMCHECK_MUTATION", None)
    if mutation:
        env["NORMCHECK_MUTATION"] = mutation
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                        f"{BACKEND_OPTION}={backend}", f"{SEEDS_OPTION}={seeds}", *tests],
                       cwd=root, env=env, capture_output=True, text=True, check=False)
        if not xml.exists():
            return ["<pytest did not run>"]
        failed = []
        for case in ET.parse(xml).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}")
        return failed


def self_test(backend: str, seeds: str, names: Sequence[str]) -> Iterator[tuple[str | None, list[str]]]:
    """(mutation, failing tests) for the unmutated control (None) first, then each mutation named."""
    root = Path(__file__).resolve().parent.parent
    for known in names:
        get(known)
    for name in (None, *names):
        yield name, run_suite(name, backend, seeds, root, SELECTION)


def table_row(name: str, failed: list[str]) -> str:
    shown = ", ".join(f"`{f}`" for f in failed[:4]) + (f" (+{len(failed) - 4} more)" if len(failed) > 4 else "")
    return f"| {MUTATIONS[name].change} (`{name}`) | {shown or '**NOT CAUGHT**'} |"
