"""Every claim in the registry, on the question's experiment, for every seed (--normcheck-seeds)."""

import pytest

from normcheck.claims import parametrize_with_claims

pytestmark = pytest.mark.upgrade


@parametrize_with_claims()
def test_claim_holds(claim, normcheck_seed, normcheck_runs):
    """Must hold for every seed in the configured range: thresholds have calibrated margins."""
    runs = normcheck_runs.for_seed(normcheck_seed, claim.variants)
    verdict = claim.check({normcheck_seed: runs})
    assert verdict.holds, verdict.line()
