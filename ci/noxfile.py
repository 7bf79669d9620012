"""Version matrix: the suite on each TensorFlow/Keras generation, each in its own venv.

    nox -f ci/noxfile.py                       # the supported stacks (the default sessions)
    nox -f ci/noxfile.py -s keras2_tf215       # one
    nox -f ci/noxfile.py -s newest nightly     # the upgrade radar: latest releases and nightlies
    nox -f ci/noxfile.py -s python             # Python 3.10 and 3.12 (each must be on PATH as python3.X)
    nox -f ci/noxfile.py -s thorough           # the hypothesis properties with many more examples
    nox -f ci/noxfile.py -s jax_suite          # the whole suite on JAX (README's `pytest --normcheck-backend jax`)

Each session runs `python -m normcheck` and the suite against the baseline recorded
on a stack of its kind (baselines/current.json: Keras 3 on TensorFlow, keras2.json: tf-keras 2.21,
jax.json) through ci/matrix.py, which writes
ci/matrix/<session>.json and fails the session unless both exited 0. The table in
docs/matrix.md is rendered from those files: `python ci/matrix.py render --write docs/matrix.md`.
"""

import os

import nox
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["keras2_tf215", "keras2_tfkeras221", "keras3_tf216", "keras3_tf221", "jax"]

with open(os.path.join(ROOT, "pyproject.toml"), "rb") as _fh:
    TEST_DEPS = tomllib.load(_fh)["project"]["optional-dependencies"]["test"]

SUITE = ["-m", "unit or upgrade"]
MATRIX = {  # name: (pins, environment, baseline)
    "keras2_tf215": (["tensorflow==2.15.1", "numpy<2"], {}, "keras2.json"),
    "keras2_tfkeras221": (["tensorflow==2.21.0", "tf-keras==2.21.0"], {"TF_USE_LEGACY_KERAS": "1"}, "keras2.json"),
    "keras3_tf216": (["tensorflow==2.16.2", "numpy<2"], {}, "current.json"),
    "keras3_tf221": (["tensorflow==2.21.0", "keras==3.15.1"], {}, "current.json"),
}


BASELINES = {"tensorflow": "current.json", "jax": "jax.json"}


def _suite(session, env, *extra, baseline=None):
    """The CLI and the suite through ci/matrix.py, which records ci/matrix/<session>.json; exit 0 only.

    Each stack is compared against a baseline of its own kind: `fit`'s own order differs between
    Keras 2 and Keras 3 on TensorFlow and between backends (a genuine difference that compare reports
    and fails on), while the numbers alone would pass (calibration/compare.md).
    """
    session.chdir(ROOT)
    baseline = os.path.join(ROOT, "baselines", baseline or BASELINES[env.get("KERAS_BACKEND", "tensorflow")])
    args = ["-p", "no:cacheprovider", *SUITE]  # seeds: the plugin's default, or NORMCHECK_SEEDS (inherited)
    if os.path.exists(baseline):
        args += ["--normcheck-baseline", baseline]
    session.run("python", os.path.join(ROOT, "ci", "matrix.py"), "session", session.name, *args, *extra,
                *session.posargs, env=env)


def _make(name, pins, env, baseline):
    @nox.session(name=name, python="3.11")
    def _session(session):
        session.install(*pins, "-e", f"{ROOT}[test]")
        _suite(session, env, baseline=baseline)

    return _session


for _name, (_pins, _env, _baseline) in MATRIX.items():
    globals()[_name] = _make(_name, _pins, _env, _baseline)


@nox.session(python="3.11")
def jax(session):
    """Keras 3 on JAX: the default suite with --normcheck-backend jax."""
    session.install("-e", f"{ROOT}[test,jax]")
    _suite(session, {"KERAS_BACKEND": "jax"})


@nox.session(python="3.11")
def jax_suite(session):
    """The whole suite on JAX (every folder, not only `unit or upgrade`), as `pytest --normcheck-backend jax` runs it:
    the tests that depend on the session's backend run on JAX too. Two workers; about four minutes on two cores."""
    session.install("-e", f"{ROOT}[test,jax]")
    session.chdir(ROOT)
    session.run("pytest", "-n", os.environ.get("NORMCHECK_WORKERS", "2"), "-p", "no:cacheprovider",
                "--normcheck-backend", "jax", "--normcheck-baseline", os.path.join(ROOT, "baselines", BASELINES["jax"]),
                *session.posargs, env={"KERAS_BACKEND": "jax"})


@nox.session(python="3.11")
def torch(session):
    """Keras 3 on torch (CPU wheel, ~5 GB with CUDA libraries otherwise): kept out of the default CI run."""
    session.install("torch==2.13.0", "-e", f"{ROOT}[test,jax]")
    session.chdir(ROOT)
    session.run("python", os.path.join(ROOT, "ci", "matrix.py"), "session", session.name, "-p", "no:cacheprovider",
                "--normcheck-seeds", os.environ.get("NORMCHECK_SEEDS", "2"), "-m", "(unit or upgrade) and not slow",
                *session.posargs, env={"KERAS_BACKEND": "torch"})


@nox.session(python="3.11")
def newest(session):
    """Upgrade radar: the latest releases of TensorFlow, Keras and JAX, compared with today's baseline."""
    session.install("--upgrade", "tensorflow", "keras", "jax", "-e", f"{ROOT}[test,jax]")
    _suite(session, {})


@nox.session(python="3.11")
def nightly(session):
    """Upgrade radar: tf-nightly + keras-nightly. normcheck goes in without its dependencies, so pip does not
    also pull the stable `tensorflow` beside tf-nightly."""
    session.install("--upgrade", "--pre", "tf-nightly", "keras-nightly", *TEST_DEPS)
    session.install("--no-deps", "-e", ROOT)
    _suite(session, {})


@nox.session(python="3.11")
def thorough(session):
    """The hypothesis properties with the `thorough` profile (more examples, each a real training run)."""
    session.install("-e", f"{ROOT}[test,jax]")
    session.chdir(ROOT)
    session.run("pytest", "tests/properties", "-p", "no:cacheprovider", "--hypothesis-profile", "thorough",
                *session.posargs)


@nox.session(python=["3.10", "3.12"])
def python(session):
    """The Pythons requires-python promises beside 3.11, on the default stack."""
    session.install("-e", f"{ROOT}[test]")
    _suite(session, {})
