"""The replica stands for real fit on raw inputs only in distribution: calibration/replica-vs-fit.md says how far.

Both sides are stored runs, so this is a consistency check of the calibration, not an upgrade test:
the page is current, and no measure rejects (a rejection means the replica is not the engine for
those claims, and the page says so).
"""

from pathlib import Path

import pytest

from normcheck.calibration import pages, store

pytest.importorskip("scipy")

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


PAGE = CALIBRATION / store.AGREEMENT_PAGE


@pytest.mark.slow  # resampling for the power takes a while; .ci/run runs tests/docs with -m slow
def test_the_agreement_page_is_current():
    assert PAGE.read_text() == pages.agreement_page(CALIBRATION), (
        "calibration/replica-vs-fit.md is stale: run `python -m normcheck calibrate --backend B --report`")


def test_replica_matches_fit_in_distribution_where_trajectories_are_chaotic():
    """Read from the page, which the slow test above holds to the stored runs."""
    page = PAGE.read_text()
    for backend in ("jax", "tensorflow"):
        if f"## {backend}:" not in page:
            pytest.skip(f"no stored fit and replica runs for {backend}")
    assert "Disagree" not in page, [line for line in page.splitlines() if line.startswith("Disagree")]
