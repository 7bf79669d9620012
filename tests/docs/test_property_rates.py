"""calibration/properties-<backend>.md is what the stored draws count, and it counts every property."""

from pathlib import Path

import pytest

from normcheck.calibration import property_rates
from normcheck.properties import PROPERTIES

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
STORED = property_rates.PROPERTY_DRAWS.by_backend(CALIBRATION)


@pytest.mark.parametrize("backend", sorted(STORED) or [pytest.param("none", marks=pytest.mark.skip("no draws stored"))])
def test_the_property_page_is_current_and_counts_every_property(backend):
    path = STORED[backend]
    assert property_rates.PROPERTY_PAGE.path(CALIBRATION, backend).read_text() == property_rates.page(path, backend), (
        f"calibration/properties-{backend}.md is stale: run `python -m normcheck calibrate --backend {backend} "
        "--properties`")
    assert set(property_rates.counts(path)) == {p.id for p in PROPERTIES}
