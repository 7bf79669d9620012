"""Shared by the reliability tests: work that must not start, and the CLI's one error line."""

import pytest

from normcheck import mutations, parallel, sweep, training


@pytest.fixture
def no_work(monkeypatch):
    """Training, sweeping or the mutation suite starting is a failure: the input must be refused first."""

    def refuse(*args, **kwargs):
        raise AssertionError("work started")

    for module, name in ((parallel, "train_matrix"), (training, "train"), (sweep, "sweep"), (mutations, "run_suite")):
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def error_line(capsys):
    """The CLI's stderr so far, checked to be one `normcheck: error: ...` line, and returned."""

    def read() -> str:
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith("normcheck: error: ")
        return err[0]

    return read
