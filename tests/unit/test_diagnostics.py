import numpy as np
import pytest

from normcheck import VARIANTS, Experiment, oracle
from normcheck.data import dataset
from normcheck.diagnostics import (
    SATURATION_LEVEL,
    Inputs,
    _batch_std,
    _saturation,
    batch_x_many,
    compute,
    compute_many,
)


def random_weights(rng, x, kernel_scale: float, gamma_scale: float) -> dict[str, np.ndarray]:
    """The oracle's random weights with the kernel scaled to the inputs' range."""
    return oracle.random_weights(rng, kernel_scale=kernel_scale / np.abs(x).max(), gamma_scale=gamma_scale)


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
    got = _saturation(v, w, Inputs(x, y, 20, 0).sorted_x)
    assert got == pytest.approx(expected, abs=2 / full.hidden.size)
    assert 0.05 < expected < 0.95, "weights chosen so that some units saturate and some do not"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_batch_std_is_what_bn_normalizes(variant):
    """BN's view: per batch of 20 and unit, the std of BN's input (tanh or the dense output), in float32."""
    v = VARIANTS[variant]
    x, y = dataset(Experiment(n_samples=500), v.input_norm)
    w = random_weights(np.random.default_rng(2), x, kernel_scale=2, gamma_scale=1)
    inputs = Inputs(x, y, 20, 0)
    z = inputs.batch_x * w["dense/kernel"].ravel().astype(np.float32) + w["dense/bias"].astype(np.float32)
    bn_before_tanh = v.hidden[1] == "bn"
    expected = (z if bn_before_tanh else np.tanh(z)).std(axis=1, dtype=np.float64)
    got = _batch_std(v, w, inputs.batch_x)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (len(x) // 20, 20)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_batched_diagnostics_equal_compute_seed_by_seed(variant):
    """The replica computes many seeds at once (compute_many); every value must be the one `compute` returns,
    bit for bit, so the calibration records what the real probe would."""
    v = VARIANTS[variant]
    x, y = dataset(Experiment(), v.input_norm)
    rng = np.random.default_rng(7)
    seeds = list(range(40, 52))
    weights = [{k: a.astype(np.float32).astype(np.float64) for k, a in random_weights(rng, x, 4, 2).items()}
               for _ in seeds]
    weights[0]["dense/kernel"][0, :3] = 0.0
    probs = rng.uniform(0, 1, (len(seeds), len(x))).astype(np.float32)
    probs[:, :6] = [0.0, 1.0, 0.5, 1e-9, 1 - 1e-9, 0.5]
    stacked = {k: np.stack([w[k] for w in weights]) for k in weights[0]}
    many = compute_many(v, stacked, probs, Inputs(x, y, 20, seeds[0]), batch_x_many(x, 20, seeds))
    for i, seed in enumerate(seeds):
        one = compute(v, weights[i], probs[i], Inputs(x, y, 20, seed))
        assert list(one) == list(many)
        for key, value in one.items():
            want = np.float64(np.nan if value is None else value)
            assert want.view(np.uint64) == np.float64(many[key][i]).view(np.uint64), (seed, key)
