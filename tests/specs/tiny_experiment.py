"""A user's own experiment, outside the package: what tests hold `run`, `calibrate` and the plugin to.

Small on purpose: 256 points of two Gaussian blobs, one hidden layer with or without
LayerNormalization, two epochs.
"""

import numpy as np

from normcheck import framework
from normcheck.spec import Data, Spec, claim, difference, final


def data(variant):
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 256)
    x = (rng.normal(size=(256, 4)) + 2.0 * y[:, None]).astype("float32")
    return Data(x, y.astype("float32"), x[:64], y[:64].astype("float32"))


def build(variant):
    keras = framework.keras()  # the backend the session chose, imported on first use
    h = inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(8, activation="relu")(h)
    if variant == "layer_norm":
        h = keras.layers.LayerNormalization()(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def weight_norm(model, data):
    return float(sum(np.sum(np.square(w)) for w in model.get_weights()))


CLAIMS = (
    claim("plain_learns", "no normalization: inference-mode accuracy after the last epoch at least",
          final("val_accuracy", "plain"), ">= 0.8", source="a user's own claim"),
    claim("norm_does_not_hurt", "LayerNormalization's accuracy below the plain network's by at most",
          difference(final("val_accuracy", "plain"), final("val_accuracy", "layer_norm")), "<= 0.2", over="each"),
)

TINY = Spec(name="tiny", variants=("plain", "layer_norm"), build=build, data=data, epochs=2, batch_size=32,
            claims=CLAIMS, measurements={"weight_norm": weight_norm})

TINY_FAILS = Spec(name="tiny_fails", variants=("plain",), build=build, data=data, epochs=2, batch_size=32,
                  claims=(claim("impossible", "accuracy above one", final("val_accuracy", "plain"), "> 1"),))
