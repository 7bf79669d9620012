"""docs/claims.md is generated from the claim registry and the stored calibration runs."""

from pathlib import Path

import pytest

from normcheck import redraw
from normcheck.calibration import pages, spread, store
from normcheck.claims import CLAIMS

ROOT = Path(__file__).resolve().parents[2]


def test_claims_page_is_current():
    assert (ROOT / "docs" / "claims.md").read_text() == pages.claims_page(ROOT / "calibration"), (
        "docs/claims.md is stale: run `python -m normcheck calibrate --page docs/claims.md`")


def test_claims_page_names_every_claim_and_backend():
    page = (ROOT / "docs" / "claims.md").read_text()
    for claim in CLAIMS:
        assert f"`{claim.id}`" in page
    assert "| jax | tensorflow |" in page


@pytest.mark.parametrize(("runs", "page"), [("runs-tensorflow-owned.jsonl", "tensorflow-fit-runs.md"),
                                            ("runs-jax-owned.jsonl", "jax-fit-runs.md"),
                                            ("runs-tensorflow-fit.jsonl", "tensorflow-fit-order.md")])
def test_calibration_tables_are_current(runs, page):
    folder = ROOT / "calibration"
    stored = store.load_fit_runs(folder / runs)
    assert (folder / page).read_text() == pages.table(stored, stored[0].backend), (
        f"calibration/{page} is stale: run `python -m normcheck calibrate --backend B [--order fit] --report`")


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_calibration_rates_and_the_packaged_spread_are_current(backend):
    """calibration/<backend>.md and normcheck/redraw-<backend>.npz are what the stored replica runs give."""
    folder = ROOT / "calibration"
    runs = store.load_replica_runs(folder / f"runs-{backend}-replica.npz")
    fit = store.stored_fit(folder, backend)
    assert (folder / f"{backend}.md").read_text() == pages.stored_rates_table(folder, backend), (
        f"calibration/{backend}.md is stale: run `python -m normcheck calibrate --backend {backend} --report`")
    assert redraw.path(backend).read_bytes() == spread.calibrated(runs, fit), (
        f"normcheck/redraw-{backend}.npz is stale: run `python -m normcheck calibrate --backend {backend} --report`, "
        "then `--promote`")


@pytest.mark.slow  # compare's replays and power table take a while; .ci/run runs tests/docs with -m slow
def test_compare_page_is_current():
    assert (ROOT / "calibration" / "compare.md").read_text() == pages.compare_page(ROOT / "calibration"), (
        "calibration/compare.md is stale: run `python -m normcheck calibrate --report`")


def test_readme_error_rates_are_current():
    assert pages.readme_summary(ROOT / "calibration") in (ROOT / "README.md").read_text(), (
        "README's error-rate block is stale: run `python -m normcheck calibrate --readme README.md`")
