"""pytest plugin: options, markers and a session cache so each run trains once.

Registered through the `pytest11` entry point, so any project that installs
normcheck gets `--normcheck-*` options and the `normcheck_runs` fixture.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import files, seeds
from .experiment import QUESTION_EXPERIMENT, Experiment
from .framework import BACKENDS
from .run import Run

try:
    import fcntl
except ImportError:  # Windows: each xdist worker keeps its own cache
    fcntl = None  # type: ignore[assignment]

DEFAULT_SEEDS = "5"


@dataclass
class NormcheckSession:
    """What the options chose for this pytest session; the hooks below only read and write this."""

    seeds: list[int]
    backend: str
    mutation: str | None = None
    run_dir: str | None = None  # pytest-xdist: the folder every worker shares runs through


SESSION = pytest.StashKey[NormcheckSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("normcheck")
    group.addoption("--normcheck-seeds", default=os.environ.get("NORMCHECK_SEEDS", DEFAULT_SEEDS),
                    help=f"seeds every claim must hold for: {seeds.SYNTAX} (default 5; env NORMCHECK_SEEDS)")
    group.addoption("--normcheck-backend", default=None,
                    help=f"Keras backend: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else tensorflow)")
    group.addoption("--normcheck-baseline", default=None, metavar="PATH",
                    help="compare today's runs against a baseline recorded by `python -m normcheck baseline record`")


def pytest_configure(config: pytest.Config) -> None:
    from . import framework

    config.addinivalue_line("markers", "slow: long sweeps and matrices")
    config.addinivalue_line("markers", "benchmark: epoch-time benchmarks")
    try:
        session = NormcheckSession(seeds.parse(config.getoption("--normcheck-seeds")),
                                   framework.select_backend(config.getoption("--normcheck-backend")))
        from .mutations import apply_from_environment

        mutation = apply_from_environment()
        session.mutation = mutation.change if mutation is not None else None
        config.stash[SESSION] = session
        if config.getoption("--normcheck-baseline"):
            from . import baseline

            baseline.load(config.getoption("--normcheck-baseline"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist controller: every worker gets the session's shared run folder."""
    session = node.config.stash[SESSION]
    if session.run_dir is None:
        session.run_dir = tempfile.mkdtemp(prefix="normcheck-runs-")
    node.workerinput["normcheck_run_dir"] = session.run_dir


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The shared cache promises each run trains once; a run trained twice fails the session."""
    directory = session.config.stash[SESSION].run_dir
    if directory is not None and trained_twice(directory) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    directory = config.stash[SESSION].run_dir
    if directory is None:
        return
    counts = trained_counts(directory)
    twice = sorted(k for k, n in counts.items() if n > 1)
    terminalreporter.write_line(f"normcheck: {counts.total()} runs trained across workers, {len(twice)} of them twice"
                                + (f": {twice}" if twice else ""))


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash[SESSION].run_dir if SESSION in config.stash else None
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    session = config.stash[SESSION]
    header = f"normcheck: backend {session.backend}, seeds {session.seeds}"
    return header + (f"\nnormcheck: MUTATED KERAS: {session.mutation}" if session.mutation else "")


class RunCache:
    """Each (variant, experiment, seed) trains once per session; every test shares the Run.

    Given a folder (pytest-xdist: one per session, shared by all workers), the
    first process that asks for a run trains it under a file lock and writes it
    there; the others wait for the lock and read it.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self._runs: dict[tuple[str, Experiment, int], Run] = {}
        self.directory = Path(directory) if directory is not None and fcntl is not None else None
        self.trained = 0

    def get(self, variant: str, experiment: Experiment = QUESTION_EXPERIMENT, seed: int = 0) -> Run:
        key = (variant, experiment, seed)
        if key not in self._runs:
            self._runs[key] = self._train(*key) if self.directory is None else self._shared(*key)
        return self._runs[key]

    def for_seed(self, seed: int, variants: Sequence[str], experiment: Experiment = QUESTION_EXPERIMENT) -> dict[str, Run]:
        return {v: self.get(v, experiment, seed) for v in variants}

    def _train(self, variant: str, experiment: Experiment, seed: int) -> Run:
        from .training import train

        self.trained += 1
        return train(variant, experiment, seed)

    def _shared(self, variant: str, experiment: Experiment, seed: int) -> Run:
        assert self.directory is not None
        text = json.dumps([variant, experiment.to_dict(), seed], sort_keys=True)
        name = hashlib.sha256(text.encode()).hexdigest()[:32]
        path = self.directory / f"{name}.json"
        with open(self.directory / f"{name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.exists():
                return Run.from_json(path.read_text())
            run = self._train(variant, experiment, seed)
            files.write_text(path, run.to_json())
            with open(self.directory / TRAINED_LOG, "a") as log:
                log.write(f"{name} {os.getpid()} {text}\n")
            return run


TRAINED_LOG = "trained.log"


def trained_counts(directory: str | Path) -> Counter[str]:
    """How many processes trained each run, from the shared folder's log."""
    log = Path(directory) / TRAINED_LOG
    return Counter(line.split(" ", 1)[0] for line in (log.read_text().splitlines() if log.exists() else []))


def trained_twice(directory: str | Path) -> list[str]:
    """Runs the log says more than one process trained (the shared cache's promise is none)."""
    return sorted(k for k, n in trained_counts(directory).items() if n > 1)


@pytest.fixture(scope="session")
def normcheck_runs(pytestconfig: pytest.Config) -> RunCache:
    """The session's cache of training runs, shared by pytest-xdist workers on the controller's machine."""
    shared = getattr(pytestconfig, "workerinput", {}).get("normcheck_run_dir")
    return RunCache(shared if shared is not None and Path(shared).is_dir() else None)


@pytest.fixture(scope="session")
def normcheck_backend(pytestconfig: pytest.Config) -> str:
    return pytestconfig.stash[SESSION].backend


@pytest.fixture(scope="session")
def normcheck_seeds(pytestconfig: pytest.Config) -> list[int]:
    """Every seed a claim must hold for (--normcheck-seeds)."""
    return pytestconfig.stash[SESSION].seeds


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "normcheck_seed" in metafunc.fixturenames:
        chosen = metafunc.config.stash[SESSION].seeds
        metafunc.parametrize("normcheck_seed", chosen, ids=[f"seed={s}" for s in chosen], scope="session")
