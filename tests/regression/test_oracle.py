"""Keras's training math against a NumPy oracle whose hyperparameters are the documented defaults.

Same initial weights, same batch order: per-step losses and the weights after
every step must follow the oracle within float32 tolerance for 500 steps.
Absolute tolerance is a tenth of one Adam step (lr = 1e-3): a weight whose
gradient is near Adam's epsilon (the first layer's bias under BN, which removes
shifts) moves by an amount float32 rounding can change by a few 1e-5 (JAX,
seed 0: 2.8e-5 at step 2); every well-conditioned weight agreed to 3e-6.
"""

import numpy as np
import pytest

from normcheck import VARIANTS, Experiment, framework, oracle, traces
from normcheck.data import dataset
from normcheck.training import build_compiled, fit_epochs

pytestmark = pytest.mark.upgrade

STEPS = 500
RTOL, ATOL = 2e-3, 1e-4  # atol: a tenth of one Adam step (lr = 1e-3); see test docstring


def first_divergence(expected, weights):
    return traces.first_divergence(expected.weights, weights, RTOL, ATOL)


STANDARDIZED = [n for n, v in VARIANTS.items() if v.input_norm]
RAW = [n for n, v in VARIANTS.items() if not v.input_norm]


@pytest.mark.parametrize("variant", STANDARDIZED)
def test_keras_follows_the_oracle_for_500_steps(variant, normcheck_backend):
    experiment = Experiment()
    t = traces.trace(variant, STEPS, 0, experiment=experiment)
    expected = oracle.train_steps(variant, t.initial, t.x, t.y, t.order, experiment.batch_size,
                                  loss_mode=framework.traits(normcheck_backend).loss_mode)
    assert len(t.weights) == STEPS
    diverged = first_divergence(expected, t.weights)
    assert diverged is None, "first divergence at step {}, {}: max |keras - oracle| = {:.3g}".format(*diverged)
    np.testing.assert_allclose(t.losses, expected.losses, rtol=1e-3, atol=1e-4, err_msg="per-step loss")
    for label, got, want in traces.adam_slot_pairs(t.slots, expected, variant):
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-7, err_msg=label)


@pytest.mark.parametrize("variant", RAW)
def test_raw_input_first_step_follows_the_oracle(variant, normcheck_backend):
    """On raw X the float32 trajectory is chaotic, so only the first step is compared.

    tanh saturates to exactly 1.0 in float32 near |z| = 9 (float64 at 19); where one
    side computes a zero gradient and the other a tiny one, Adam turns the tiny one
    into a full learning-rate step. Measured (TF, seed 0): the 500-step trajectories
    part at step 5 (none), 2 (batch_norm) and 0 (BN before tanh, whose kernel
    gradient is ~0 by BN's scale invariance). The forward pass and BN's statistics
    are still exact.
    """
    experiment = Experiment()
    t = traces.trace(variant, 1, 0, experiment=experiment)
    expected = oracle.train_steps(variant, t.initial, t.x, t.y, t.order, experiment.batch_size,
                                  loss_mode=framework.traits(normcheck_backend).loss_mode)
    np.testing.assert_allclose(t.losses[0], expected.losses[0], rtol=1e-5, atol=1e-6, err_msg="step-1 loss")
    for name in ("bn/moving_mean", "bn/moving_variance"):
        if name in t.initial:
            np.testing.assert_allclose(t.weights[0][name], expected.weights[0][name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_oracle_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    w = oracle.random_weights(rng, 4)
    x, y = rng.normal(size=(8, 1)), (rng.random((8, 1)) > 0.5).astype(float)
    for variant in VARIANTS:
        for training in (True, False):
            fb = oracle.forward_backward(variant, w, x, y, training=training)
            for name, grad in fb.grads.items():
                num = np.zeros_like(w[name])
                for i in np.ndindex(w[name].shape):
                    for sign in (1, -1):
                        w2 = {k: v.copy() for k, v in w.items()}
                        w2[name][i] += sign * 1e-6
                        num[i] += sign * oracle.forward_backward(variant, w2, x, y, training=training).loss / 2e-6
                np.testing.assert_allclose(grad.reshape(num.shape), num, rtol=1e-4, atol=1e-7, err_msg=f"{variant} {name}")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_keras_inference_follows_the_oracle(variant):
    """eval_* are Keras's predict; the oracle's inference pass (moving BN statistics) must give the same probabilities."""
    experiment = Experiment(n_samples=2000, epochs=1)
    model, _ = build_compiled(variant, experiment, 0)
    x, y = dataset(experiment, VARIANTS[variant].input_norm)
    fit_epochs(model, experiment, 0, x, y, [])
    keras_probs = framework.predict(model, x).ravel()
    weights = {k: w.astype(np.float32) for k, w in oracle.weights_from_model(model).items()}
    expected = oracle.forward_backward(variant, weights, x, y, training=False, backward=False, dtype=np.float32)
    np.testing.assert_allclose(keras_probs, expected.probs.ravel(), rtol=1e-4, atol=1e-5)
