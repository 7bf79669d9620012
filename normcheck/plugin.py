"""pytest plugin: `--normcheck-*` options, fixtures and a session cache so each run trains once.

Registered through the `pytest11` entry point (name `normcheck`, so `-p no:normcheck`
turns it off). It is a guest in every pytest session of an environment where
normcheck is installed: until a `--normcheck-*` option is given or a test uses one
of its fixtures, it chooses no backend, sets no environment variable, adds no
marker, header or summary line and creates no folder. Hooks stay thin and hand
off to one `NormcheckSession` kept in `config.stash`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import baseline, files, framework, seeds, spec, spec_checks
from .constants import BACKEND_OPTION, BASELINE_OPTION, DEFAULT_SEEDS, EXPERIMENT_OPTION, SEEDS_ENV, SEEDS_OPTION
from .experiment import QUESTION_EXPERIMENT, Experiment
from .framework import BACKENDS
from .mutations import apply_from_environment
from .run import Run
from .training import train

try:
    import fcntl
except ImportError:  # Windows: each xdist worker keeps its own cache
    fcntl = None  # type: ignore[assignment]

OPTIONS = (SEEDS_OPTION, BACKEND_OPTION, BASELINE_OPTION, EXPERIMENT_OPTION)


@dataclass
class NormcheckSession:
    """What the options chose for this pytest session; `backend` is None until normcheck is asked for."""

    seeds_text: str
    backend: str | None = None
    seeds: list[int] = field(default_factory=list)
    mutation: str | None = None
    run_dir: str | None = None  # pytest-xdist: the folder every worker shares runs through, made on first use
    experiment: spec.Spec | None = None  # --normcheck-experiment: your own experiment, its claims collected as tests

    def activate(self, config: pytest.Config) -> None:
        """Parse the seeds, choose the backend (and its thread settings), apply NORMCHECK_MUTATION, check the baseline."""
        if self.backend is not None:
            return
        try:
            self.seeds = seeds.parse(self.seeds_text)
            self.backend = framework.select_backend(config.getoption(BACKEND_OPTION))
            mutation = apply_from_environment()
            self.mutation = mutation.change if mutation is not None else None
            if config.getoption(BASELINE_OPTION):
                baseline.load(config.getoption(BASELINE_OPTION))
            if config.getoption(EXPERIMENT_OPTION):
                self.experiment = spec.load(config.getoption(EXPERIMENT_OPTION))
        except ValueError as exc:
            self.backend = None
            raise pytest.UsageError(str(exc)) from None


SESSION = pytest.StashKey[NormcheckSession]()
FIXTURES = frozenset({"normcheck_runs", "normcheck_backend", "normcheck_seeds", "normcheck_seed"})


def activate(config: pytest.Config) -> NormcheckSession:
    """Set normcheck up for this session: called by its options, its fixtures, and normcheck's own conftest."""
    session = config.stash[SESSION]
    session.activate(config)
    return session


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("normcheck")
    group.addoption(SEEDS_OPTION, default=None,
                    help=f"seeds every claim must hold for: {seeds.SYNTAX} (default {DEFAULT_SEEDS}; env {SEEDS_ENV})")
    group.addoption(BACKEND_OPTION, default=None,
                    help=f"Keras backend: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else tensorflow)")
    group.addoption(BASELINE_OPTION, default=None, metavar="PATH",
                    help="compare today's runs against a baseline recorded by `python -m normcheck baseline record`")
    group.addoption(EXPERIMENT_OPTION, default=None, metavar="REF",
                    help="also test your own experiment's claims, one test each: a normcheck.spec.Spec named as "
                         "pkg.module:NAME or path/file.py:NAME (docs/experiments.md)")


def pytest_configure(config: pytest.Config) -> None:
    given = [config.getoption(name) for name in OPTIONS]
    config.stash[SESSION] = NormcheckSession(given[0] or os.environ.get(SEEDS_ENV) or str(DEFAULT_SEEDS))
    if any(value is not None for value in given):
        activate(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in items):
        activate(config)
    experiment = config.stash[SESSION].experiment
    if experiment is not None:
        chosen = config.stash[SESSION].seeds
        added = [ExperimentClaim.from_parent(session, name=f"{experiment.name}::{c.claim.id}", check=c)
                 for c in spec_checks.checks(experiment, chosen)]
        items.extend(added)
        config.hook.pytest_collectreport(report=pytest.CollectReport(
            f"{EXPERIMENT_OPTION}={experiment.name}", "passed", None, [*added]))


class ExperimentClaim(pytest.Item):
    """One claim of --normcheck-experiment's spec: trains the spec's runs once per process, then judges the claim."""

    def __init__(self, *, check: spec_checks.ClaimCheck, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        self.check()

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, spec_checks.ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{EXPERIMENT_OPTION} {self.name}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist controller: every worker gets the session's shared run folder."""
    session = node.config.stash[SESSION]
    if session.run_dir is None:
        session.run_dir = os.path.join(tempfile.gettempdir(), f"normcheck-runs-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    node.workerinput["normcheck_run_dir"] = session.run_dir


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The shared cache promises each run trains once; a run trained twice fails the session."""
    directory = _made(session.config)
    if directory is not None and trained_twice(directory) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    directory = _made(config)
    if directory is None:
        return
    counts = trained_counts(directory)
    twice = sorted(k for k, n in counts.items() if n > 1)
    terminalreporter.write_line(f"normcheck: {counts.total()} runs trained across workers, {len(twice)} of them twice"
                                + (f": {twice}" if twice else ""))


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = _made(config) if SESSION in config.stash else None
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """pytest-benchmark: a saved benchmark names the Keras stack it timed (only where normcheck was used)."""
    session = config.stash.get(SESSION, None)
    if session is not None and session.backend is not None:
        machine_info["normcheck"] = framework.versions()


def _made(config: pytest.Config) -> str | None:
    """The shared run folder, if a worker made it."""
    directory = config.stash[SESSION].run_dir
    return directory if directory is not None and os.path.isdir(directory) else None


def pytest_report_header(config: pytest.Config) -> str | None:
    session = config.stash[SESSION]
    if session.backend is None:
        return None
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
    activate(pytestconfig)
    shared = getattr(pytestconfig, "workerinput", {}).get("normcheck_run_dir")
    if shared is not None:
        Path(shared).mkdir(parents=True, exist_ok=True)
    return RunCache(shared)


@pytest.fixture(scope="session")
def normcheck_backend(pytestconfig: pytest.Config) -> str:
    backend = activate(pytestconfig).backend
    assert backend is not None
    return backend


@pytest.fixture(scope="session")
def normcheck_seeds(pytestconfig: pytest.Config) -> list[int]:
    """Every seed a claim must hold for (--normcheck-seeds)."""
    return activate(pytestconfig).seeds


@pytest.fixture
def normcheck_property(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    """Record a (name, value) property of the calling test, as `<property>` of its testcase in JUnit XML.

    Works with and without pytest-xdist and under every `junit_family`: pytest's `record_property`
    warns under xunit2 (pytest's default), which `filterwarnings = error` turns into an error.
    Chooses no backend: the plugin stays passive for a test that only records.
    """

    def record(name: str, value: object) -> None:
        request.node.user_properties.append((name, value))

    return record


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "normcheck_seed" in metafunc.fixturenames:
        chosen = activate(metafunc.config).seeds
        metafunc.parametrize("normcheck_seed", chosen, ids=[f"seed={s}" for s in chosen], scope="session")
