"""docs/cluster.md's measured block is rendered from the stored `bench --cluster-overhead` results; its arithmetic holds."""

import json
from pathlib import Path

import pytest

from normcheck import scaling

ROOT = Path(__file__).resolve().parents[2]
RESULTS = sorted((ROOT / "docs").glob("cluster-*.json"))


def test_a_measurement_is_stored():
    assert RESULTS, "no docs/cluster-<backend>.json: run `python -m normcheck bench --backend jax --cluster-overhead`"


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_the_scaling_block_is_current(path):
    m = json.loads(path.read_text())
    assert scaling.block(m) in (ROOT / scaling.PAGE).read_text(), (
        f"the {m['backend']} block of {scaling.PAGE} is stale: run "
        f"`python -m normcheck bench --backend {m['backend']} --cluster-overhead`")
    assert m["same_runs"], "the cluster's runs differed from the local pool's"


def test_the_prediction_is_runs_times_time_plus_blocks_times_overhead_over_workers():
    m = {"seeds": 100, "workers": 2, "default_block_runs": 10, "empty_task_seconds": 0.001, "variant": "input_norm",
         "pool_wall": 50.0, "cluster_wall": 50.0, "cluster_wall_one_per_block": 54.5,
         "run_seconds": {v: 1.0 for v in scaling.VARIANTS}}
    d = scaling.derived(m)
    assert d["per_task_seconds"] == pytest.approx(4.5 * 2 / 90)
    assert d["block_under_target"] == 2  # 0.1 s a block against 5% of 1 s a run
    runs = scaling.PREDICT_SEEDS * len(scaling.VARIANTS)
    assert d["predicted_seconds"][16] == pytest.approx((runs * 1.0 + runs / 2 * 0.1) / 16)
