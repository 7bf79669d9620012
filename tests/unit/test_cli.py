"""The CLI: exit codes, one-line errors, output files."""

import dataclasses
import json
import subprocess
import sys

import pytest

from normcheck import claims, cli, framework


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0"], "argument --seeds: seeds '0' are invalid; allowed: N (seeds 0..N-1)"),
        (["--seeds", "x"], "seeds 'x' are invalid"),
        (["--seeds", "4294967295-4294967296"], "seeds '4294967295-4294967296' are invalid"),
        (["--variants", "bn"], "variant 'bn' is unknown; allowed: none, batch_norm"),
        (["--backend", "mxnet"], "invalid choice: 'mxnet'"),
        (["--json", "/nonexistent-dir/x.json"], "folder '/nonexistent-dir' does not exist"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["baseline"], "required: action"),
        (["sweep", "--low", "10", "--high", "1"], "--low 10 / --high 1 are invalid"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("normcheck: error: ")
    assert message in err[0]


def test_json_to_a_directory_is_refused(tmp_path, capsys):
    assert cli.main(["--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_help_exits_0():
    out = subprocess.run([sys.executable, "-m", "normcheck", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert "sweep" in out.stdout
    assert "baseline" in out.stdout


@pytest.mark.skipif(framework.legacy_keras(), reason="Keras 2 runs on tensorflow only")
def test_uninstalled_backend_names_the_extra():
    out = subprocess.run([sys.executable, "-c", "import sys, importlib.util as u; "
                          "u.find_spec = lambda name, *a: None if name == 'jax' else object(); "
                          "from normcheck.cli import main; sys.exit(main(['--backend', 'jax']))"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip() == "normcheck: error: backend 'jax' is not installed: pip install 'normcheck[jax]'"


def test_run_prints_the_seed_table_and_verdicts_and_writes_json(tmp_path, capsys):
    path = tmp_path / "runs.json"
    code = cli.main(["--variants", "input_norm,input_and_batch_norm", "--json", str(path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "----- Input normalization only [input_norm], seed 0 -----" in out
    assert "0.1518  0.9965" in out
    assert "PASS batch_norm_slows_epoch1_train_accuracy" in out
    data = json.loads(path.read_text())
    assert [r["variant"] for r in data["runs"]] == ["input_norm", "input_and_batch_norm"]
    assert all(v["holds"] for v in data["verdicts"])
    assert not list(tmp_path.glob("*.tmp"))


def test_a_failing_claim_exits_1(monkeypatch, capsys):
    strict = dataclasses.replace(claims.get_claim("input_norm_ends_near_perfect"), threshold=1.01)
    monkeypatch.setattr(claims, "CLAIMS", (strict,))
    assert cli.main(["--variants", "input_norm", "--quiet"]) == 1
    assert "FAIL input_norm_ends_near_perfect" in capsys.readouterr().out
