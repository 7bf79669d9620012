#!/usr/bin/env bash
# CI entry: a fresh venv, the README's install + test command, the suite on JAX, then one Keras 2 stack of the version matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${NORMCHECK_VENV:-.venv-ci}
"$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
export CI=true
# README: the test command
pip install -e '.[test,jax]' && pytest -n auto --normcheck-baseline baselines/current.json
# The generated pages that take minutes to re-render (marked slow, so the default run stays quick).
pytest -n auto -m slow tests/docs
# The whole suite on JAX as well (tests that depend on the session's backend run there too), against JAX's baseline.
KERAS_BACKEND=jax pytest -n auto --normcheck-backend jax --normcheck-baseline baselines/jax.json
# Lint and types: ruff and mypy clean.
pip install -q -e '.[lint]' && ruff check . && mypy
# Keras 2 (tf-keras on TF 2.21) in its own venv: a change that breaks a promised stack cannot land.
pip install -q 'nox>=2024.3'
nox -f ci/noxfile.py -s keras2_tfkeras221   # as docs/development.md writes it: one process, JUnit XML on (issue 22)
