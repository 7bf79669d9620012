"""`python -m normcheck` as a newcomer runs it: a process of its own, the environment as the user left it."""

import os
import subprocess
import sys


def test_a_first_run_shows_normcheck_and_no_framework_startup_noise(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-m", "normcheck", "--variants", "input_norm", "--epochs", "1", "--seeds", "1",
                          "--jobs", "1"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("----- Input normalization only [input_norm], seed 0 -----")
    noise = [line for line in out.stderr.splitlines() if not line.startswith("[1/1] input_norm seed 0: ")]
    assert noise == []
