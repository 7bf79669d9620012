"""JUnit XML properties (`normcheck_property`) with and without pytest-xdist, under every junit_family.

pytest's own `record_property` warns under xunit2 (pytest's default), and a project with
`filterwarnings = error` (normcheck's own, and many others) then errors every test that records.
"""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RECORDING = """
def test_records(normcheck_property):
    normcheck_property("value", 0.25)
    normcheck_property("threshold", ">= 0.1")
"""


def _properties(xml: Path) -> dict[str, dict[str, str]]:
    cases = ET.parse(xml).getroot().iter("testcase")
    return {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")} for case in cases}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no xdist", "xdist"])
@pytest.mark.parametrize("family", ["xunit1", "xunit2", "legacy"])
def test_properties_reach_junit_xml_with_warnings_as_errors(pytester, family, workers):
    pytester.makeini(f"[pytest]\nfilterwarnings = error\njunit_family = {family}\n")
    pytester.makepyfile(test_recording=RECORDING)
    xml = pytester.path / "report.xml"
    result = pytester.runpytest_subprocess(f"--junitxml={xml}", *workers)
    result.assert_outcomes(passed=1)
    assert _properties(xml) == {"test_records": {"value": "0.25", "threshold": ">= 0.1"}}


def test_the_claim_tests_write_junit_xml_without_xdist(tmp_path):
    """The suite's own recording tests, as `pytest --junitxml` (and README's nox command) run them: one process."""
    xml = tmp_path / "report.xml"
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
                          f"--junitxml={xml}", "--normcheck-backend", "jax", "--normcheck-seeds", "1",
                          "tests/claims/test_claims.py", "-k", "input_norm_ends_near_perfect"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-3000:]
    (properties,) = _properties(xml).values()
    assert set(properties) == {"value", "threshold", "versions"}
