"""The speed block in docs/performance.md is rendered from the stored `bench --targets` results; the phases add up."""

import json
from pathlib import Path

import pytest

from normcheck import bench
from normcheck.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_speed_block_is_current():
    results = bench.load_results([str(ROOT / p) for p in bench.RESULTS])
    assert set(results) == {"tensorflow", "jax"}
    assert bench.readme_block(results) in (ROOT / "docs" / "performance.md").read_text(), (
        "the speed block is stale: run `python -m normcheck bench --readme docs/performance.md`")


def test_phases_split_the_workers_time():
    runs = [{"seconds": [1.5, 1.0, 1.0], "probe_seconds": 0.25}, {"seconds": [2.0, 1.0, 1.2], "probe_seconds": 0.25}]
    p = bench.phases(runs, wall=5.0, jobs=4)
    assert p["workers"] == 2
    assert p["epochs"] == pytest.approx(7.7)
    assert p["first_epoch_extra"] == pytest.approx(0.5 + 0.9)
    assert p["steady_epoch"] == pytest.approx(1.0)
    assert p["epochs"] + p["probe"] + p["rest"] == pytest.approx(2 * 5.0)


def _targets(default_walls):
    return {"rounds": 3, "question_script_wall": [60.0, 80.0, 70.0], "one_process_script_wall": [40.0, 50.0, 45.0],
            "one_process_script_fit": [38.0, 48.0, 43.0], "matrix_wall": [20.0, 24.0, 21.0],
            "default_run_wall": default_walls}


def test_each_ratio_is_taken_within_its_round_and_the_target_is_judged_on_their_median_against_both():
    m = _targets([36.0, 36.0, 36.0])
    assert bench.ratios(m, "default_run_wall") == pytest.approx([0.6, 0.45, 36 / 70])
    assert bench.ratio_text(m, "default_run_wall") == "**0.51** (0.45-0.60)"
    block = bench.readme_block({"tensorflow": {"matrix_vs_question_script": m}})
    assert ("`python -m normcheck`, no options at most 0.5x | 36.0 s: **0.51** (0.45-0.60); in one process 0.80 "
            "(0.72-0.90) | not met / not met |") in block
    met = bench.readme_block({"tensorflow": {"matrix_vs_question_script": _targets([29.0, 36.0, 36.0])}})
    assert "**0.48** (0.45-0.51); in one process 0.72 (0.72-0.80) | met / not met |" in met


def test_results_from_before_rounds_are_refused_with_the_command_that_remakes_them(tmp_path):
    old = tmp_path / "bench-tensorflow.json"
    for stored in ({"backend": "tensorflow", "matrix_vs_question_script": {"question_script_wall": 32.3}},
                   {"backend": "tensorflow", "matrix_vs_question_script": None}, [1, 2]):
        old.write_text(json.dumps(stored))
        with pytest.raises(InputError, match=r"holds no speed targets measured in rounds.*bench --targets --json PATH"):
            bench.load_results([str(old)])
