"""The network variants the question compared, and the one that answers its second question."""

from __future__ import annotations

from dataclasses import dataclass

from . import framework
from .errors import InputError
from .experiment import QUESTION_EXPERIMENT, Experiment

DENSE, BN, TANH = "dense", "bn", "tanh"
HIDDEN = "hidden"
LAYER_NAMES = {DENSE: "dense", BN: "batch_norm", "output": "output"}


@dataclass(frozen=True)
class Variant:
    """One variant as data: input scaling, the ops between the input and the output layer, and how it is shown.

    `label` is the question's own heading for its four variants; `color` is the plots' colour.

    `hidden` holds "dense" (the first layer's affine map), "tanh" and, where the
    variant has it, "bn". Everything that builds, replays or measures a variant
    (Keras model, NumPy oracle, diagnostics, traces) reads this one description.
    """

    name: str
    input_norm: bool
    hidden: tuple[str, ...]
    label: str
    in_question: bool
    color: str

    def __post_init__(self) -> None:
        if sorted(self.hidden) not in (sorted((DENSE, TANH)), sorted((DENSE, TANH, BN))) or self.hidden[0] != DENSE:
            raise InputError(f"Variant.hidden={self.hidden!r} is invalid; allowed: {DENSE!r} first, then {TANH!r} "
                             f"and at most one {BN!r}, in any order")

    @property
    def batch_norm(self) -> bool:
        return BN in self.hidden

    @property
    def fused(self) -> bool:
        """Dense followed directly by tanh is one Keras layer, Dense(activation="tanh"), as in the question."""
        return self.hidden[:2] == (DENSE, TANH)

    def layer_names(self) -> dict[str, str]:
        """Keras layer name per weight group ("dense", "bn", "output"); the layer whose output is tanh is "hidden"."""
        names = {**LAYER_NAMES, DENSE: HIDDEN if self.fused else LAYER_NAMES[DENSE]}
        return {group: name for group, name in names.items() if group != BN or self.batch_norm}


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("none", False, (DENSE, TANH), "No Normalization", True, "tab:gray"),
        Variant("batch_norm", False, (DENSE, TANH, BN), "Batch Normalization only", True, "tab:red"),
        Variant("input_norm", True, (DENSE, TANH), "Input normalization only", True, "tab:blue"),
        Variant("input_and_batch_norm", True, (DENSE, TANH, BN), "Input and batch normalization", True, "tab:green"),
        Variant("batch_norm_before_activation", False, (DENSE, BN, TANH), "BN before tanh (not in the question)", False,
                "tab:purple"),
    )
}
QUESTION_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.in_question)


def get_variant(name: str | Variant) -> Variant:
    if isinstance(name, Variant):
        return name
    try:
        return VARIANTS[name]
    except (KeyError, TypeError):
        raise InputError(f"variant {name!r} is unknown; allowed: {', '.join(VARIANTS)}") from None


def build_model(variant: str | Variant, experiment: Experiment = QUESTION_EXPERIMENT):
    """The question's network from real Keras layers with Keras's own defaults, uncompiled.

    The layer whose output is the tanh activation is always named "hidden", so
    diagnostics find it in every variant. Seed Keras's RNG before calling this.
    """
    v = get_variant(variant)
    keras = framework.keras()
    layers = keras.layers
    names = v.layer_names()
    h = inputs = keras.Input(shape=(1,))
    for i, op in enumerate(v.hidden):
        if op == DENSE:
            h = layers.Dense(experiment.hidden_units, activation=experiment.activation if v.fused else None,
                             name=names[DENSE])(h)
        elif op == BN:
            h = layers.BatchNormalization(name=names[BN])(h)
        elif not (v.fused and i == 1):
            h = layers.Activation(experiment.activation, name=HIDDEN)(h)
    outputs = layers.Dense(1, activation="sigmoid", name=names["output"])(h)
    return keras.Model(inputs=inputs, outputs=outputs, name=v.name)
