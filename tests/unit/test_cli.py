"""The CLI: exit codes, one-line errors, output files."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import normcheck
from normcheck import Experiment, baseline, carried, claims, cli, framework, parallel, plots
from normcheck.calibration import ledger
from normcheck.constants import DEFAULT_SEEDS
from normcheck.run import Run

ROOT = Path(__file__).resolve().parents[2]
PERFORMANCE = f"{ROOT}/docs/performance.md"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0"], "argument --seeds: seeds '0' are invalid; allowed: N (seeds 0..N-1)"),
        (["--seeds", "1,,2"], "argument --seeds: seeds '1,,2' are invalid; allowed: N (seeds 0..N-1)"),
        (["calibrate", "--report", "--out", ""], "calibration folder '' is invalid; allowed: the path of an existing folder"),
        (["--seeds", "x"], "seeds 'x' are invalid"),
        (["--seeds", "4294967295-4294967296"], "seeds '4294967295-4294967296' are invalid"),
        (["--variants", "bn"], "variant 'bn' is unknown; allowed: none, batch_norm"),
        (["--backend", "mxnet"], "invalid choice: 'mxnet'"),
        (["--json", "/nonexistent-dir/x.json"], "folder '/nonexistent-dir' does not exist"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["baseline"], "required: action"),
        (["sweep", "--low", "10", "--high", "1"], "--low 10 / --high 1 are invalid"),
        (["bench", "--seeds", "3"], "unrecognized arguments: --seeds 3"),
        (["sweep", "--jobs", "2"], "unrecognized arguments: --jobs 2"),
        (["--plot", "curves.txt"], "plot path 'curves.txt' has suffix '.txt'; allowed: .png, .svg, .pdf"),
        (["calibrate", "--jobs", "2"], "--jobs 2 applies to --engine fit"),
        (["calibrate", "--engine", "fit", "--holdout", "--order", "fit"], "--holdout runs the question's experiment"),
        (["calibrate", "--epochs", "3"], "--order owned --epochs 3 need --engine fit"),
        (["calibrate", "--cluster", "tcp://127.0.0.1:9"], "--cluster 'tcp://127.0.0.1:9' applies to training with --engine fit"),
        (["--cluster", "foo://bar"], "--cluster 'foo://bar': scheme 'foo' is not one normcheck connects to; allowed: "),
        (["sweep", "--cluster", ""], "--cluster '' is invalid; allowed: the address of a running Dask scheduler"),
        (["baseline", "record", "/tmp/never-written.json", "--cluster", "tcp://127.0.0.1:9"],
         "--cluster 'tcp://127.0.0.1:9': no Dask scheduler answers there"),
        (["calibrate", "--readme", "/nonexistent-dir/README.md"], "/nonexistent-dir/README.md"),
        (["bench", "--results", "docs/bench-jax.json"], "--results renders the speed block; allowed only with --readme"),
        (["bench", "--readme", PERFORMANCE, "--results", "/nonexistent.json"], "bench results '/nonexistent.json' does not exist"),
        (["bench", "--readme", PERFORMANCE, "--results", f"{ROOT}/pyproject.toml"], "pyproject.toml' is not JSON"),
        (["bench", "--readme", PERFORMANCE, "--results", f"{ROOT}/baselines/jax.json"], "holds no speed targets"),
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


def test_run_prints_the_question_table_and_verdicts_and_writes_json_and_markdown(tmp_path, capsys, monkeypatch):
    path = tmp_path / "runs.json"
    markdown = tmp_path / "claims.md"
    step_summary = tmp_path / "summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    code = cli.main(["--variants", "input_norm,input_and_batch_norm", "--seeds", "1", "--json", str(path), "--quiet",
                     "--jobs", "1", "--markdown", str(markdown)])
    out = capsys.readouterr().out
    assert code == 0
    assert "----- Input normalization only [input_norm], seed 0 -----" in out
    assert "0.1518  0.9965" in out
    assert "PASS batch_norm_slows_epoch1_train_accuracy" in out
    assert carried.line(framework.default_backend(), 1, ledger.rule_version()) in out
    data = json.loads(path.read_text())
    assert [r["variant"] for r in data["runs"]] == ["input_norm", "input_and_batch_norm"]
    assert all(v["holds"] for v in data["verdicts"])
    assert not list(tmp_path.glob("*.tmp"))
    table = markdown.read_text()
    assert table.startswith(f"### normcheck: {len(data['verdicts'])}/{len(data['verdicts'])} claims hold")
    assert "| `batch_norm_slows_epoch1_train_accuracy` | holds | " in table
    assert step_summary.read_text() == "earlier step\n" + table


def test_a_failing_claim_exits_1(monkeypatch, capsys):
    strict = dataclasses.replace(claims.get_claim("input_norm_ends_near_perfect"), threshold=1.01)
    monkeypatch.setattr(claims, "CLAIMS", (strict,))
    assert cli.main(["--variants", "input_norm", "--seeds", "1", "--quiet", "--jobs", "1"]) == 1
    assert "FAIL input_norm_ends_near_perfect" in capsys.readouterr().out


@pytest.fixture
def no_training(monkeypatch):
    """For tests of what happens before or around training: training itself is not what they check."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(parallel, "train_matrix", refuse)


@pytest.mark.parametrize("error", [RuntimeError("boom"), ValueError("a framework's own ValueError")])
def test_anything_but_bad_input_is_an_internal_error_with_its_traceback(monkeypatch, capsys, error):
    def crash(*args, **kwargs):
        raise error

    monkeypatch.setattr(parallel, "train_matrix", crash)
    assert cli.main(["--quiet"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert str(error) in err
    assert err.strip().endswith("normcheck: internal error (exit 3): not a bad argument; the traceback above says where")


def test_a_missing_matplotlib_is_bad_input_before_training(monkeypatch, capsys, no_training, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert cli.main(["--plot", str(tmp_path / "c.png")]) == 2
    assert "plots need matplotlib, which is not installed" in capsys.readouterr().err


def test_compare_refuses_a_bad_plot_suffix_before_training(monkeypatch, capsys, no_training):
    def refuse(*args, **kwargs):
        raise AssertionError("fit's order was read")

    monkeypatch.setattr(cli.fitorder, "read_orders_in_fresh_process", refuse)
    assert cli.main(["baseline", "compare", f"{ROOT}/baselines/jax.json", "--plot", "moved.txt", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["normcheck: error: plot path 'moved.txt' has suffix '.txt'; allowed: .png, .svg, .pdf"]
    assert cli.main(["baseline", "compare", f"{ROOT}/baselines/jax.json", "--plot", "m.png", "--json", "m.png"]) == 2
    assert "--plot 'm.png' is the same file as --json" in capsys.readouterr().err


def test_compare_writes_the_plot(monkeypatch, capsys, tmp_path):
    """Today's runs are the baseline's own (no training, no Keras): nothing moved, and the picture is written."""
    pytest.importorskip("matplotlib")
    small = Experiment(epochs=2)
    runs = [Run(v, s, small, [0.3, 0.2], [0.9 + s / 100, 0.95], [0.3, 0.2], [0.9, 0.95], [1.0, 1.0])
            for s in range(3) for v in ("input_norm", "batch_norm")]
    stored = baseline.make(runs, small, range(3), {"backend": "jax"})
    baseline.save(stored, tmp_path / "base.json")
    monkeypatch.setattr(parallel, "train_matrix", lambda *args, **kwargs: stored.matrix())
    monkeypatch.setattr(cli.fitorder, "read_orders_in_fresh_process", lambda backend: None)
    monkeypatch.setattr(framework, "versions", lambda: {"backend": "jax"})
    path = tmp_path / "moved.png"
    assert cli.main(["baseline", "compare", str(tmp_path / "base.json"), "--plot", str(path), "--quiet"]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".png", b"\x89PNG")])
def test_the_plot_format_follows_the_suffix(tmp_path, suffix, magic):
    pytest.importorskip("matplotlib")

    runs = {"input_norm": [Run("input_norm", 0, Experiment(epochs=2), [0.2, 0.1], [0.9, 0.95], [0.2, 0.1], [0.9, 0.95],
                               [1.0, 1.0])]}
    path = tmp_path / f"curves{suffix}"
    plots.learning_curves(runs, path)
    assert path.read_bytes().startswith(magic)


def test_help_shows_each_commands_true_defaults():
    def help_of(*command):
        out = subprocess.run([sys.executable, "-m", "normcheck", *command, "--help"], capture_output=True, text=True,
                             check=True).stdout
        return " ".join(out.split())

    assert "epochs per run (default 1)" in help_of("sweep")
    assert "epochs per run (default 4)" in help_of("bench")
    assert f"(default {cli.available_cores()}: the cores available)" in help_of("run")


def test_version_names_normcheck_and_the_frameworks_and_the_console_script_is_the_same_program():
    narrow = {**os.environ, "COLUMNS": "40"}
    module = subprocess.run([sys.executable, "-m", "normcheck", "--version"], capture_output=True, text=True, check=True,
                            env=narrow)
    assert module.stdout.startswith(f"normcheck {normcheck.__version__} (")
    assert module.stdout.count("\n") == 1, "one line, however many frameworks are listed"
    assert "numpy " in module.stdout
    script = Path(sys.executable).parent / "normcheck"
    if not script.exists():
        pytest.skip("no normcheck console script beside this python (not pip-installed)")
    console = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True, env=narrow)
    assert console.stdout == module.stdout


def test_progress_goes_to_stderr_with_the_time_left(capsys):
    _, run_done = cli._progress(quiet=False)
    run = Run("none", 3, Experiment(epochs=1), [0.7], [0.5], [0.7], [0.5], [1.0])
    run_done(run, 1, 4)
    run_done(run, 4, 4)
    captured = capsys.readouterr()
    assert captured.out == ""
    first, last = captured.err.strip().splitlines()
    assert first.startswith("[1/4] none seed 3: accuracy 0.5000")
    assert "s left" in first
    assert "s in all" in last


def test_the_default_run_is_the_default_seed_count():
    """Every default run carries the same counted rate: the CLI's seeds are the plugin's and a baseline's."""
    assert cli.parse([]).seeds == list(range(DEFAULT_SEEDS))
    assert cli.parse(["mutations"]).seeds == list(range(DEFAULT_SEEDS))
