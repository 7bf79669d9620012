"""fit's own shuffle, as framework behaviour: a Keras upgrade that moves it shows here.

normcheck trains in its own order, so these checks are about Keras, not about the claims.
"""

import pytest

from normcheck import framework
from normcheck.fitorder import describe, read_orders_in_fresh_process

pytestmark = pytest.mark.upgrade

TF_REPEATS = pytest.mark.xfail(
    strict=True,
    reason="tensorflow/tensorflow#35682: under a global seed, tf.data's shuffle inside fit repeats one order every epoch",
)


@pytest.fixture(scope="module")
def fit_orders(normcheck_backend):
    """The orders fit(shuffle=...) used, read in a fresh process (so 'unseeded' is truly unseeded)."""
    return read_orders_in_fresh_process(normcheck_backend)


def _epochs(orders):
    return {f"epoch {i + 1}": order for i, order in enumerate(orders)}


def _is_permutation(order):
    return sorted(order) == list(range(len(order)))


@pytest.mark.parametrize("case", ["unseeded", "seed1", "seed2", "no_shuffle"])
def test_every_sample_once_per_epoch(fit_orders, case):
    assert all(_is_permutation(epoch) for epoch in fit_orders[case]), describe(
        f"fit ({case}) fed some samples twice or not at all", _epochs(fit_orders[case]), fit_orders["versions"])


def test_unseeded_shuffle_reorders_between_epochs(fit_orders):
    first, second = fit_orders["unseeded"]
    said = describe("unseeded fit(shuffle=True) fed the same order in epochs 1 and 2", _epochs([first, second]),
                    fit_orders["versions"])
    assert first != second, said
    assert first != sorted(first), describe("unseeded fit(shuffle=True) fed the samples in index order", _epochs([first]),
                                            fit_orders["versions"])


def test_seeded_shuffle_reorders_between_epochs(fit_orders, normcheck_backend, request):
    """Keras 3 on TensorFlow repeats the order (the upstream bug); Keras 2 (tf-keras) reshuffled."""
    if normcheck_backend == "tensorflow" and not framework.legacy_keras() and framework.keras().__version__[0] >= "3":
        request.applymarker(TF_REPEATS)
    first, second = fit_orders["seed1"]
    assert first != second, describe("fit(shuffle=True) after keras.utils.set_random_seed(1) fed the same order in "
                                     "epochs 1 and 2", _epochs([first, second]), fit_orders["versions"])


def test_seeded_shuffle_is_reproducible(fit_orders):
    assert fit_orders["seed1"] == fit_orders["seed1_again"], describe(
        "fit(shuffle=True) after set_random_seed(1), twice, fed different orders",
        {"first call, epoch 1": fit_orders["seed1"][0], "second call, epoch 1": fit_orders["seed1_again"][0]},
        fit_orders["versions"])


def test_different_seeds_give_different_orders(fit_orders):
    assert fit_orders["seed1"][0] != fit_orders["seed2"][0], describe(
        "fit(shuffle=True) fed the same first-epoch order after set_random_seed(1) and set_random_seed(2)",
        {"seed 1, epoch 1": fit_orders["seed1"][0], "seed 2, epoch 1": fit_orders["seed2"][0]}, fit_orders["versions"])


def test_no_shuffle_keeps_the_order(fit_orders):
    assert all(epoch == list(range(len(epoch))) for epoch in fit_orders["no_shuffle"]), describe(
        "fit(shuffle=False) did not feed the samples in index order", _epochs(fit_orders["no_shuffle"]), fit_orders["versions"])
