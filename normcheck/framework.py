"""Pick the Keras backend before Keras is imported, and say which framework ran.

Keras fixes its backend at first import, so every module that needs Keras asks
`keras()` here instead of importing it at module level.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .errors import InputError, shown


class BackendError(InputError):
    """The backend asked for is unknown, not installed, or differs from the loaded one."""


@dataclass(frozen=True)
class Backend:
    """What normcheck needs to know about a Keras 3 backend; adding one is a line here and an extra in pyproject."""

    name: str
    install: str
    loss_mode: str  # binary cross-entropy after a sigmoid: "logits" (from the logits) or "clipped" (from clipped probabilities)
    whole_epoch_calls: bool  # accepts compile(steps_per_execution > 1)


BACKEND_TRAITS: dict[str, Backend] = {b.name: b for b in (
    Backend("tensorflow", "normcheck", "logits", True),
    Backend("jax", "normcheck[jax]", "clipped", True),
    Backend("torch", "normcheck[torch]", "clipped", False),
)}
BACKENDS: tuple[str, ...] = tuple(BACKEND_TRAITS)


def traits(name: str) -> Backend:
    try:
        return BACKEND_TRAITS[name]
    except KeyError:
        raise BackendError(f"backend {name!r} is unknown; allowed: {', '.join(BACKENDS)}") from None


def legacy_keras() -> bool:
    """True when Keras 2 is wanted through tf-keras (TF_USE_LEGACY_KERAS=1)."""
    return os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")


def default_backend() -> str:
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def check_xla_flags(value: str) -> None:
    """XLA ends the process (exit 1, its message in the start-up log normcheck hides) on flags it cannot read: the
    shape XLA needs, checked first. A well-formed `--xla_` name XLA does not know still ends the process."""
    tokens = value.split()
    bad = [t for t in tokens if t.startswith("-") and not re.fullmatch(r"--xla_\w+(=\S*)?", t)]
    if tokens and not tokens[0].startswith("--") and not os.path.isfile(tokens[0]):
        bad.insert(0, tokens[0])
    if bad:
        raise BackendError(f"XLA_FLAGS={shown(value)} has {shown(bad[0])}; allowed: flags --xla_NAME[=VALUE], "
                           "or a file of them first")


def select_backend(name: str | None = None) -> str:
    """Make `name` the Keras backend (default: $KERAS_BACKEND, else tensorflow)."""
    name = default_backend() if name is None else name
    backend = traits(name)
    check_xla_flags(os.environ.get("XLA_FLAGS", ""))
    if legacy_keras() and name != "tensorflow":
        raise BackendError(f"backend {name!r} needs Keras 3; TF_USE_LEGACY_KERAS=1 runs Keras 2 on tensorflow only")
    if importlib.util.find_spec(name) is None:
        raise BackendError(f"backend {name!r} is not installed: pip install '{backend.install}'")
    loaded = _loaded_backend()
    if loaded is not None and loaded != name:
        raise BackendError(
            f"backend {name!r} asked for, but Keras is already loaded with {loaded!r}; "
            "choose the backend before the first Keras import"
        )
    os.environ["KERAS_BACKEND"] = name
    if loaded is None:
        _limit_threads()
        if name == "jax":
            _PENDING.add("jax")
    return name


_PENDING: set[str] = set()  # settings applied at the first keras(), so choosing a backend imports nothing
_USER_ENV: dict[str, str | None] = {}  # what _limit_threads replaced


def user_environment() -> dict[str, str]:
    """This process's environment as the user set it: without normcheck's thread limits or backend choice.

    For timing other people's code (the question's script) under the conditions it was written for.
    """
    env = dict(os.environ)
    for name, value in _USER_ENV.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env.pop("KERAS_BACKEND", None)
    return env


def _limit_threads() -> None:
    """One compute thread per process unless NORMCHECK_THREADS says otherwise (0: the framework's default).

    This network's ops are far too small to split: measured here, an epoch took
    0.37 s single-threaded vs 0.49 s with TensorFlow's default pool, and 0.13 s vs
    0.21 s on JAX; parallelism comes from worker processes instead. On JAX the
    CPU client also dispatches asynchronously, so Python and XLA each keep a core
    busy handing 1250 tiny steps back and forth: 10 epochs took 1.29-2.27 s wall and
    2.45-3.61 s CPU that way, 1.27-1.39 s wall and the same CPU inline (8 runs each).
    """
    threads = os.environ.get("NORMCHECK_THREADS", "1")
    if threads == "0":
        return
    if not threads.isdigit():
        raise BackendError(f"NORMCHECK_THREADS={threads!r} is invalid; allowed: 0 (framework default) or a thread count")
    wanted = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads}
    if "intra_op_parallelism_threads" not in os.environ.get("XLA_FLAGS", "") and threads == "1":
        wanted["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                               f" intra_op_parallelism_threads={threads}").strip()
    for name, value in wanted.items():
        if name == "XLA_FLAGS" or name not in os.environ:
            _USER_ENV.setdefault(name, os.environ.get(name))
            os.environ[name] = value


def _loaded_backend() -> str | None:
    mod = sys.modules.get("tf_keras" if legacy_keras() else "keras")
    if mod is None or not hasattr(mod, "backend"):
        return None
    return mod.backend.backend()


_QUIET: list[bool] = []  # set by quiet_startup in processes normcheck owns


def quiet_startup() -> None:
    """In a process normcheck owns, keep the frameworks' start-up logs off stderr, unless the user asked for them
    (TF_CPP_MIN_LOG_LEVEL=0).

    TensorFlow 2.19+ writes its CUDA probing and CPU notes from C++ through absl,
    which TF_CPP_MIN_LOG_LEVEL no longer silences (tensorflow/tensorflow#100442):
    a user who sets it to 1-3 asks for fewer lines, so they are hidden as by default.
    The first import of Keras (and with it the backend) runs with stderr's file
    descriptor pointed at a temporary file; if the import fails, what it wrote is shown.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() != "0" and not _QUIET:
        _QUIET.append(True)


@contextlib.contextmanager
def _stderr_captured() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def keras() -> ModuleType:
    """The Keras module in use: tf_keras under TF_USE_LEGACY_KERAS=1 when installed, else keras."""
    name = "tf_keras" if legacy_keras() and importlib.util.find_spec("tf_keras") is not None else "keras"
    if _QUIET and name not in sys.modules:
        with _stderr_captured():
            module = _import_keras(name)
            if hasattr(module, "ops"):  # the first device use logs too
                module.ops.zeros((1,))
            else:
                module.backend.constant(0.0)
            return module
    return _import_keras(name)


def _import_keras(name: str) -> ModuleType:
    if "jax" in _PENDING:
        _PENDING.discard("jax")
        import jax  # noqa: PLC0415 -- a framework: imported once the backend is chosen

        if os.environ.get("NORMCHECK_THREADS", "1") == "1":
            jax.config.update("jax_cpu_enable_async_dispatch", False)
        cache = os.environ.get("NORMCHECK_JAX_CACHE", "")
        if cache not in ("", "0"):
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return importlib.import_module(name)


def to_numpy(tensor) -> np.ndarray:
    """A backend tensor as a NumPy array, on Keras 2 and 3 alike."""
    k = keras()
    if hasattr(k, "ops"):
        return np.asarray(k.ops.convert_to_numpy(tensor))
    return np.asarray(tensor)


def predict(model, x) -> np.ndarray:
    """Inference-mode outputs for all of `x` in one call, as a NumPy array.

    Keras 3's `predict_on_batch` is one compiled call. Keras 2's runs the predict
    function built with the model's `steps_per_execution` and asks the data for
    that many batches (OutOfRangeError), so there the model is called directly.
    """
    k = keras()
    if hasattr(k, "ops"):
        return np.asarray(k.ops.convert_to_numpy(model.predict_on_batch(x)))
    return np.asarray(model(x, training=False))


def whole_batches(x: np.ndarray, y: np.ndarray, batch_size: int) -> dict:
    """`fit`'s data arguments for samples already in their order, cut into whole batches.

    On TensorFlow a `tf.data` source of ready batches, with tf.data's autotuning off:
    for arrays, fit cuts batches in a prefetch thread beside the step loop, and the
    autotuner's own thread keeps running until the iterator is freed, after the last
    epoch. Two workers on two cores pay both in wall time (docs/performance.md).
    Same batches, same history; elsewhere fit gets the arrays.
    """
    if keras().backend.backend() == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415 -- a framework: only on the TensorFlow backend

        def cut(a: np.ndarray) -> np.ndarray:
            return a.reshape(-1, batch_size, *a.shape[1:])

        options = tf.data.Options()
        options.autotune.enabled = False
        return {"x": tf.data.Dataset.from_tensor_slices((cut(x), cut(y))).with_options(options)}
    return {"x": x, "y": y, "batch_size": batch_size}


def stack_text(versions: Mapping[str, str]) -> str:
    """The Keras stack a fingerprint names, for messages: "keras 3.15.1, tensorflow 2.21.0, backend tensorflow"."""
    return ", ".join(f"{k} {versions[k]}" for k in ("keras", *BACKENDS, "backend") if k in versions)


def versions() -> dict[str, str]:
    """The environment fingerprint a Run and a baseline carry."""
    k = keras()
    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": k.__version__,
        "backend": k.backend.backend(),
        "platform": f"{platform.system()}-{platform.machine()}",
    }
    for mod in BACKENDS:
        if sys.modules.get(mod) is not None:
            out[mod] = getattr(sys.modules[mod], "__version__", "?")
    return out


def default_jax_cache() -> str:
    """Where the CLI keeps JAX's compiled programs between runs (NORMCHECK_JAX_CACHE overrides; 0 turns it off).

    XLA compiles 15 small programs for a process's first run (2.0 s measured) and
    about a second's worth per further variant; JAX's persistent cache stores the
    compiled executables, so later processes load them (same programs, same numbers).
    """
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "normcheck", "jax")


def skip_tensorflow() -> None:
    """In a process normcheck owns that runs JAX or torch, make TensorFlow unimportable.

    Keras imports TensorFlow when it is installed only to seed `tf.data`
    (`keras.utils.set_random_seed`), which normcheck never uses on those
    backends; the import cost 5-10 s per process here. Not done by
    `select_backend`, so a user's own process keeps TensorFlow.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" and "tensorflow" not in sys.modules:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
