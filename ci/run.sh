#!/usr/bin/env bash
# CI entry: a fresh venv, the README's install + test command, nothing else.
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
pip install -e '.[test,jax]' && pytest -n auto
