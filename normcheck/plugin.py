"""pytest plugin: options, markers and a session cache so each run trains once.

Registered through the `pytest11` entry point, so any project that installs
normcheck gets `--normcheck-*` options and the `normcheck_runs` fixture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from .experiment import SEED_EXPERIMENT, Experiment
from .run import Run

DEFAULT_SEEDS = "5"


def parse_seeds(text: str) -> list[int]:
    """'N' is seeds 0..N-1, 'A-B' a range, '3,7,11' a list."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = [int(t) for t in text.split(",") if t.strip()]
        elif "-" in text.lstrip("-"):
            a, b = text.split("-", 1)
            seeds = list(range(int(a), int(b) + 1))
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise ValueError(f"seeds {text!r} are invalid; allowed: N, A-B or a comma list of integers >= 0") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {text!r} are invalid; allowed: N >= 1, A-B or a comma list of distinct integers >= 0")
    return seeds


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("normcheck")
    group.addoption("--normcheck-seeds", default=os.environ.get("NORMCHECK_SEEDS", DEFAULT_SEEDS),
                    help="seeds every claim must hold for: N (0..N-1), A-B or a list (default 5; env NORMCHECK_SEEDS)")
    group.addoption("--normcheck-backend", default=None,
                    help="Keras backend: tensorflow, jax or torch (default: $KERAS_BACKEND, else tensorflow)")
    group.addoption("--normcheck-baseline", default=None, metavar="PATH",
                    help="compare today's runs against a baseline recorded by `python -m normcheck baseline record`")


def pytest_configure(config: pytest.Config) -> None:
    from . import framework

    config.addinivalue_line("markers", "slow: long sweeps and matrices")
    config.addinivalue_line("markers", "benchmark: epoch-time benchmarks")
    try:
        config.normcheck_seeds = parse_seeds(config.getoption("--normcheck-seeds"))
        config.normcheck_backend = framework.select_backend(config.getoption("--normcheck-backend"))
        mutation = os.environ.get("NORMCHECK_MUTATION")
        if mutation:
            from .mutations import apply

            config.normcheck_mutation = apply(mutation).change
        if config.getoption("--normcheck-baseline"):
            from . import baseline

            baseline.load(config.getoption("--normcheck-baseline"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    header = f"normcheck: backend {config.normcheck_backend}, seeds {config.normcheck_seeds}"
    mutation = getattr(config, "normcheck_mutation", None)
    return header + (f"\nnormcheck: MUTATED KERAS: {mutation}" if mutation else "")


class RunCache:
    """Each (variant, experiment, seed) trains once per session; every test shares the Run."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, Experiment, int], Run] = {}

    def get(self, variant: str, experiment: Experiment = SEED_EXPERIMENT, seed: int = 0) -> Run:
        key = (variant, experiment, seed)
        if key not in self._runs:
            from .training import train

            self._runs[key] = train(variant, experiment, seed)
        return self._runs[key]

    def for_seed(self, seed: int, variants: Sequence[str], experiment: Experiment = SEED_EXPERIMENT) -> dict[str, Run]:
        return {v: self.get(v, experiment, seed) for v in variants}

    def __len__(self) -> int:
        return len(self._runs)


@pytest.fixture(scope="session")
def normcheck_runs() -> RunCache:
    """The session's cache of training runs."""
    return RunCache()


@pytest.fixture(scope="session")
def normcheck_backend(pytestconfig: pytest.Config) -> str:
    return pytestconfig.normcheck_backend


@pytest.fixture(scope="session")
def normcheck_seeds(pytestconfig: pytest.Config) -> list[int]:
    """Every seed a claim must hold for (--normcheck-seeds)."""
    return pytestconfig.normcheck_seeds


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "normcheck_seed" in metafunc.fixturenames:
        seeds = metafunc.config.normcheck_seeds
        metafunc.parametrize("normcheck_seed", seeds, ids=[f"seed={s}" for s in seeds], scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep one seed's tests on one xdist worker (--dist loadgroup), so no run trains twice."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "normcheck_seed" in callspec.params:
            item.add_marker(pytest.mark.xdist_group(f"seed{callspec.params['normcheck_seed']}"))
