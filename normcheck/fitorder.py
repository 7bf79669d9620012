"""What order does `keras.Model.fit` feed samples in? Read back from its own logs.

A model that always predicts 0 (SGD with learning rate 0) is fit on y = index + 1
with batch size 1: batch k's loss is (index + 1)^2, and Keras's running-mean
loss at each batch gives it back. Run as `python -m normcheck.fitorder` in a fresh
process so "unseeded" really means no seed was ever set.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np

from . import framework
from .errors import ChildError, InputError
from .framework import stack_text
from .mutations import apply_from_environment

N = 16


def orders(shuffle: bool, seed: int | None, epochs: int = 2, n: int = N) -> list[list[int]]:
    """The sample order of each epoch of one `fit(shuffle=...)` call."""
    keras = framework.keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(1,))
    outputs = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    means: list[list[float]] = []

    Callback: Any = keras.callbacks.Callback

    class Logs(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            means.append([])

        def on_train_batch_end(self, batch, logs=None):
            means[-1].append(float(logs["loss"]))

    x = np.zeros((n, 1), dtype=np.float32)
    y = np.arange(1, n + 1, dtype=np.float32).reshape(-1, 1)
    model.fit(x, y, batch_size=1, epochs=epochs, shuffle=shuffle, verbose=0, callbacks=[Logs()])
    out = []
    for m in means:
        k = np.arange(1, len(m) + 1)
        totals = np.asarray(m, dtype=np.float64) * k
        losses = np.diff(np.concatenate([[0.0], totals]))
        out.append([round(float(np.sqrt(max(v, 0.0)))) - 1 for v in losses])
    return out


def read_orders() -> dict[str, object]:
    """Every case the fit-shuffle checks need, in one fresh process, and the versions that produced them."""
    return {
        "unseeded": orders(True, None),
        "seed1": orders(True, 1),
        "seed1_again": orders(True, 1),
        "seed2": orders(True, 2),
        "no_shuffle": orders(False, 1),
        "versions": framework.versions(),
    }


CASES = ("unseeded", "seed1", "seed1_again", "seed2", "no_shuffle")  # what read_orders() returns, besides versions
PROPERTIES: dict[str, tuple[str, str]] = {  # name: (what fit does when true, ... when false)
    "unseeded_reshuffles": ("unseeded fit(shuffle=True) feeds a new order every epoch",
                            "unseeded fit(shuffle=True) feeds one order for every epoch"),
    "seeded_reshuffles": ("after set_random_seed, fit(shuffle=True) feeds a new order every epoch",
                          "after set_random_seed, fit(shuffle=True) feeds one order for every epoch"),
    "seed_repeats": ("the same seed gives the same orders", "the same seed gives other orders each time"),
    "seeds_differ": ("different seeds give different orders", "different seeds give the same orders"),
    "no_shuffle_in_index_order": ("fit(shuffle=False) feeds the samples in index order",
                                  "fit(shuffle=False) reorders the samples"),
}


def properties(feeds: dict[str, Any]) -> dict[str, bool]:
    """What read_orders() says fit's order does, as the yes/no facts a baseline records."""
    return {
        "unseeded_reshuffles": feeds["unseeded"][0] != feeds["unseeded"][1],
        "seeded_reshuffles": feeds["seed1"][0] != feeds["seed1"][1],
        "seed_repeats": feeds["seed1"] == feeds["seed1_again"],
        "seeds_differ": feeds["seed1"] != feeds["seed2"],
        "no_shuffle_in_index_order": all(order == sorted(order) for order in feeds["no_shuffle"]),
    }


def read_orders_in_fresh_process(backend: str, timeout: float = 300) -> dict[str, Any]:
    """read_orders() in a new Python process on `backend`, so "unseeded" means no seed was ever set.

    A failure is the child's own message: an InputError when it refused its input (exit 2), else a ChildError.
    """
    command = f"python -m normcheck.fitorder {backend}"
    try:
        out = subprocess.run([sys.executable, "-m", "normcheck.fitorder", backend], capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ChildError(f"the fit-order probe ({command}) did not finish within {timeout:g} s") from None
    said = next((line.strip() for line in reversed(out.stderr.splitlines()) if line.strip()), "")
    if out.returncode == 2:
        raise InputError(f"the fit-order probe ({command}) refused: {said}")
    if out.returncode != 0:
        raise ChildError(f"the fit-order probe ({command}) failed with exit {out.returncode}: {said or 'no message'}")
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ChildError(f"the fit-order probe ({command}) printed no result: {said or 'no message'}") from None


def describe(what: str, feeds: dict[str, list[int]], versions: dict[str, str], shown: int = 8) -> str:
    """A failure in words: what fit did, the first indices of each order it fed (labelled), and on which stack."""
    stack = stack_text(versions)
    feeds_text = "; ".join(f"{label}: {order[:shown]}" for label, order in feeds.items())
    return f"{what}; first {shown} indices fed, {feeds_text}; {stack}"


def _main() -> int:
    """The probe as a process: its result on stdout; bad input one line on stderr and exit 2."""
    try:
        framework.select_backend(sys.argv[1] if len(sys.argv) > 1 else None)
        framework.skip_tensorflow()
        apply_from_environment()
    except InputError as exc:
        print(f"normcheck.fitorder: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(read_orders()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
