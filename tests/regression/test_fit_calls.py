"""One fit call per run (epochs laid end to end) trains exactly as one call per epoch, on every stack."""

import numpy as np
import pytest

from normcheck import VARIANTS, Experiment, train

pytestmark = pytest.mark.upgrade

SMALL = Experiment(n_samples=2000, epochs=3)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_fit_call_per_run_gives_the_history_of_one_call_per_epoch(variant, monkeypatch):
    """Bit for bit: the same batches, the same per-epoch metric resets, the same probe after each epoch."""
    one_call = train(variant, SMALL, 3)
    monkeypatch.setenv("NORMCHECK_FIT_CALLS", "epoch")
    per_epoch = train(variant, SMALL, 3)
    for key in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
        np.testing.assert_array_equal(getattr(one_call, key), getattr(per_epoch, key), err_msg=key)
    assert one_call.diagnostics == per_epoch.diagnostics
