"""Issue 22: a child process's failure is its own message; an environment the frameworks refuse is exit 2; a user's
TF_CPP_MIN_LOG_LEVEL asking for quiet gets it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from normcheck import cli, framework

ROOT = Path(__file__).resolve().parents[2]


def test_a_failing_child_during_baseline_record_shows_its_own_message(tmp_path, error_line, monkeypatch, no_work):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                    "echo 'RuntimeError: the child said no' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    out = tmp_path / "b.json"
    assert cli.main(["baseline", "record", str(out), "--quiet"]) == 3
    line = error_line()
    assert "failed with exit 1: RuntimeError: the child said no" in line
    assert "CalledProcessError" not in line
    assert not out.exists()


def test_a_mutation_the_children_would_refuse_is_exit_2_before_training(tmp_path, error_line, monkeypatch, no_work):
    monkeypatch.setenv("NORMCHECK_MUTATION", "bogus")
    out = tmp_path / "b.json"
    assert cli.main(["baseline", "record", str(out), "--quiet"]) == 2
    assert "mutation 'bogus' is unknown" in error_line()
    assert not out.exists()


def test_the_fit_order_child_says_bad_input_in_one_line_with_exit_2():
    env = dict(os.environ, NORMCHECK_MUTATION="bogus", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "normcheck.fitorder", "jax"], capture_output=True, text=True,
                         env=env, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "mutation 'bogus' is unknown" in out.stderr


@pytest.mark.parametrize("flags", ["--nonsense", "nonsense", "--xla_cpu_multi_thread_eigen=false -x"])
def test_xla_flags_xla_would_end_the_process_on_are_exit_2_with_one_line(flags):
    env = dict(os.environ, XLA_FLAGS=flags, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "normcheck", "--backend", "jax", "--seeds", "2", "--epochs", "1",
                          "--variants", "none", "--jobs", "1", "--quiet"], capture_output=True, text=True, env=env,
                         check=False, timeout=300)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [f"normcheck: error: XLA_FLAGS={flags!r} has "
                                               f"{flags.split()[-1]!r}; allowed: flags --xla_NAME[=VALUE], or a file "
                                               "of them first"]


def test_well_formed_xla_flags_pass():
    framework.check_xla_flags("--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 --xla_dump_to=/tmp/x")


@pytest.mark.parametrize("level", ["3", "1"])
def test_tf_cpp_min_log_level_asking_for_quiet_keeps_the_start_up_lines_hidden(tmp_path, level):
    """On TensorFlow: TensorFlow's absl start-up lines (oneDNN, cudart) ignore TF_CPP_MIN_LOG_LEVEL since 2.19."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=level, PYTHONPATH=str(ROOT), KERAS_BACKEND="tensorflow")
    env.pop("TF_USE_LEGACY_KERAS", None)
    out = subprocess.run([sys.executable, "-m", "normcheck", "--backend", "tensorflow", "--seeds", "1", "--epochs", "1",
                          "--variants", "none", "--jobs", "1", "--quiet", "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, env=env, check=False, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
