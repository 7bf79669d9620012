"""The replica stands for real fit on raw inputs only in distribution: calibration/replica-vs-fit.md says how far.

Both sides are stored runs, so this is a consistency check of the calibration, not an upgrade test:
the page is current, and no measure rejects (a rejection means the replica is not the engine for
those claims, and the page says so).
"""

import re
from pathlib import Path

import pytest

from normcheck import redraw
from normcheck.calibration import pages, store
from normcheck.claims import CLAIMS

pytest.importorskip("scipy")

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


PAGE = CALIBRATION / store.AGREEMENT_PAGE


@pytest.mark.slow  # resampling for the power takes a while; .ci/run runs tests/docs with -m slow
def test_the_agreement_page_is_current():
    assert PAGE.read_text() == pages.agreement_page(CALIBRATION), (
        "calibration/replica-vs-fit.md is stale: run `python -m normcheck calibrate --backend B --report`")


# Known disagreements, as data: where the two-sample test rejects, the replica is not real fit's engine and
# calibration/<backend>.md takes that claim's counts from fit. A change either way fails the test below.
NOT_THE_ENGINE = {
    "jax": set(),
    "tensorflow": {"batch_norm_before_activation eval_accuracy epoch 10"},
}


@pytest.mark.parametrize("backend", sorted(NOT_THE_ENGINE))
def test_replica_matches_fit_in_distribution_except_where_recorded(backend):
    """Read from the page, which the slow test above holds to the stored runs."""
    page = PAGE.read_text()
    if f"## {backend}:" not in page:
        pytest.skip(f"no stored fit and replica runs for {backend}")
    section = page.split(f"## {backend}:", 1)[1].split("\n## ", 1)[0]
    verdict = next(line for line in section.splitlines() if line.startswith(("Not rejected", "Disagree")))
    found = set(re.findall(r"`([^`]+)`", verdict)) if verdict.startswith("Disagree") else set()
    assert found == NOT_THE_ENGINE[backend], verdict


def test_where_the_replica_is_not_the_engine_the_rates_page_counts_fit():
    for backend, measures in NOT_THE_ENGINE.items():
        text = (CALIBRATION / f"{backend}.md").read_text()
        for claim in measures & {c.id for c in CLAIMS}:
            assert f"`{claim}`: the replica's values differ from real fit's" in text, (backend, claim)


def test_where_the_replica_is_not_the_engine_compares_spread_comes_from_fit():
    """The shipped spread names the variants it took from real fit's seeds: those the test rejects a metric of."""
    claims = {c.id for c in CLAIMS}
    for backend, measures in NOT_THE_ENGINE.items():
        cells = redraw.cells(backend)
        if cells is None:
            continue
        assert set(cells.from_fit) == {m.split(" ")[0] for m in measures - claims}, backend
