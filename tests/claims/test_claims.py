"""Every claim in the registry, on the question's experiment, for every seed (--normcheck-seeds)."""

import json

import pytest

from normcheck.claims import parametrize_with_claims

pytestmark = pytest.mark.upgrade


@parametrize_with_claims()
def test_claim_holds(claim, normcheck_seed, normcheck_runs, normcheck_property):
    """Must hold for every seed in the configured range: thresholds have calibrated margins.

    The value, threshold and versions go to JUnit XML (`normcheck_property`) for CI to show.
    """
    runs = normcheck_runs.for_seed(normcheck_seed, claim.variants)
    verdict = claim.check({normcheck_seed: runs})
    normcheck_property("value", verdict.statistic)
    normcheck_property("threshold", f"{verdict.op} {verdict.threshold:g}")
    normcheck_property("versions", json.dumps(runs[claim.variants[0]].versions, sort_keys=True))
    assert verdict.holds, f"{verdict.line()}\ncalibrated: {claim.basis}"
