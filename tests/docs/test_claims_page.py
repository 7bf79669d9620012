"""docs/claims.md is generated from the claim registry and the stored calibration runs."""

from pathlib import Path

import pytest

from normcheck import calibration

ROOT = Path(__file__).resolve().parents[2]


def test_claims_page_is_current():
    assert (ROOT / "docs" / "claims.md").read_text() == calibration.claims_page(ROOT / "calibration"), (
        "docs/claims.md is stale: run `python -m normcheck calibrate --page docs/claims.md`")


def test_claims_page_names_every_claim_and_backend():
    page = (ROOT / "docs" / "claims.md").read_text()
    from normcheck.claims import CLAIMS

    for claim in CLAIMS:
        assert f"`{claim.id}`" in page
    assert "| jax | tensorflow |" in page


@pytest.mark.parametrize(("runs", "page"), [("runs-tensorflow-owned.jsonl", "tensorflow.md"), ("runs-jax-owned.jsonl", "jax.md"),
                                            ("runs-tensorflow-fit.jsonl", "tensorflow-fit-order.md")])
def test_calibration_tables_are_current(runs, page):
    folder = ROOT / "calibration"
    stored = calibration.load(folder / runs)
    assert (folder / page).read_text() == calibration.table(stored, stored[0].backend), (
        f"calibration/{page} is stale: run `python -m normcheck calibrate --backend B [--order fit] --report`")
