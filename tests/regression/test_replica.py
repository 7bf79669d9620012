"""The replica (the calibration engine) is held to real fit on this stack.

Seed by seed where trajectories are stable (normalized input): from the same
initial weights and batches, the replica and Keras differ only in float32
rounding. Loss within 1e-5, accuracies within 1e-4 (fewer than 3 of 25000
predictions may flip over an epoch), diagnostics within 1e-4 relative, and
the saturation share (a count) within 10 of its 500000 (sample, unit) pairs:
room for another stack's rounding, none for a changed default (docs/upgrades.md
has the measured differences).

In distribution where float32 makes trajectories chaotic (raw input): that is a
comparison of stored runs, no upgrade can change it, so it lives in
tests/docs/test_replica_distribution.py.
"""


import numpy as np
import pytest

from normcheck import framework
from normcheck.calibration import engine
from normcheck.variants import VARIANTS

pytest.importorskip("jax")
pytestmark = pytest.mark.upgrade

STABLE = [v for v, spec in VARIANTS.items() if spec.input_norm]
SEEDS = (0, 1)
DIAGNOSTICS = ("saturation", "preact_grad_rms", "batch_std", "bn_output_std", "eval_loss")
COUNT_ATOL = 10 / (25000 * 20)  # saturation counts (sample, unit) pairs: 10 of them may flip


@pytest.fixture(scope="module")
def replica_runs(normcheck_backend):
    if framework.legacy_keras():
        pytest.skip("the replica follows Keras 3's fit")
    initial = engine.initial_weights(SEEDS)
    mode = framework.traits(normcheck_backend).loss_mode
    return {v: {r.seed: r for r in engine.simulate(v, SEEDS, initial, loss_mode=mode)} for v in STABLE}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("variant", STABLE)
def test_replica_follows_fit_seed_by_seed(variant, seed, replica_runs, normcheck_runs):
    fit = normcheck_runs.get(variant, seed=seed)
    rep = replica_runs[variant][seed]
    np.testing.assert_allclose(rep.loss, fit.loss, rtol=0, atol=1e-5, err_msg="train-mode loss")
    for key in ("accuracy", "eval_accuracy"):
        np.testing.assert_allclose(getattr(rep, key), getattr(fit, key), rtol=0, atol=1e-4, err_msg=key)
    for key in DIAGNOSTICS:
        got, want = rep.diag(key), fit.diag(key)
        if want[0] is None:
            assert got == want
            continue
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=COUNT_ATOL if key == "saturation" else 1e-9, err_msg=key)


DRAWN_SEEDS = [*range(40), 999, 19999, 123456, 2**32 - 1]


def test_initial_weights_are_what_a_keras_build_draws_seed_by_seed(normcheck_backend):
    """The replica draws initial weights with Keras's initializers instead of a build per seed; each seed's
    weights must be bit for bit what `set_random_seed` then a real build gives on this backend."""
    if framework.legacy_keras():
        pytest.skip("the replica follows Keras 3's fit")
    fast = engine.initial_weights(DRAWN_SEEDS)
    for i, seed in enumerate(DRAWN_SEEDS):
        built = engine.built_weights(seed)
        assert list(built) == list(fast)
        for name, value in built.items():
            assert value.dtype == fast[name].dtype, (seed, name)
            assert np.array_equal(value.view(np.uint32), fast[name][i].view(np.uint32)), (seed, name)
