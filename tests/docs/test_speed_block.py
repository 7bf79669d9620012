"""The speed block in docs/performance.md is rendered from the stored `bench --targets` results; the phases add up."""

from pathlib import Path

import pytest

from normcheck import bench

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
