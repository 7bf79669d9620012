"""The small-batch experiment's claims (normcheck/experiments/small_batch.py), through the public API only, as a user's
test file would run them: one test per claim over five seeds, trained once per process."""

import pytest

import normcheck
from normcheck.experiments.small_batch import SMALL_BATCH

pytestmark = pytest.mark.upgrade


@normcheck.parametrize_claims(SMALL_BATCH)
def test_small_batch_claim_holds(check, normcheck_backend, normcheck_property):
    verdict = check.verdict()
    normcheck_property("value", verdict.statistic)
    normcheck_property("threshold", f"{verdict.op} {verdict.threshold:g}")
    assert verdict.holds, f"{verdict.line()}\nsource: {check.claim.source}"
