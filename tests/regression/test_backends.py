"""Cross-backend agreement: same initial weights, same batch order, every backend's real fit.

Each backend traces in its own process. TensorFlow computes binary cross-entropy
after a sigmoid from logits, JAX and torch from probabilities clipped to
[1e-7, 1 - 1e-7]; the NumPy oracle runs in the matching mode, and over these 300
steps no probability reaches the clip, so the two modes must agree too.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from normcheck import QUESTION_EXPERIMENT, VARIANTS, framework, oracle, traces
from normcheck.data import dataset

STEPS = 300
RTOL, ATOL = 2e-3, 2e-5


def _needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"pip install 'normcheck[{module}]'")


OTHERS = [pytest.param(b, marks=[_needs(b), *([pytest.mark.torch] if b == "torch" else [])])
          for b in framework.BACKENDS if b != "tensorflow"]


def _trace(backend, variant, out, init=None):
    cmd = [sys.executable, "-m", "normcheck.traces", backend, variant, str(STEPS), str(out)]
    subprocess.run([*cmd, str(init)] if init else cmd, check=True, capture_output=True, timeout=600)
    return traces.load(str(out))


@pytest.fixture(scope="module")
def tf_traces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tf")
    return {v: (_trace("tensorflow", v, folder / f"{v}.npz"), folder / f"{v}.npz") for v in ("input_norm", "input_and_batch_norm")}


@pytest.mark.parametrize("variant", ["input_norm", "input_and_batch_norm"])
@pytest.mark.parametrize("backend", OTHERS)
def test_backend_follows_tensorflow_and_the_oracle(tf_traces, tmp_path, backend, variant):
    tf, tf_path = tf_traces[variant]
    other = _trace(backend, variant, tmp_path / "other.npz", init=tf_path)
    for name in tf["initial"]:
        np.testing.assert_array_equal(other["initial"][name], tf["initial"][name], err_msg=f"initial {name}")
    np.testing.assert_array_equal(other["order"], tf["order"])
    diverged = traces.first_divergence(tf["weights"], other["weights"], RTOL, ATOL)
    assert diverged is None, f"{backend} parts from tensorflow at step {diverged[0]}, {diverged[1]}: max diff {diverged[2]:.3g}"
    np.testing.assert_allclose(other["losses"], tf["losses"], rtol=1e-3, atol=1e-4, err_msg="per-step loss vs tensorflow")
    order = other["order"]
    x, y = dataset(QUESTION_EXPERIMENT, VARIANTS[variant].input_norm)
    expected = oracle.train_steps(variant, other["initial"], x, y, order, 20, loss_mode=framework.traits(backend).loss_mode)
    diverged = traces.first_divergence(expected.weights, other["weights"], RTOL, ATOL)
    assert diverged is None, f"{backend} parts from the oracle at step {diverged[0]}, {diverged[1]}: max diff {diverged[2]:.3g}"
    for label, got, want in traces.adam_slot_pairs(other["slots"], expected, variant):
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-7, err_msg=f"{backend} {label}")
