"""The network variants the seed compared, and the one that answers its second question."""

from __future__ import annotations

from dataclasses import dataclass

from . import framework
from .experiment import QUESTION_EXPERIMENT, Experiment

BN_AFTER = "after_activation"
BN_BEFORE = "before_activation"


@dataclass(frozen=True)
class Variant:
    """How one variant differs from the plain network: input scaling and where BN sits."""

    name: str
    input_norm: bool
    batch_norm: str | None
    question_label: str | None

    @property
    def in_question(self) -> bool:
        return self.question_label is not None


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("none", False, None, "No Normalization"),
        Variant("batch_norm", False, BN_AFTER, "Batch Normalization only"),
        Variant("input_norm", True, None, "Input normalization only"),
        Variant("input_and_batch_norm", True, BN_AFTER, "Input and batch normalization"),
        Variant("batch_norm_before_activation", False, BN_BEFORE, None),
    )
}
QUESTION_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.in_question)

HIDDEN = "hidden"
BN_LAYER = "batch_norm"
OUTPUT = "output"


def get_variant(name: str | Variant) -> Variant:
    if isinstance(name, Variant):
        return name
    try:
        return VARIANTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"variant {name!r} is unknown; allowed: {', '.join(VARIANTS)}") from None


def build_model(variant: str | Variant, experiment: Experiment = QUESTION_EXPERIMENT):
    """The question's network from real Keras layers with Keras's own defaults, uncompiled.

    The layer whose output is the tanh activation is always named "hidden", so
    diagnostics find it in every variant. Seed Keras's RNG before calling this.
    """
    v = get_variant(variant)
    keras = framework.keras()
    layers = keras.layers
    units = experiment.hidden_units
    inputs = keras.Input(shape=(1,))
    if v.batch_norm == BN_BEFORE:
        h = layers.Dense(units, name="dense")(inputs)
        h = layers.BatchNormalization(name=BN_LAYER)(h)
        h = layers.Activation(experiment.activation, name=HIDDEN)(h)
    else:
        h = layers.Dense(units, activation=experiment.activation, name=HIDDEN)(inputs)
        if v.batch_norm == BN_AFTER:
            h = layers.BatchNormalization(name=BN_LAYER)(h)
    outputs = layers.Dense(1, activation="sigmoid", name=OUTPUT)(h)
    return keras.Model(inputs=inputs, outputs=outputs, name=v.name)

