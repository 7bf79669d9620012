"""steps_per_execution = one epoch must train exactly as the question's one step per call."""

import numpy as np
import pytest

from normcheck import Experiment

pytestmark = pytest.mark.upgrade

SMALL = Experiment(n_samples=2000, epochs=3)


@pytest.mark.parametrize("variant", ["input_norm", "input_and_batch_norm"])
@pytest.mark.parametrize("order", ["owned", "fit"])
def test_one_epoch_per_call_gives_the_same_history(normcheck_runs, normcheck_backend, variant, order):
    if normcheck_backend == "torch":
        pytest.skip("torch accepts only steps_per_execution=1")
    fast = normcheck_runs.get(variant, SMALL.replace(order=order), 0)
    slow = normcheck_runs.get(variant, SMALL.replace(order=order, steps_per_execution=1), 0)
    assert fast.steps_per_execution == 100
    assert slow.steps_per_execution == 1
    for key in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
        np.testing.assert_allclose(getattr(fast, key), getattr(slow, key), rtol=1e-5, atol=1e-6, err_msg=key)
