"""Your own experiment trains through the real keras.Model.fit; the shortcuts train exactly as the long way.

The shortcuts are those the question's path takes: one compiled model per variant reused across
seeds (`NORMCHECK_REUSE`), one fit call over every epoch where the samples make whole batches
(`NORMCHECK_FIT_CALLS`). Both are held to the long way here, on a user's spec outside the package
and on the small-batch experiment's BN at batch 2, whose moving statistics must reset too.
"""

import dataclasses

import numpy as np
import pytest

from normcheck import framework, spec, spec_fit, spec_jobs
from normcheck.errors import InputError
from normcheck.experiments.small_batch import SMALL_BATCH

TINY = spec.load("tests/specs/tiny_experiment.py:TINY")
CASES = [(TINY, "layer_norm"), (SMALL_BATCH, "bn_batch2")]
IDS = ["tiny-layer_norm", "small_batch-bn_batch2"]


def _timeless(run):
    return {k: v for k, v in run.to_dict().items() if k != "seconds"}


@pytest.fixture
def fresh_caches(monkeypatch):
    monkeypatch.setattr(spec_fit, "_COMPILED", {})
    return monkeypatch


@pytest.mark.upgrade
@pytest.mark.parametrize(("s", "variant"), CASES, ids=IDS)
def test_a_reused_model_trains_as_a_fresh_build_and_the_order_of_seeds_does_not_matter(normcheck_backend, fresh_caches,
                                                                                      s, variant):
    reused = [spec_fit.train(s, variant, seed) for seed in (1, 0)]
    fresh_caches.setenv("NORMCHECK_REUSE", "0")
    fresh = [spec_fit.train(s, variant, seed) for seed in (1, 0)]
    assert [_timeless(r) for r in reused] == [_timeless(r) for r in fresh]
    assert reused[0].history != reused[1].history


@pytest.mark.upgrade
@pytest.mark.parametrize(("s", "variant"), CASES, ids=IDS)
def test_one_fit_call_per_run_trains_as_a_call_per_epoch(normcheck_backend, fresh_caches, s, variant):
    one = spec_fit.train(s, variant, 3)
    fresh_caches.setenv("NORMCHECK_FIT_CALLS", "epoch")
    each = spec_fit.train(s, variant, 3)
    assert _timeless(one) == _timeless(each)
    assert len(one.seconds) == s.epochs
    assert set(one.history) >= {"accuracy", "val_accuracy"}


def test_measurements_are_taken_before_training_and_after_each_epoch(normcheck_backend):
    run = spec_fit.train(TINY, "plain", 0)
    assert len(run.measured["weight_norm"]) == TINY.epochs + 1
    assert run.metric("weight_norm") == run.measured["weight_norm"][-1] != run.measured["weight_norm"][0]


def _keras():
    return framework.keras()


@pytest.mark.parametrize(("build", "message"), [
    (lambda v: "a model", "tiny: build('plain') returned 'a model'; allowed: a keras.Model"),
    (lambda v: _keras().Sequential([_keras().Input((4,)), _keras().layers.Dense(1)]), "is not compiled"),
    (lambda v: 1 / 0, "tiny: build('plain') raised ZeroDivisionError"),
])
def test_a_bad_build_is_one_error_before_any_training(normcheck_backend, build, message):
    bad = spec.Spec(**{**{f: getattr(TINY, f) for f in ("name", "variants", "data", "epochs", "batch_size")}, "build": build})
    with pytest.raises(InputError) as caught:
        spec_fit.check(bad, bad.variants)
    assert message in str(caught.value)


def test_a_measurement_that_raises_is_one_error_naming_it(normcheck_backend, fresh_caches):
    fields = {f: getattr(TINY, f) for f in ("name", "variants", "build", "data", "epochs", "batch_size")}
    bad = spec.Spec(**fields, measurements={"broken": lambda model, data: 1 / 0})
    with pytest.raises(InputError, match=r"tiny: measurements\['broken'\] raised ZeroDivisionError"):
        spec_fit.train(bad, "plain", 0)


def _fields(**changes):
    return {**{f: getattr(TINY, f) for f in ("name", "variants", "build", "data", "epochs", "batch_size")}, **changes}


def test_two_specs_of_one_name_do_not_share_data_or_compiled_models(normcheck_backend):
    doubled = spec.Spec(**_fields(data=lambda v: spec.Data(TINY.data(v).x * 0.0, TINY.data(v).y)))
    first, second = spec_fit.train(TINY, "plain", 0), spec_fit.train(doubled, "plain", 0)
    assert first.history != second.history


def test_data_the_model_cannot_take_and_a_misspelled_metric_are_errors_before_training(normcheck_backend):
    wide = spec.Spec(**_fields(data=lambda v: spec.Data(np.zeros((64, 5), "float32"), np.zeros(64, "float32"))))
    with pytest.raises(InputError, match=r"tiny: the model build\('plain'\) makes does not train on data\('plain'\)"):
        spec_fit.check(wide, ["plain"])
    typo = spec.Spec(**_fields(claims=(spec.claim("c", "s", spec.final("val_acuracy", "plain"), ">= 0"),)))
    with pytest.raises(InputError, match=r"claim 'c' reads 'val_acuracy' of 'plain', which neither fit logs"):
        spec_fit.check(typo, ["plain"])


def test_a_store_of_the_same_name_but_another_spec_is_refused(normcheck_backend, tmp_path):
    module = tmp_path / "edited.py"
    module.write_text("from tests.specs.tiny_experiment import *\nfrom normcheck.spec import Spec\n"
                      "import dataclasses\nEDITED = dataclasses.replace(TINY, epochs=3)\n")
    path = tmp_path / "runs.jsonl"
    spec_fit.collect("tests/specs/tiny_experiment.py:TINY", ["plain"], [0], path, log=lambda line: None)
    with pytest.raises(InputError, match=r"holds runs of another setup: spec .*\"epochs\": 2.*\"epochs\": 3"):
        spec_fit.collect(f"{module}:EDITED", ["plain"], [0, 1], path, log=lambda line: None)


def test_a_measure_that_raises_is_one_error_naming_its_claim():
    bad = spec.claim("reads_other", "s", lambda runs: runs["layer_norm"].metric("accuracy"), ">= 0", variants=("plain",))
    s = spec.Spec(**_fields(claims=(bad,)))
    run = spec.SpecRun("tiny", "plain", 0, {"accuracy": [0.5]}, {}, [0.1], {"backend": "jax"})
    with pytest.raises(InputError, match=r"claim 'reads_other' of tiny: its measure raised KeyError"):
        spec_jobs.verdicts(s, {0: {"plain": run}})


def test_a_measurement_named_as_one_of_fits_logs_is_refused_before_training(normcheck_backend):
    clash = dataclasses.replace(TINY, measurements={"norm": lambda model, data: {"loss": 0.0}})
    with pytest.raises(InputError, match=r"give loss, which fit logs too; allowed: names fit does not log"):
        spec_fit.check(clash, clash.variants)
