"""`calibrate --promote` is the one step that changes the shipped spread: checked, and never for a weaker calibration."""

import dataclasses
from pathlib import Path

import pytest

from normcheck import carried, cli, framework, redraw
from normcheck.calibration import spread, store

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"


@pytest.fixture(scope="module")
def backend():
    """The session's backend: the CLI runs in this process, where Keras is already loaded with it."""
    name = framework.default_backend()
    if not store.REPLICA_RUNS.path(CALIBRATION, name).exists() or not redraw.path(name).exists():
        pytest.skip(f"no stored calibration of {name}")
    return name


@pytest.fixture
def package(tmp_path, monkeypatch, backend):
    """A stand-in for the installed package's folder, holding a copy of the shipped spread and carried rates."""
    shipped = tmp_path / "package"
    shipped.mkdir()
    (shipped / f"redraw-{backend}.npz").write_bytes(redraw.path(backend).read_bytes())
    real = redraw.path
    monkeypatch.setattr(redraw, "path", lambda backend, folder=None: real(backend, shipped if folder is None else folder))
    monkeypatch.setattr(carried, "PATH", shipped / carried.PATH.name)
    return shipped


@pytest.fixture(scope="module")
def runs(backend):
    return store.load_replica_runs(store.REPLICA_RUNS.path(CALIBRATION, backend))


def _out(tmp_path, runs, seeds):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / f"redraw-{runs[0].backend}.npz").write_bytes(spread.condensed([r for r in runs if r.seed in seeds]))
    return out


def test_a_calibration_as_large_as_the_shipped_one_is_promoted(package, runs, backend, tmp_path, capsys):
    name = f"redraw-{backend}.npz"
    first = dataclasses.replace(runs[0], loss=[x + 1.0 for x in runs[0].loss])
    (package / name).write_bytes(spread.condensed([first, *[r for r in runs[1:] if r.seed < 1000]]))  # another spread
    out = _out(tmp_path, runs, range(1000))
    assert cli.main(["calibrate", "--promote", "--out", str(out)]) == 0
    assert (package / name).read_bytes() == (out / name).read_bytes()
    assert "replacing 1000 seeds" in capsys.readouterr().out
    assert carried.read(package / carried.PATH.name)["schema"] == carried.SCHEMA
    assert cli.main(["calibrate", "--promote", "--out", str(out)]) == 0
    assert "nothing to promote" in capsys.readouterr().out


def test_a_weaker_calibration_is_refused_and_the_shipped_spread_kept(package, runs, backend, tmp_path, capsys):
    before = (package / f"redraw-{backend}.npz").read_bytes()
    out = _out(tmp_path, runs, range(2))
    assert cli.main(["calibrate", "--promote", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "holds 2 seeds" in err[0]
    assert "at least 1000" in err[0]
    assert (package / f"redraw-{backend}.npz").read_bytes() == before


def test_nothing_to_promote_is_said_in_one_line(package, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["calibrate", "--promote", "--out", str(tmp_path / "empty")]) == 2
    assert "no calibrated spread" in capsys.readouterr().err


def test_a_spread_cut_short_by_real_fit_is_refused_saying_why(package, runs, backend, tmp_path, capsys):
    """A variant taken from real fit keeps only the seeds fit ran: too few of them is a weaker calibration."""
    out = tmp_path / "out"
    out.mkdir()
    variant = "batch_norm_before_activation"
    fit = [r for r in runs if r.variant == variant and r.seed < 10]
    (out / f"redraw-{backend}.npz").write_bytes(spread.condensed(runs, fit, [variant]))
    assert cli.main(["calibrate", "--promote", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds 10 seeds (its batch_norm_before_activation come from real fit" in err
