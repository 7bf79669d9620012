"""`calibrate --engine fit --holdout`: real fit on held-out seeds, only for the variants the replica does not stand
for on that backend (as the stored calibration shows), and nothing where it stands for every variant."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from normcheck.calibration import agreement, store
from normcheck.run import by_seed

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "calibration"

pytest.importorskip("scipy")


def _calibration(tmp_path: Path, backend: str) -> tuple[Path, list[str]]:
    """A scratch folder holding the stored replica and real-fit runs of `backend`; the variants fit must run."""
    replica, fit = store.REPLICA_RUNS.path(CALIBRATION, backend), store.fit_runs("owned").path(CALIBRATION, backend)
    if not replica.exists() or not fit.exists():
        pytest.skip(f"no stored replica and real-fit runs of {backend}")
    out = tmp_path / "cal"
    out.mkdir()
    for path in (replica, fit):
        shutil.copy(path, out)
    variants = agreement.fit_runs_for(by_seed(store.load_fit_runs(fit)), by_seed(store.load_replica_runs(replica)))
    return out, variants


def _calibrate(out: Path, backend: str, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "normcheck", "calibrate", "--backend", backend, "--engine", "fit",
                           "--holdout", "--out", str(out), "--quiet", *argv], capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_held_out_fit_trains_only_what_the_replica_does_not_stand_for(tmp_path, backend):
    out, variants = _calibration(tmp_path, backend)
    result = _calibrate(out, backend, "--seeds", "9300000-9300000", "--jobs", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    stored = store.HOLDOUT_FIT_RUNS.path(out, backend)
    if not variants:
        assert "no held-out real fit is needed" in result.stdout
        assert not stored.exists()
        return
    runs = store.load_fit_runs(stored)
    assert sorted((r.variant, r.seed) for r in runs) == sorted((v, 9300000) for v in variants)
    assert (out / f"{backend}.md").exists()
