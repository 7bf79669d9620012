"""Your own experiment trains through the real keras.Model.fit; the shortcuts train exactly as the long way.

The shortcuts are those the question's path takes: one compiled model per variant reused across
seeds (`NORMCHECK_REUSE`), one fit call over every epoch where the samples make whole batches
(`NORMCHECK_FIT_CALLS`). Both are held to the long way here, on a user's spec outside the package
and on the small-batch experiment's BN at batch 2, whose moving statistics must reset too.
"""

import pytest

from normcheck import framework, spec, spec_fit
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
