"""Epoch time per variant, with one step per call (the question's setup) and one epoch per call.

    pytest -m benchmark --benchmark-enable --benchmark-autosave
    pytest -m benchmark --benchmark-enable --benchmark-compare --benchmark-compare-fail=median:20%

Off in the default run (marker); with --benchmark-disable each body runs once as a smoke test.
"""

import pytest

from normcheck import QUESTION_EXPERIMENT
from normcheck.bench import QUESTION_VARIANTS
from normcheck.data import dataset, epoch_order
from normcheck.training import prepared_model
from normcheck.variants import get_variant

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("variant", QUESTION_VARIANTS)
@pytest.mark.parametrize("steps_per_execution", [1, None], ids=["one-step-per-call", "one-epoch-per-call"])
def test_epoch_time(benchmark, normcheck_backend, variant, steps_per_execution):
    if normcheck_backend == "torch" and steps_per_execution is None:
        pytest.skip("torch accepts only steps_per_execution=1")
    v = get_variant(variant)
    experiment = QUESTION_EXPERIMENT.replace(steps_per_execution=steps_per_execution)
    x, y = dataset(experiment, v.input_norm)
    model, _ = prepared_model(v, experiment, 0)
    order = epoch_order(0, 0, len(x))
    xs, ys = x[order], y[order]

    def one_epoch():
        model.fit(xs, ys, batch_size=experiment.batch_size, epochs=1, shuffle=False, verbose=0)

    benchmark.group = f"{normcheck_backend} epoch"
    benchmark.extra_info.update(variant=variant, steps_per_execution=steps_per_execution or experiment.steps_per_epoch)
    benchmark.pedantic(one_epoch, rounds=3, warmup_rounds=1, iterations=1)
