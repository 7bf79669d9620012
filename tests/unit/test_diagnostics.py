import numpy as np
import pytest

from normcheck import VARIANTS, Experiment, oracle
from normcheck.data import dataset
from normcheck.diagnostics import SATURATION_LEVEL, Probe


def random_weights(rng, x, kernel_scale: float, gamma_scale: float) -> dict[str, np.ndarray]:
    """Weights in the layout `oracle.weights_from_model` gives, with the kernel scaled to the inputs' range."""
    return {"dense/kernel": rng.normal(size=(1, 20)) * kernel_scale / np.abs(x).max(), "dense/bias": rng.normal(size=20),
            "bn/gamma": rng.normal(size=20) * gamma_scale, "bn/beta": rng.normal(size=20),
            "bn/moving_mean": rng.normal(size=20), "bn/moving_variance": rng.uniform(0.1, 2, size=20),
            "output/kernel": rng.normal(size=(20, 1)), "output/bias": rng.normal(size=1)}


@pytest.mark.parametrize("variant", ["none", "batch_norm_before_activation", "input_norm"])
@pytest.mark.parametrize("seed", range(5))
def test_saturation_count_equals_a_full_pass(variant, seed):
    """The probe counts saturated units by binary search; a tanh over every sample must agree."""
    v = VARIANTS[variant]
    x, y = dataset(Experiment(n_samples=3000), v.input_norm)
    rng = np.random.default_rng(seed)
    w = random_weights(rng, x, kernel_scale=4, gamma_scale=2)
    w["dense/kernel"][0, 0] = 0.0
    full = oracle.forward_backward(variant, w, x, y, training=False, backward=False)
    expected = (np.abs(full.hidden) > SATURATION_LEVEL).mean()
    got = Probe(None, v, x, y, 20, 0)._saturation(w)
    assert got == pytest.approx(expected, abs=2 / full.hidden.size)
    assert 0.05 < expected < 0.95, "weights chosen so that some units saturate and some do not"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_probe_gradient_equals_the_oracle_backward_pass(variant):
    """The probe's folded gradient must be the oracle's inference-mode backward pass, number for number."""
    v = VARIANTS[variant]
    x, y = dataset(Experiment(n_samples=500), v.input_norm)
    rng = np.random.default_rng(1)
    w = random_weights(rng, x, kernel_scale=1, gamma_scale=1)
    full = oracle.forward_backward(variant, w, x, y, training=False)
    kernel, preact = oracle.kernel_gradient(variant, w, x, y)
    np.testing.assert_allclose(kernel, full.grads["dense/kernel"].ravel(), rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(preact, full.preact_grad, rtol=1e-10, atol=1e-16)
