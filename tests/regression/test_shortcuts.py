"""normcheck's training shortcuts train exactly as the long way, bit for bit, on every stack.

Reusing one compiled model across seeds, and one fit call per run (the epochs' permutations
end to end), against a fresh build and a call per epoch.
"""

import numpy as np
import pytest

from normcheck import VARIANTS, Experiment, train

pytestmark = pytest.mark.upgrade

SMALL = Experiment(n_samples=2000, epochs=3)


def assert_same_training(short, long):
    for key in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
        np.testing.assert_array_equal(getattr(short, key), getattr(long, key), err_msg=key)
    assert short.diagnostics == long.diagnostics


@pytest.mark.parametrize("variant", ["input_norm", "input_and_batch_norm"])
def test_reused_model_trains_exactly_like_a_fresh_one(variant, monkeypatch):
    train(variant, SMALL, 11)
    reused = train(variant, SMALL, 12)
    monkeypatch.setenv("NORMCHECK_REUSE", "0")
    assert_same_training(reused, train(variant, SMALL, 12))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_fit_call_per_run_gives_the_history_of_one_call_per_epoch(variant, monkeypatch):
    """The same batches, the same per-epoch metric resets, the same probe after each epoch."""
    one_call = train(variant, SMALL, 3)
    monkeypatch.setenv("NORMCHECK_FIT_CALLS", "epoch")
    assert_same_training(one_call, train(variant, SMALL, 3))
