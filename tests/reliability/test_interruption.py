"""Ctrl-C, SIGTERM and a killed parent while workers train: everything ends within seconds, nothing half-written."""

import glob
import importlib.util
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

BACKEND = "jax" if importlib.util.find_spec("jax") is not None and not os.environ.get("TF_USE_LEGACY_KERAS") else "tensorflow"


# `python -m normcheck`, with Ctrl-C as a terminal delivers it: a suite started in the background (`cmd &`,
# nohup) passes SIGINT on ignored, and Python rightly keeps it so.
CLI_WITH_CTRL_C = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('normcheck', run_name='__main__', alter_sys=True)")


def _tagged(tag: str) -> list[int]:
    """Processes whose environment carries `tag`: the CLI and every worker it started."""
    found = []
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as fh:
                if tag.encode() in fh.read():
                    found.append(int(path.split("/")[2]))
        except OSError:
            continue
    return found


def _start(tmp_path, epochs=10):
    tag = f"NORMCHECK_TEST_TAG={uuid.uuid4().hex}"
    env = dict(os.environ, NORMCHECK_TEST_TAG=tag.split("=", 1)[1])
    out = tmp_path / "runs.json"
    argv = [sys.executable, "-c", CLI_WITH_CTRL_C, "--backend", BACKEND, "--seeds", "0-19", "--jobs", "2",
            "--epochs", str(epochs), "--quiet", "--json", str(out)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(_tagged(tag)) < 3:  # the CLI and two workers
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.2)
    time.sleep(2)
    return proc, tag, out


def _gone(tag: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while _tagged(tag):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_ends_the_cli_and_its_workers_within_seconds(tmp_path, sig, code, said):
    proc, tag, out = _start(tmp_path)
    assert not out.exists()
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == code
    assert err.strip().splitlines()[-1] == f"normcheck: {said}"
    assert _gone(tag, within=5), f"workers still alive: {_tagged(tag)}"
    assert not out.exists(), "no partial output"
    assert list(tmp_path.iterdir()) == []


def test_workers_leave_when_the_parent_is_killed(tmp_path):
    """Long runs keep the workers busy, so only their own watch on the parent can end them in time."""
    proc, tag, _ = _start(tmp_path, epochs=60)
    proc.kill()
    proc.communicate(timeout=30)
    assert _gone(tag, within=5), f"orphaned workers: {_tagged(tag)}"
