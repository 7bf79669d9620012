"""The pytest plugin as another project sees it: whole sessions in a scratch project (pytester, a fresh process each).

normcheck is installed, so its `pytest11` entry point loads in every session here,
exactly as in any project that shares the environment.
"""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FOREIGN = """
import json, os, sys

def test_records_its_world(request):
    with open(os.environ["NORMCHECK_TEST_OUT"], "w") as fh:
        json.dump({"env": dict(os.environ), "markers": request.config.getini("markers"),
                   "frameworks": sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules)}, fh)
"""


def _shown(result) -> list[str]:
    """What the session printed, less pytest's own list of installed plugins and the timing."""
    return [line.split(" in ")[0] for line in result.outlines if not line.startswith(("plugins:", "rootdir:"))]


def _world(pytester, monkeypatch, name, *args):
    out = pytester.path / f"{name}.json"
    monkeypatch.setenv("NORMCHECK_TEST_OUT", str(out))
    result = pytester.runpytest_subprocess(*args)
    data = json.loads(out.read_text())
    data["env"] = {k: v for k, v in data["env"].items() if k not in ("NORMCHECK_TEST_OUT", "PYTEST_CURRENT_TEST")}
    return result, data


@pytest.mark.parametrize("keras_backend", [None, "numpy"], ids=["plain", "KERAS_BACKEND=numpy"])
def test_a_foreign_session_is_unchanged_by_normcheck(pytester, monkeypatch, tmp_path, keras_backend):
    """Same environment, markers and output with and without the plugin; a foreign KERAS_BACKEND is not its business."""
    pytester.makepyfile(test_foreign=FOREIGN)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    if keras_backend:
        monkeypatch.setenv("KERAS_BACKEND", keras_backend)
    without, alone = _world(pytester, monkeypatch, "without", "-p", "no:normcheck")
    with_, guest = _world(pytester, monkeypatch, "with")
    assert without.ret == with_.ret == 0
    assert guest == alone
    assert guest["frameworks"] == []
    assert _shown(with_) == _shown(without)
    assert not list(tmp_path.glob("normcheck-runs-*"))


def test_a_bad_normcheck_seeds_option_is_a_usage_error(pytester):
    pytester.makepyfile(test_foreign="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--normcheck-seeds", "3-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*seeds '3-1' are invalid; allowed: N (seeds 0..N-1)*"])


def test_xdist_workers_train_each_run_once(pytester):
    """Two workers ask for the same run four times: one trains it, the summary says so, the folder is gone after."""
    pytest.importorskip("xdist")
    pytester.makepyfile(test_runs="""
import pytest
from normcheck import Experiment

TINY = Experiment(n_samples=200, epochs=1)

@pytest.mark.parametrize("i", range(4))
def test_shares_a_run(normcheck_runs, i):
    assert normcheck_runs.get("input_norm", TINY, 0).seed == 0
""")
    result = pytester.runpytest_subprocess("-n", "2")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["normcheck: 1 runs trained across workers, 0 of them twice"])


def test_a_saved_benchmark_names_the_keras_stack_only_where_normcheck_was_used(pytester, monkeypatch):
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)  # under `pytest -n`, pytest-benchmark would take the inner session for a worker
    pytester.makepyfile(test_bench="""
def test_with_normcheck(benchmark, normcheck_backend):
    benchmark(lambda: None)
""")
    result = pytester.runpytest_subprocess("--benchmark-json=bench.json")
    assert result.ret == 0
    info = json.loads((pytester.path / "bench.json").read_text())["machine_info"]
    assert info["normcheck"]["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert "keras" in info["normcheck"]


USER_TESTS = """
import normcheck
from normcheck import spec

TINY = spec.load({ref!r})


@normcheck.parametrize_claims(TINY, seeds=[0, 1])
def test_my_claims(check):
    check()
"""


def test_a_users_test_file_gets_one_test_per_claim_of_its_own_experiment(pytester):
    ref = f"{ROOT / 'tests/specs/tiny_experiment.py'}:TINY"
    pytester.makepyfile(test_mine=USER_TESTS.format(ref=ref))
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_my_claims?plain_learns? PASSED*", "*test_my_claims?norm_does_not_hurt? PASSED*"])


def test_normcheck_experiment_collects_the_claims_and_a_failing_one_shows_its_verdict(pytester):
    ref = f"{ROOT / 'tests/specs/tiny_experiment.py'}:TINY_FAILS"
    pytester.makepyfile(test_theirs="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("--normcheck-experiment", ref, "--normcheck-seeds", "1", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["collected 2 items", "*FAIL impossible: accuracy above one -- median * > 1 over 1 seed*"])
    assert "Traceback" not in result.stdout.str()
    bad = pytester.runpytest_subprocess("--normcheck-experiment", "nowhere_xyz:SPEC")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*no module 'nowhere_xyz'*"])
