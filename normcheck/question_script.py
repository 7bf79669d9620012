"""The question's own script (imports updated for Keras 3), for timing only.

`python -m normcheck.question_script BACKEND NAME` runs it as its author did: one permutation
of its two commented lines (NAME: none, batch_norm, input_norm, input_and_batch_norm) in a
process of its own, with fit's default verbosity, no seed set and TensorFlow's default
threads. The speed targets' comparator is the four such processes, one after the other.
Without NAME, all four run silently in one process and one JSON line reports per variant
the epoch times and final accuracy: a stricter comparator, shown beside the target's.
"""

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from normcheck import framework

PERMUTATIONS = {"none": (False, False), "batch_norm": (False, True),
                "input_norm": (True, False), "input_and_batch_norm": (True, True)}


def question_script(input_norm: bool, batch_norm: bool, as_posted: bool = False) -> dict:
    keras = framework.keras()
    Input, Dense, BatchNormalization, Model = keras.Input, keras.layers.Dense, keras.layers.BatchNormalization, keras.Model

    X = np.arange(25000)
    if input_norm:
        X = (X - np.mean(X)) / np.std(X)
    y = np.append(np.zeros(12500,), np.ones(12500,))
    input_1 = Input(shape=(1,))
    dense_1 = Dense(20, activation='tanh', )(input_1)
    if batch_norm:
        dense_1 = BatchNormalization()(dense_1)
    output_1 = Dense(1, activation='sigmoid')(dense_1)
    model = Model(inputs=[input_1], outputs=[output_1])
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    if as_posted:
        model.fit([X], [y], epochs=10, batch_size=20)
        return {}
    times = []

    Callback: Any = keras.callbacks.Callback

    class Clock(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    history = model.fit([X], [y], epochs=10, batch_size=20, verbose=0, callbacks=[Clock()])
    return {"seconds": times, "accuracy": history.history["accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m normcheck.question_script", description=__doc__.splitlines()[0])
    parser.add_argument("backend", nargs="?", default="tensorflow", choices=framework.BACKENDS)
    parser.add_argument("permutation", nargs="?", choices=tuple(PERMUTATIONS),
                        help="run this one as posted (fit's default output); without it, all four silently, one JSON line")
    args = parser.parse_args()
    os.environ["NORMCHECK_THREADS"] = "0"
    framework.select_backend(args.backend)
    if args.permutation is not None:
        question_script(*PERMUTATIONS[args.permutation], as_posted=True)
        return
    start = time.perf_counter()
    out: dict[str, Any] = {name: question_script(*flags) for name, flags in PERMUTATIONS.items()}
    out["fit_seconds"] = time.perf_counter() - start
    print(json.dumps(out))


if __name__ == "__main__":
    main()
