"""normcheck/carried-rates.json, the rate the CLI states, is what the stored held-out runs count for today's rule."""

import json
from pathlib import Path

from normcheck import carried
from normcheck.calibration import ledger, promote

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


def test_the_shipped_rates_are_the_stored_held_out_counts():
    shipped = carried.read()
    assert shipped is not None, f"no {carried.PATH.name}: run `python -m normcheck calibrate --promote`"
    assert shipped == json.loads(json.dumps(promote.carried_rates(CALIBRATION))), (
        f"{carried.PATH.name} is stale: run `python -m normcheck calibrate --promote` and commit")


def test_every_backend_with_a_held_out_count_for_todays_rule_is_shipped():
    held = {b for r in ledger.load(CALIBRATION) if r.role == "held-out" and r.rule_version == ledger.rule_version()
            for b in r.backends}
    assert set(carried.read()["backends"]) == held
