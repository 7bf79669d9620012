"""Issue 22: sizes and float ranges bounded where README promises it, refused before any work."""

from pathlib import Path

import pytest

from normcheck import cli, parallel

BASELINE = Path(__file__).resolve().parents[2] / "baselines" / "jax.json"


@pytest.mark.parametrize(("argv", "message"), [
    (["sweep", "--low", "1e-30", "--high", "1e30", "--per-decade", "100"], "training runs; allowed: at most 10000"),
    (["sweep", "--low", "5e-324"], "argument --low: '5e-324' is invalid; allowed: a number from 1e-30 to 1e+30"),
    (["sweep", "--low", "nan"], "argument --low: 'nan' is invalid"),
    (["sweep", "--high", "inf"], "argument --high: 'inf' is invalid"),
    (["sweep", "--high", "1e31"], "argument --high: '1e31' is invalid"),
    (["--jobs", "1000000"], "argument --jobs: 1000000 is invalid; allowed: 1 to"),
    (["baseline", "compare", str(BASELINE), "--jobs", "1000000"], "argument --jobs: 1000000 is invalid"),
    (["mutations", "--only", ","], "argument --only: ',' names no mutation; allowed: comma-separated mutation names"),
    (["calibrate", "--xla-defaults", "--holdout"], "--holdout and --xla-defaults are separate jobs; run one per call"),
    (["calibrate", "--xla-defaults", "--engine", "fit"], "--xla-defaults runs the replica; it cannot be combined with"),
    (["calibrate", "--close"], "--close runs real fit (--engine fit); the replica's close-regime runs are --xla-defaults"),
    (["calibrate", "--close", "--holdout", "--engine", "fit"], "--holdout and --close are separate jobs; run one per call"),
    (["calibrate", "--close", "--engine", "fit", "--epochs", "3"], "--close runs the question's experiment in normcheck's order"),
    (["bench", "--rounds", "2"], "--rounds 2 measures the speed targets; allowed only with --targets"),
])
def test_sizes_and_ranges_are_usage_errors_before_any_work(argv, message, error_line, no_work):
    assert cli.main([*argv, "--quiet"] if argv[0] not in ("mutations", "bench") else argv) == 2
    assert message in error_line()


def test_jobs_up_to_the_cap_are_accepted_and_never_exceed_the_runs():
    assert cli.parse(["--jobs", str(cli.max_jobs())]).jobs == cli.max_jobs()
    assert len(parallel.chunks([("none", 0)], jobs=cli.max_jobs())) == 1


def test_the_close_regime_under_real_fit_needs_held_out_replica_runs_before_training(tmp_path, error_line, no_work):
    assert cli.main(["calibrate", "--close", "--engine", "fit", "--out", str(tmp_path), "--quiet"]) == 2
    assert "compares with the held-out replica runs of" in error_line()
