import json
import math

import pytest

from normcheck import Experiment, Run, train

TINY = Experiment(n_samples=400, epochs=2)


@pytest.fixture(scope="module")
def tiny_run(normcheck_runs):
    return normcheck_runs.get("input_and_batch_norm", TINY, 0)


def test_run_records_what_keras_printed_and_more(tiny_run, normcheck_backend):
    r = tiny_run
    assert r.variant == "input_and_batch_norm"
    assert r.seed == 0
    assert r.epochs == 2
    for key in ("loss", "accuracy", "eval_loss", "eval_accuracy", "seconds"):
        values = getattr(r, key)
        assert len(values) == 2, key
        assert all(math.isfinite(v) for v in values), key
    assert len(r.diagnostics) == 3
    assert r.steps_per_execution == (1 if normcheck_backend == "torch" else TINY.steps_per_epoch)
    assert r.order == "owned"
    assert r.versions["backend"] == r.backend
    assert "keras" in r.versions


def test_run_round_trips_through_json(tiny_run):
    text = tiny_run.to_json()
    again = Run.from_json(text)
    assert again == tiny_run
    assert json.loads(again.to_json()) == json.loads(text)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("schema"), "not a normcheck run"),
        (lambda d: d.pop("loss"), "missing field"),
        (lambda d: d.update(extra=1), "unknown field"),
        (lambda d: d["accuracy"].pop(), "accuracy is .*; allowed: a list of 2 numbers, one per epoch"),
        (lambda d: d["experiment"].update(epochs=0), r"Experiment\.epochs=0"),
    ],
)
def test_malformed_run_json_is_a_clear_error(tiny_run, mutate, message):
    d = tiny_run.to_dict()
    mutate(d)
    with pytest.raises(ValueError, match=message):
        Run.from_dict(d)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bogus",), "variant 'bogus' is unknown"),
        (("none", TINY, -1), "seed=-1 is invalid"),
        (("none", TINY, 1.5), "seed=1.5 is invalid"),
        (("none", {"epochs": 1}), "experiment=.* is invalid"),
    ],
)
def test_train_rejects_bad_arguments_before_keras_sees_them(args, message):
    with pytest.raises(ValueError, match=message):
        train(*args)


def test_run_files_of_schema_1_still_load(tiny_run):
    """Calibration tables written before eval_* came from Keras carry one more field."""
    d = tiny_run.to_dict()
    d.update(schema="normcheck.run/1", keras_eval_accuracy=0.5)
    assert Run.from_dict(d) == tiny_run


@pytest.mark.parametrize("order", ["owned", "fit"])
def test_recording_does_not_change_training(order):
    """The probe calls predict and reads weights between epochs (mid-fit with fit's order); training must not notice."""
    experiment = TINY.replace(order=order, epochs=3)
    recorded = train("input_and_batch_norm", experiment, 3)
    bare = train("input_and_batch_norm", experiment, 3, diagnostics=False)
    assert (recorded.loss, recorded.accuracy) == (bare.loss, bare.accuracy)
    assert all(math.isnan(v) for v in bare.eval_accuracy)
