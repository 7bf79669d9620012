"""The question's experiment written with the public API: a `normcheck.Spec` like any team's own.

Its variants, data, diagnostics and claims are the question's own (`variants`, `data`,
`diagnostics.Probe`, `claims.CLAIMS`), handed to `Spec` as any experiment hands its pieces,
so `--experiment normcheck.experiments.question:QUESTION` trains it through the path every
experiment takes; the suite holds its runs and claim values to the question's own path, bit
for bit. The replica and the NumPy oracle stay the question's engines (`calibration`,
`oracle`): they know its network's math, which a Spec does not describe.
"""

from __future__ import annotations

from typing import Any

from ..claims import CLAIMS
from ..data import dataset
from ..diagnostics import Probe
from ..experiment import QUESTION_EXPERIMENT
from ..spec import Data, Spec
from ..training import compile_model
from ..variants import VARIANTS, build_model, get_variant

_probe: dict[str, Any] = {}  # the run being measured: one Probe per (model, variant, seed), as the question's path keeps


def build(variant: str) -> Any:
    model = build_model(variant, QUESTION_EXPERIMENT)
    compile_model(model, QUESTION_EXPERIMENT)
    return model


def data(variant: str) -> Data:
    x, y = dataset(QUESTION_EXPERIMENT, get_variant(variant).input_norm)
    return Data(x, y)


def diagnostics(model: Any, data: Data, *, variant: str, seed: int) -> dict[str, float | None]:
    """Every diagnostic of the question's path (inference-mode loss and accuracy among them), from one pass."""
    key = (id(model), id(data), variant, seed)
    if _probe.get("key") != key:
        _probe.update(key=key, probe=Probe(model, get_variant(variant), data.x, data.y,
                                           QUESTION_EXPERIMENT.batch_size, seed))
    return _probe["probe"].read_model()


QUESTION = Spec(
    name="question",
    variants=tuple(VARIANTS),
    build=build,
    data=data,
    epochs=QUESTION_EXPERIMENT.epochs,
    batch_size=QUESTION_EXPERIMENT.batch_size,
    claims=CLAIMS,
    measurements={"diagnostics": diagnostics},
    description="the question's four variants and BN before tanh, with the question's claims",
)
