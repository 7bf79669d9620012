"""The version-matrix table in docs/matrix.md is rendered from ci/matrix/*.json, never typed."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "matrix.md"


@pytest.fixture(scope="module")
def matrix():
    spec = importlib.util.spec_from_file_location("ci_matrix", ROOT / "ci" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_is_the_rendering_of_the_recorded_results(matrix):
    assert matrix.table_in(PAGE.read_text()) == matrix.render(), (
        "the matrix table is stale: run `python ci/matrix.py render --write docs/matrix.md`")


def test_every_nox_session_has_a_recorded_result(matrix):
    text = (ROOT / "ci" / "noxfile.py").read_text()
    recorded = {p.stem for p in (ROOT / "ci" / "matrix").glob("*.json")}
    for name in ("keras2_tf215", "keras2_tfkeras221", "keras3_tf216", "keras3_tf221", "jax"):
        assert f'"{name}"' in text or f"def {name}(" in text
        assert name in recorded


@pytest.fixture
def results(tmp_path):
    shutil.copytree(ROOT / "ci" / "matrix", tmp_path / "m")
    return tmp_path / "m"


def test_a_changed_result_makes_the_table_stale(matrix, results):
    path = sorted(results.glob("*.json"))[0]
    data = json.loads(path.read_text())
    data["claims_held"] -= 1
    path.write_text(json.dumps(data))
    assert matrix.render(results) != matrix.table_in(PAGE.read_text())


def test_a_crashed_cli_is_a_failed_session(matrix, results):
    path = sorted(results.glob("*.json"))[0]
    data = json.loads(path.read_text())
    data.update(cli_exit=3, claims_held=0, claims=0)
    path.write_text(json.dumps(data))
    row = next(line for line in matrix.render(results).splitlines() if f"`{data['session']}`" in line)
    assert "(exit 3)" in row
    assert row.endswith("**failed** |")


def test_check_exits_1_on_a_stale_page(matrix, tmp_path, capsys):
    readme = tmp_path / "matrix.md"
    readme.write_text(f"intro\n{matrix.START}\n| stale |\n{matrix.END}\nrest\n")
    assert matrix.main(["render", str(readme), "--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert matrix.main(["render", str(readme), "--write"]) == 0
    assert matrix.main(["render", str(readme), "--check"]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n")
    assert text.endswith("\nrest\n")
