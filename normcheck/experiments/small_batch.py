"""Batch normalization with very small batches, against group normalization: a second normalization result.

Wu and He (Group Normalization, ECCV 2018, Figure 1) train ResNet-50 on ImageNet at batch
sizes 32 down to 2 per worker, with the learning rate scaled linearly with the batch: BN's
error rises sharply as the batch shrinks, GN's stays flat. Ioffe (Batch Renormalization,
NeurIPS 2017) explains why: with few samples per batch the statistics BN normalizes with in
training are noisy and differ from the moving averages it uses at inference, so what the
network computes in training is not what it computes in inference mode.

Here the same protocol on a task that trains in a fraction of a second: an 8-class mixture of
Gaussians in 16 dimensions, a two-layer ReLU network with BN or GN (8 groups) after each
dense layer, SGD with momentum 0.9 at 0.1 x batch / 32, three epochs at batch 32 and at batch 2.
The data are fixed; a seed draws the initial weights and the batch order.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .. import framework
from ..spec import Data, Spec, claim, difference, final

CLASSES, FEATURES, TRAIN, EVAL = 8, 16, 1024, 2048
HIDDEN, LAYERS, GROUPS = 64, 2, 8
DATA_SEED = 12345
BASE_RATE, BASE_BATCH = 0.1, 32
BATCH = {"bn_batch32": 32, "bn_batch2": 2, "gn_batch32": 32, "gn_batch2": 2}
WU_HE = "Wu and He, Group Normalization (ECCV 2018), Figure 1"
IOFFE = "Ioffe, Batch Renormalization (NeurIPS 2017), section 1"


@cache
def _arrays() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(DATA_SEED)
    centers = rng.normal(size=(CLASSES, FEATURES))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, CLASSES, n)
        return (centers[y] + rng.normal(size=(n, FEATURES))).astype(np.float32), y.astype(np.int32)

    return (*draw(TRAIN), *draw(EVAL))


def data(variant: str) -> Data:
    x, y, x_eval, y_eval = _arrays()
    return Data(x, y, x_eval, y_eval)


def build(variant: str):
    """Dense -> BN or GN -> ReLU, twice, then softmax; SGD at the linearly scaled rate; one call per epoch."""
    keras = framework.keras()
    batch = BATCH[variant]
    h = inputs = keras.Input(shape=(FEATURES,))
    for _ in range(LAYERS):
        h = keras.layers.Dense(HIDDEN, use_bias=False)(h)
        h = (keras.layers.BatchNormalization() if variant.startswith("bn") else keras.layers.GroupNormalization(GROUPS))(h)
        h = keras.layers.Activation("relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.SGD(BASE_RATE * batch / BASE_BATCH, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=TRAIN // batch)
    return model


def _mode_gap(variant: str):
    """Inference-mode accuracy on held-out data minus the train-mode accuracy fit logged, after the last epoch."""
    return difference(final("val_accuracy", variant), final("accuracy", variant))


CLAIMS = (
    claim("bn_error_rises_at_batch_2",
          "BN at batch 2: inference-mode accuracy below BN at batch 32's by at least",
          difference(final("val_accuracy", "bn_batch32"), final("val_accuracy", "bn_batch2")), ">= 0.03",
          source=WU_HE),
    claim("gn_error_flat_at_batch_2",
          "GN at batch 2: inference-mode accuracy below GN at batch 32's by at most",
          difference(final("val_accuracy", "gn_batch32"), final("val_accuracy", "gn_batch2")), "<= 0.05",
          source=WU_HE),
    claim("gn_beats_bn_at_batch_2",
          "at batch 2, GN's inference-mode accuracy above BN's by at least",
          difference(final("val_accuracy", "gn_batch2"), final("val_accuracy", "bn_batch2")), ">= 0.03",
          source=WU_HE),
    claim("bn_batch_2_train_mode_differs",
          "BN at batch 2: inference-mode accuracy minus the train-mode accuracy fit logs, at least",
          _mode_gap("bn_batch2"), ">= 0.1", source=IOFFE),
    claim("gn_batch_2_modes_agree",
          "GN at batch 2: inference-mode accuracy minus the train-mode accuracy fit logs, at most",
          _mode_gap("gn_batch2"), "<= 0.02", source=IOFFE),
)

SMALL_BATCH = Spec(
    name="small_batch",
    variants=tuple(BATCH),
    build=build,
    data=data,
    epochs=3,
    batch_size=BATCH,
    claims=CLAIMS,
    fit_arguments={"validation_batch_size": EVAL},
    description="batch normalization at batch 2 against batch 32, and group normalization at both",
)
