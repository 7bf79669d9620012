"""Reusing one compiled model across seeds must train exactly as a fresh build."""

import numpy as np
import pytest

from normcheck import Experiment, train

SMALL = Experiment(n_samples=2000, epochs=2)


@pytest.mark.parametrize("variant", ["input_norm", "input_and_batch_norm"])
def test_reused_model_trains_exactly_like_a_fresh_one(variant, monkeypatch):
    train(variant, SMALL, 11)
    reused = train(variant, SMALL, 12)
    monkeypatch.setenv("NORMCHECK_REUSE", "0")
    fresh = train(variant, SMALL, 12)
    for key in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
        np.testing.assert_array_equal(getattr(reused, key), getattr(fresh, key), err_msg=key)
    assert reused.diagnostics == fresh.diagnostics
