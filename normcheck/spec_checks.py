"""Your own experiment's claims as pytest tests: `parametrize_claims(spec)` in a test file of yours, as scikit-learn's
`parametrize_with_checks` does for estimators, and the plugin's `--normcheck-experiment REF`.

Each claim is one test, its id the claim's. The spec's runs train once per process, for every
variant and seed, the first time a claim asks; every other claim reads the same runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import framework, seeds, spec, spec_fit
from .claims import Claim, Verdict
from .constants import DEFAULT_SEEDS
from .errors import InputError, shown

_RUNS: dict[tuple[int, str, tuple[int, ...]], dict[int, dict[str, spec.SpecRun]]] = {}


def runs_for(s: spec.Spec, seed_list: Sequence[int]) -> dict[int, dict[str, spec.SpecRun]]:
    """Every variant of `s` for each seed, trained in this process once (checked before any training)."""
    backend = framework.select_backend()
    key = (id(s), backend, tuple(seed_list))
    if key not in _RUNS:
        spec_fit.check(s, s.variants)
        _RUNS[key] = {seed: {v: spec_fit.train(s, v, seed) for v in s.variants} for seed in seed_list}
    return _RUNS[key]


def check_experiment(s: spec.Spec, seeds: Sequence[int] | None = None) -> list[Verdict]:
    """Train every variant of `s` for each seed (default: the first five) and judge each of its claims."""
    return [c.verdict() for c in checks(s, seeds)]


class ClaimFailed(AssertionError):
    """A claim of your own experiment does not hold over the seeds run; the message is its verdict line."""


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of a spec, callable: `check()` trains (once per process) and raises ClaimFailed unless it holds."""

    spec: spec.Spec = field(repr=False)
    claim: Claim
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))

    def verdict(self) -> Verdict:
        from .spec_jobs import verdicts  # noqa: PLC0415 -- the CLI's judging, with its errors

        return next(v for v in verdicts(self.spec, runs_for(self.spec, self.seeds)) if v.claim == self.claim.id)

    def __call__(self) -> Verdict:
        found = self.verdict()
        if not found.holds:
            raise ClaimFailed(found.line())
        return found


def checks(s: spec.Spec, seed_list: Sequence[int] | None = None) -> list[ClaimCheck]:
    chosen = tuple(range(DEFAULT_SEEDS)) if seed_list is None else tuple(seeds.check(x) for x in seed_list)
    if not chosen:
        raise InputError(f"seeds=[] for {s.name!r} is invalid; allowed: at least one seed")
    return [ClaimCheck(s, c, chosen) for c in s.claims]


def parametrize_claims(s: spec.Spec, seeds: Sequence[int] | None = None):
    """pytest decorator: one test per claim of `s`, its id in the test id, its argument `check` (call it)."""
    import pytest  # noqa: PLC0415 -- optional: the library works without pytest (as sklearn's checks do)

    if not isinstance(s, spec.Spec):
        raise InputError(f"parametrize_claims({shown(s, 80)}) is invalid; allowed: a normcheck.spec.Spec")
    found = checks(s, seeds)
    return pytest.mark.parametrize("check", found, ids=[c.claim.id for c in found])
