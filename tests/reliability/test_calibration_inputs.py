"""Issue 22, the calibration side: shipped data is read-only to normcheck, and every calibration file is checked
before it is trusted. Black-box (the CLI in a process of its own, or the public module functions: calibration.engine.collect), so the tests
hold across the move of the calibration modules into a package.

Each CLI test runs a copy of the package (PYTHONPATH), so a write into "the installed package" lands in the copy,
where the test sees it, never in the working tree.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from normcheck import Experiment, framework
from normcheck.calibration import engine, store
from normcheck.errors import InputError
from normcheck.run import Run

ROOT = Path(__file__).resolve().parents[2]
SPREAD = "redraw-jax.npz"


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of the normcheck package, importable from the returned folder."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "normcheck", site / "normcheck", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def normcheck(site: Path, *argv: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site), KERAS_BACKEND="jax")
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "normcheck", *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr[-3000:]
    assert lines[0].startswith("normcheck: error: ")
    return lines[0]


def test_calibrate_writes_only_under_out_and_leaves_the_package_byte_identical(package, tmp_path):
    before = contents(package / "normcheck")
    out = tmp_path / "scratch"
    out.mkdir()
    shutil.copy(ROOT / "calibration" / "runs-jax-replica.npz", out)  # the stored runs: calibrate publishes what they give
    result = normcheck(package, "calibrate", "--backend", "jax", "--report", "--out", str(out), "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert contents(package / "normcheck") == before, "calibrate wrote into the installed package"
    assert (out / SPREAD).exists(), "calibrate wrote the spread nowhere"


def _small_baseline(tmp_path: Path) -> Path:
    """baselines/jax.json cut to its first seed: a quick comparison on the question's experiment."""
    data = json.loads((ROOT / "baselines" / "jax.json").read_text())
    first = data["seeds"][0]
    data["seeds"] = [first]
    data["runs"] = [r for r in data["runs"] if r["seed"] == first]
    path = tmp_path / "base.json"
    path.write_text(json.dumps(data))
    return path


def _two_seed_spread(path: Path) -> None:
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        arrays = {k: data[k][:2] for k in data.files if k not in ("header", "seeds")}
        seeds = [int(s) for s in data["seeds"][:2]]
    header["seeds"] = 2
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays, header=np.array(json.dumps(header)), seeds=np.array(seeds, dtype=np.int64))


@pytest.mark.parametrize("kind", ["two seeds", "not an npz", "fifo"])
def test_compare_refuses_a_spread_file_too_small_or_malformed_before_training(package, tmp_path, kind):
    spread = package / "normcheck" / SPREAD
    if kind == "two seeds":
        _two_seed_spread(spread)
    elif kind == "not an npz":
        spread.write_bytes(b"this is not an npz file\n")
    else:
        spread.unlink()
        os.mkfifo(spread)
    result = normcheck(package, "baseline", "compare", str(_small_baseline(tmp_path)), "--backend", "jax",
                       "--jobs", "1", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    line = one_line(result)  # no progress line: nothing trained
    assert SPREAD in line
    assert "allow_pickle" not in line
    assert "1000-seed" not in result.stdout


@pytest.mark.parametrize("argv", [["--report"], ["--page", "page.md"]], ids=["report", "page"])
def test_calibrate_report_and_page_refuse_a_fifo_store_without_hanging(package, tmp_path, argv):
    out = tmp_path / "cal"
    out.mkdir()
    for name in ("runs-jax-replica.npz", "runs-tensorflow-replica.npz", "holdout-jax.npz"):
        os.mkfifo(out / name)
    try:
        result = normcheck(package, "calibrate", "--backend", "jax", "--out", str(out), *argv, cwd=tmp_path, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("calibrate hung on a FIFO in --out")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "is not a regular file" in one_line(result) or "FIFO" in one_line(result)
    assert not (tmp_path / "page.md").exists()


def test_calibrate_page_and_readme_together_are_not_silently_half_done(package, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    before = readme.read_bytes()
    page = tmp_path / "page.md"
    result = normcheck(package, "calibrate", "--page", str(page), "--readme", str(readme), "--out",
                       str(ROOT / "calibration"), cwd=tmp_path)
    if result.returncode == 2:
        line = one_line(result)
        assert "--page" in line
        assert "--readme" in line
        assert not page.exists()
        assert readme.read_bytes() == before
    else:
        assert result.returncode == 0, result.stderr[-2000:]
        assert page.exists()
        assert readme.read_bytes() != before or "error-rate" in result.stdout


def test_a_run_with_nan_in_the_resume_file_is_resumed_not_refused(tmp_path):
    """A diverged run (NaN) is a finding the calibration keeps: the resume file it wrote must read back."""
    exp = Experiment(n_samples=200, epochs=2)
    nan = Run("none", 0, exp, [float("nan")] * 2, [0.5] * 2, [float("nan")] * 2, [0.5] * 2, [0.1] * 2,
              versions={"backend": "jax"})
    ok = Run("none", 1, exp, [0.6] * 2, [0.5] * 2, [0.6] * 2, [0.5] * 2, [0.1] * 2, versions={"backend": "jax"})
    path = tmp_path / "runs.jsonl"
    setup = {"setup": {"experiment": exp.to_dict(), "backend": framework.default_backend(), "variants": ["none"]}}
    path.with_name("runs.jsonl.partial").write_text("\n".join([json.dumps(setup), nan.to_json(), ok.to_json()]) + "\n")
    runs = engine.collect([0, 1], path, exp, ["none"], log=lambda m: None)  # both done: nothing to train
    assert [(r.seed, r.loss[0] != r.loss[0]) for r in runs] == [(0, True), (1, False)]




def _stored(path, exp, seeds, **versions):
    """A finished runs file of this setup, its runs marked (loss 0.25) so that a reused one shows."""
    setup = {"setup": {"experiment": exp.to_dict(), "backend": framework.default_backend(), "variants": ["none"]}}
    stack = {k: framework.versions()[k] for k in ("python", "numpy", "keras", "backend", "platform")}
    stack[framework.default_backend()] = framework.versions()[framework.default_backend()]
    marked = [Run("none", s, exp, [0.25] * 2, [0.5] * 2, [0.25] * 2, [0.5] * 2, [0.1] * 2, versions=stack | versions)
              for s in seeds]
    path.write_text("\n".join([json.dumps(setup)] + [r.to_json() for r in marked]) + "\n")


@pytest.mark.parametrize(("stored", "asked", "reused", "versions"), [
    ((0,), (0, 1), (0,), {}), ((0, 5), (0, 1), (0,), {}), ((5,), (0,), (), {}), ((0,), (0, 1), (), {"keras": "0.0"})],
    ids=["continued: extended", "seeds not asked: dropped", "other seeds: replaced", "another stack: retrained"])
def test_a_finished_store_is_read_back_for_the_seeds_asked_again_on_the_same_stack(tmp_path, stored, asked, reused,
                                                                                    versions):
    """A held-out range continued (ledger.py) trains only its new seeds, as the replica's extended range does."""
    exp = Experiment(n_samples=200, epochs=2)
    path = tmp_path / "runs.jsonl"
    _stored(path, exp, stored, **versions)
    lines: list[str] = []
    runs = engine.collect(list(asked), path, exp, ["none"], log=lines.append)
    assert [r.seed for r in runs] == list(asked)
    assert [r.seed for r in runs if r.loss == [0.25, 0.25]] == list(reused)
    assert len([line for line in lines if line.startswith("[")]) == len(asked) - len(reused)
    assert [(r.seed, r.loss) for r in store.load_fit_runs(path)] == [(r.seed, r.loss) for r in runs]
    assert not path.with_name("runs.jsonl.partial").exists()


def test_a_finished_store_that_cannot_be_read_is_refused_before_training_and_kept(tmp_path):
    exp = Experiment(n_samples=200, epochs=2)
    path = tmp_path / "runs.jsonl"
    _stored(path, exp, (0,))
    path.write_text(path.read_text() + '{"variant": "none", "se\n')
    before = path.read_bytes()
    with pytest.raises(InputError, match=r"runs.jsonl', line 3 is not JSON"):
        engine.collect([0, 1], path, exp, ["none"], log=lambda m: pytest.fail(f"trained: {m}"))
    assert path.read_bytes() == before
    assert not path.with_name("runs.jsonl.partial").exists()
