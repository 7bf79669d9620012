"""Output that cannot be written, and sizes that cannot fit: clear errors, nothing half-written, before training."""

import json
import subprocess
import sys

import pytest

from normcheck import Experiment, claims, cli, files, parallel, seeds, training
from normcheck.errors import InputError
from normcheck.run import Run


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(parallel, "train_matrix", refuse)


def test_a_full_disk_leaves_the_old_file_and_no_temp_file(tmp_path):
    """A file-size limit makes the write fail the way a full disk does (EFBIG instead of ENOSPC)."""
    target = tmp_path / "out.json"
    target.write_text('{"old": true}\n')
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))\n"
        "from normcheck import files\n"
        "from normcheck.errors import InputError\n"
        "try:\n"
        f"    files.write_json({str(target)!r}, {{'data': 'x' * 1000}})\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(2)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stdout.startswith(f"output path {str(target)!r} cannot be written: File too large")
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_path_whose_folder_takes_no_files_is_refused_before_training(capsys, no_training):
    assert cli.main(["--json", "/proc/normcheck.json", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--json '/proc/normcheck.json': folder '/proc' does not take new files" in err[0]


def test_writing_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    real.write_text("{}")
    link.symlink_to(real)
    files.write_json(link, {"new": 1})
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"new": 1}


@pytest.mark.parametrize(("argv", "message"), [
    (["--seeds", "1000000000"], "seeds '1000000000' are invalid"),
    (["--seeds", "4294967295-4294967296"], "seeds '4294967295-4294967296' are invalid"),
    (["sweep", "--per-decade", "1000000000"], "--per-decade 1000000000 is invalid; allowed: 1 to 100"),
    (["--variants", "none,none"], "variant(s) none listed twice; allowed: each variant once"),
])
def test_sizes_that_cannot_fit_are_usage_errors_up_front(argv, message, capsys, no_training):
    assert cli.main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_seed_counts_are_bounded_without_building_the_list():
    with pytest.raises(InputError, match="at most 100000 seeds"):
        seeds.parse("100000000000")
    assert len(seeds.parse("0-99999")) == seeds.MAX_SEEDS


@pytest.mark.parametrize(("field", "value"), [("hidden_units", 10**9), ("n_samples", 10**13), ("epochs", 10**6)])
def test_experiments_that_cannot_fit_in_memory_are_refused(field, value):
    with pytest.raises(InputError, match=f"Experiment.{field}={value} is invalid; allowed: an integer from"):
        Experiment(**{field: value})


def test_a_pytest_seed_range_beyond_the_seed_limit_is_a_usage_error(pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--normcheck-seeds", "4294967296-4294967296")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(("name", "allowed"), [("NORMCHECK_REUSE", "0 or 1"), ("NORMCHECK_FIT_CALLS", "run or epoch")])
def test_training_switches_are_checked_before_training(monkeypatch, capsys, no_training, name, allowed):
    monkeypatch.setenv(name, "maybe")
    with pytest.raises(InputError, match=f"{name}='maybe' is invalid; allowed: {allowed}"):
        training.setting(name)
    assert cli.main(["--quiet"]) == 2
    assert f"{name}='maybe' is invalid" in capsys.readouterr().err


def test_claims_refuse_runs_of_another_experiment():
    short = Run("input_norm", 0, Experiment(epochs=3), [0.1] * 3, [0.99] * 3, [0.1] * 3, [0.99] * 3, [1.0] * 3)
    with pytest.raises(InputError, match="claims are calibrated for the question's experiment"):
        claims.check_all({0: {"input_norm": short}})
