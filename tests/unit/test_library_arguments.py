"""Issue 22: the library raises ValueError naming the field for every bad argument, and files runs where they say."""

import re

import pytest

from normcheck import Experiment, claims
from normcheck.run import Run


@pytest.mark.parametrize("kwargs", [{"learning_rate": 0.1}, {"optimizer": "sgd"}])
def test_an_unknown_experiment_field_is_a_value_error_listing_the_fields(kwargs):
    with pytest.raises(ValueError, match=f"Experiment has no field.s. {next(iter(kwargs))}; allowed: n_samples, "
                                         "hidden_units, batch_size, epochs"):
        Experiment(**kwargs)
    with pytest.raises(ValueError, match="Experiment has no field"):
        Experiment().replace(**kwargs)


def test_too_many_positional_experiment_arguments_are_a_value_error():
    with pytest.raises(ValueError, match="at most 8 positional arguments"):
        Experiment(*range(9))


def _run(variant="input_norm", seed=0):
    exp = Experiment()
    n = exp.epochs
    return Run(variant, seed, exp, [0.1] * n, [0.9] * n, [0.1] * n, [0.9] * n, [1.0] * n,
               [{"saturation": 0.1, "batch_std": None, "bn_output_std": None}] * (n + 1))


@pytest.mark.parametrize(("runs", "message"), [
    (None, "check_all(runs_by_seed=None) is invalid; allowed: a non-empty mapping {seed: {variant: Run}}"),
    ({}, "check_all(runs_by_seed={}) is invalid"),
    ([_run()], "check_all(runs_by_seed=[Run("),
    ({0: None}, "runs_by_seed[0] is None; allowed: a non-empty mapping {variant: Run}"),
    ({0: {"input_norm": "x"}}, "runs_by_seed[0]['input_norm'] is 'x'; allowed: a normcheck Run"),
    ({0: {"none": _run("input_norm")}}, "runs_by_seed[0]['none'] is a run of 'input_norm'; allowed: a run of 'none'"),
])
def test_check_all_refuses_runs_filed_in_the_wrong_place(runs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        claims.check_all(runs)


def test_check_all_takes_a_run_filed_under_its_own_seed_only():
    assert claims.check_all({3: {"input_norm": _run(seed=3)}})
    with pytest.raises(ValueError, match=r"runs_by_seed\[7\]\['input_norm'\] is a run of seed 3; allowed: a run of seed 7"):
        claims.check_all({7: {"input_norm": _run(seed=3)}})


@pytest.mark.parametrize("fields", [{"n_samples": 10_000_000, "hidden_units": 4096}, {"n_samples": 1_000_000, "hidden_units": 1000}])
def test_an_experiment_too_big_for_memory_is_a_value_error_naming_the_fields(fields):
    with pytest.raises(ValueError, match=r"Experiment.n_samples=\d+ x hidden_units=\d+ is \d+ activations; allowed: at most"):
        Experiment(**fields)


def test_a_huge_bad_library_value_is_cut_in_the_message():
    with pytest.raises(ValueError, match="order") as raised:
        Experiment(order="o" * 100_000)
    assert len(str(raised.value)) < 1000
