"""normcheck/carried-rates.json, the rates the CLI states, is what the stored held-out runs count for today's rule."""

import json
from pathlib import Path

import pytest

from normcheck import carried
from normcheck.calibration import ledger, promote

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
STALE = f"{carried.PATH.name} is stale: run `python -m normcheck calibrate --promote` and commit"


@pytest.fixture(scope="module")
def shipped():
    data = carried.read()
    assert data is not None, f"no {carried.PATH.name}: run `python -m normcheck calibrate --promote`"
    return data


def test_the_shipped_run_rates_are_the_stored_held_out_counts(shipped):
    assert shipped["rule"] == ledger.rule_version(), STALE
    assert shipped["backends"] == json.loads(json.dumps(promote.run_counts(CALIBRATION))), STALE


@pytest.mark.slow  # compare's replays take a while; .ci/run runs tests/docs with -m slow
def test_the_shipped_compare_rates_are_the_held_out_replays(shipped):
    assert shipped.get("compare") == json.loads(json.dumps(promote.compare_counts(CALIBRATION))), STALE


def test_every_backend_with_a_held_out_count_for_todays_rule_is_shipped(shipped):
    held = {b for r in ledger.load(CALIBRATION) if r.role == "held-out" and r.rule_version == ledger.rule_version()
            and r.engine == "replica" for b in r.backends}
    assert set(shipped["backends"]) == held
    assert {b for row in shipped.get("compare", []) for b in (row["a"], row["b"])} == held
