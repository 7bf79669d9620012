"""The GitHub Actions workflow is generated from ci/noxfile.py and parses as YAML."""

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _matrix():
    spec = importlib.util.spec_from_file_location("ci_matrix", ROOT / "ci" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workflow_is_the_rendering_of_the_noxfile():
    assert (ROOT / ".github" / "workflows" / "ci.yml").read_text() == _matrix().workflow(), (
        "the workflow is stale: run `python ci/matrix.py workflow --write`")


def test_workflow_runs_ci_and_every_nox_session():
    default, others = _matrix().nox_sessions()
    assert default == ["keras2_tf215", "keras2_tfkeras221", "keras3_tf216", "keras3_tf221", "jax"]
    assert {"newest", "nightly", "python-3.10", "python-3.12", "torch"} <= set(others)
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    assert any(step.get("run") == "bash .ci/run" for step in jobs["suite"]["steps"])
    assert jobs["matrix"]["strategy"]["matrix"]["session"] == default
    assert [row["session"] for row in jobs["radar"]["strategy"]["matrix"]["include"]] == [n for n in others if n != "torch"]
