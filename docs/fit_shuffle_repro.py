"""Which order does keras.Model.fit(shuffle=True) feed? Plain Keras, no normcheck.

A model that always predicts 0 (SGD, learning rate 0) is fit on y = index + 1 with
batch size 1, so batch k's loss is (index + 1)**2 and the per-batch running mean gives
the index back. Run it in a fresh process.
"""
import sys

import keras
import numpy as np


def orders(seed=None, epochs=2, n=16):
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    means = []

    class Logs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            means.append([])

        def on_train_batch_end(self, batch, logs=None):
            means[-1].append(float(logs["loss"]))

    x = np.zeros((n, 1), dtype="float32")
    y = np.arange(1, n + 1, dtype="float32").reshape(-1, 1)
    model.fit(x, y, batch_size=1, epochs=epochs, shuffle=True, verbose=0, callbacks=[Logs()])
    out = []
    for m in means:
        totals = np.asarray(m) * np.arange(1, len(m) + 1)
        out.append([round(float(np.sqrt(max(v, 0.0)))) - 1 for v in np.diff(np.concatenate([[0.0], totals]))])
    return out


print("keras", keras.__version__, "backend", keras.backend.backend(), "python", sys.version.split()[0])
for label, seed in (("unseeded", None), ("seed 1", 1), ("seed 2", 2)):
    for epoch, order in enumerate(orders(seed), start=1):
        print(f"{label:9s} epoch {epoch}: {order}")
