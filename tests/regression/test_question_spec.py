"""The question is one experiment of the public API: its Spec trains through the path every experiment takes exactly
as the question's own path trains it, and its claims judge those runs to the same values."""

import dataclasses
import functools

import numpy as np
import pytest

from normcheck import claims, spec, spec_fit, training, variants
from normcheck.experiments.question import QUESTION

EPOCHS = 2  # the two paths must agree after every epoch: two show it as ten would, in a fifth of the time


def _floats(values):
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@pytest.mark.upgrade
def test_the_question_as_a_spec_trains_and_measures_as_the_questions_own_path(normcheck_backend):
    short = dataclasses.replace(QUESTION, epochs=EPOCHS)
    experiment = training.QUESTION_EXPERIMENT.replace(epochs=EPOCHS)
    for seed in (3, 4):  # the second seed trains the compiled model the first one left, as every later seed does
        own, as_spec = {}, {}
        for v in QUESTION.variants:
            own[v] = training.train(v, experiment, seed=seed)
            as_spec[v] = spec_fit.train(short, v, seed)
            for metric in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
                assert as_spec[v].series(metric) == getattr(own[v], metric), (seed, v, metric)
            assert set(as_spec[v].measured) == set(own[v].diagnostics[0])
            for key in own[v].diagnostics[0]:
                np.testing.assert_array_equal(as_spec[v].trace(key), _floats(own[v].diag(key)), err_msg=f"{v} {key}")
        assert [c.measure(as_spec) for c in claims.CLAIMS] == [c.measure(own) for c in claims.CLAIMS]


def test_the_question_spec_is_the_questions_variants_and_claims():
    assert QUESTION.variants == tuple(variants.VARIANTS)
    assert QUESTION.claims == claims.CLAIMS
    assert (QUESTION.epochs, QUESTION.batch_size) == (training.QUESTION_EXPERIMENT.epochs,
                                                      training.QUESTION_EXPERIMENT.batch_size)


def test_a_claims_bound_arguments_are_part_of_the_rule():
    moved = dataclasses.replace(claims.get_claim("input_norm_learns_in_one_epoch"),
                                measure=functools.partial(claims.accuracy_at, variant="input_norm", epoch=2))
    changed = dataclasses.replace(QUESTION, claims=tuple(moved if c.id == moved.id else c for c in QUESTION.claims))
    assert spec.rule_version(changed) != spec.rule_version(QUESTION)
