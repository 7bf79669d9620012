import math

import numpy as np
import pytest

from normcheck import data
from normcheck.experiment import QUESTION_EXPERIMENT, Experiment


def test_defaults_are_the_questions_script():
    e = QUESTION_EXPERIMENT
    assert (e.n_samples, e.hidden_units, e.batch_size, e.epochs, e.scale, e.shift) == (25000, 20, 20, 10, 1.0, 0.0)
    assert (e.activation, e.optimizer, e.loss) == ("tanh", "adam", "binary_crossentropy")
    assert e.steps_per_epoch == 1250


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_samples", 0), ("n_samples", -5), ("n_samples", 2.5), ("n_samples", True),
        ("hidden_units", 0), ("batch_size", 0), ("batch_size", 30000), ("epochs", 0),
        ("scale", 0.0), ("scale", math.inf), ("scale", math.nan), ("scale", "1"), ("shift", -math.inf),
        ("scale", 1e40), ("steps_per_execution", 0), ("order", "random"),
    ],
)
def test_invalid_value_names_field_value_and_what_is_allowed(field, value):
    with pytest.raises(ValueError, match=rf"Experiment\.{field}=.*allowed") as info:
        Experiment(**{field: value})
    assert repr(value) in str(info.value)


def test_is_frozen_and_hashable():
    e = Experiment()
    with pytest.raises(AttributeError):
        e.epochs = 3
    assert {e: 1}[Experiment()] == 1


def test_dict_round_trip_and_unknown_fields():
    e = Experiment(scale=0.5, shift=-3.0, epochs=2)
    assert Experiment.from_dict(e.to_dict()) == e
    with pytest.raises(ValueError, match="unknown Experiment field"):
        Experiment.from_dict({**e.to_dict(), "lr": 0.1})


def test_labels_step_at_the_middle():
    y = data.labels(Experiment(n_samples=10, batch_size=2)).ravel()
    assert y.tolist() == [0] * 5 + [1] * 5
    y_seed = data.labels(QUESTION_EXPERIMENT).ravel()
    assert y_seed[12499] == 0
    assert y_seed[12500] == 1
    assert y_seed.sum() == 12500


def test_inputs_are_scaled_and_shifted_x():
    x = data.raw_inputs(Experiment(n_samples=4, batch_size=1, scale=2.0, shift=-1.0)).ravel()
    assert x.tolist() == [-1.0, 1.0, 3.0, 5.0]


def test_standardize_matches_the_questions_formula():
    x = data.raw_inputs(QUESTION_EXPERIMENT)
    z = data.standardize(x)
    seed = (np.arange(25000) - np.mean(np.arange(25000))) / np.std(np.arange(25000))
    np.testing.assert_array_equal(z.ravel(), seed)
    xs, _ = data.dataset(QUESTION_EXPERIMENT, input_norm=True)
    assert xs.dtype == np.float32
    assert abs(float(xs.mean())) < 1e-6


def test_epoch_order_is_a_fresh_reproducible_permutation():
    a0, a1 = data.epoch_order(3, 0, 100), data.epoch_order(3, 1, 100)
    assert sorted(a0.tolist()) == list(range(100))
    assert not np.array_equal(a0, a1)
    np.testing.assert_array_equal(a0, data.epoch_order(3, 0, 100))
    assert not np.array_equal(a0, data.epoch_order(4, 0, 100))
