"""The replica stands for real fit on raw inputs only in distribution: calibration/replica-vs-fit.md says how far.

Both sides are stored runs, so this is a consistency check of the calibration, not an upgrade test:
the page is current, and no measure rejects (a rejection means the replica is not the engine for
those claims, and the page says so).
"""

from pathlib import Path

import pytest

from normcheck.calibration import agreement, pages, store
from normcheck.run import by_seed

pytest.importorskip("scipy")

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


@pytest.fixture(scope="module")
def rendered():
    return pages.agreement_page(CALIBRATION)


def test_the_agreement_page_is_current(rendered):
    assert (CALIBRATION / store.AGREEMENT_PAGE).read_text() == rendered, (
        "calibration/replica-vs-fit.md is stale: run `python -m normcheck calibrate --backend B --report`")


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_replica_matches_fit_in_distribution_where_trajectories_are_chaotic(backend, rendered):
    fit = store.fit_runs("owned").path(CALIBRATION, backend)
    replica = store.REPLICA_RUNS.path(CALIBRATION, backend)
    if not (fit.exists() and replica.exists()):
        pytest.skip(f"no stored fit and replica runs for {backend}")
    found, level = agreement.compare(by_seed(store.load_fit_runs(fit)), by_seed(store.load_replica_runs(replica)))
    rejected = [f"{a.measure}: p = {a.p:.2g}" for a in found if a.rejected(level)]
    assert not rejected, f"replica and fit differ in distribution on {backend} (level {level:.1g} each): {rejected}"
