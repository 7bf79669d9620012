"""The input-scale properties as data: each drawn argument's domain and the check, typed once.

tests/properties draws them with hypothesis, a few examples a run; `python -m normcheck calibrate --properties`
draws many and counts the failures on a healthy stack (calibration/properties-<backend>.md), so a developer's
random draw comes with a counted false-fail rate. The raw-input domains come from `python -m normcheck sweep`
(calibration/sweep-*.csv): each keeps well inside the side of the learnable boundary it states.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .experiment import Experiment
from .run import Run
from .sweep import experiment_for

Train = Callable[[str, Experiment, int], Run]  # (variant, experiment, seed) -> its run: real fit, or a cache of it
SMALL = Experiment(n_samples=2000, epochs=2)  # the invariance's experiment: a scale changes nothing, even early
HISTORIES = ("loss", "accuracy", "eval_loss", "eval_accuracy")


@dataclass(frozen=True)
class Domain:
    """Where one argument is drawn: hypothesis draws it its own way; a counted draw is uniform, or log-uniform
    across the decades of a positive range."""

    low: float
    high: float
    log: bool = False
    digits: int | None = None  # drawn values rounded to this many significant digits

    def rounded(self, value: float) -> float:
        return value if self.digits is None else float(f"{value:.{self.digits}g}")

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return self.rounded(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return self.rounded(float(rng.uniform(self.low, self.high)))


@dataclass(frozen=True)
class Property:
    """One statement over a domain of arguments and seeds; `check` returns why a draw fails, or None."""

    id: str
    statement: str
    domains: Mapping[str, Domain]
    seeds: range
    check: Callable[[Train, Mapping[str, float], int], str | None]

    def draw(self, rng: np.random.Generator) -> tuple[dict[str, float], int]:
        """One counted draw: every argument from its domain, then a seed."""
        args = {name: domain.draw(rng) for name, domain in self.domains.items()}
        return args, int(self.seeds[int(rng.integers(len(self.seeds)))])


def _invariant(train: Train, args: Mapping[str, float], seed: int) -> str | None:
    base = train("input_norm", SMALL, seed)
    moved = train("input_norm", SMALL.replace(scale=args["scale"], shift=args["shift"]), seed)
    for key in HISTORIES:
        a, b = np.asarray(getattr(moved, key)), np.asarray(getattr(base, key))
        if not np.allclose(a, b, rtol=1e-4, atol=1e-5):
            return f"{key} {a.tolist()} differs from {b.tolist()} at scale 1, shift 0"
    return None


def _raw_learns(train: Train, args: Mapping[str, float], seed: int) -> str | None:
    run = train("none", experiment_for(args["max_abs_x"], 1), seed)
    return None if run.eval_accuracy[-1] >= 0.9 else f"inference accuracy {run.eval_accuracy[-1]:.4f} < 0.9"


def _raw_at_chance(train: Train, args: Mapping[str, float], seed: int) -> str | None:
    run = train("none", experiment_for(args["max_abs_x"], 1), seed)
    return None if abs(run.accuracy[-1] - 0.5) <= 0.03 else f"train accuracy {run.accuracy[-1]:.4f} is not 0.5 +- 0.03"


def _normalized_learns(train: Train, args: Mapping[str, float], seed: int) -> str | None:
    run = train("input_norm", experiment_for(args["max_abs_x"], 1).replace(shift=args["shift"]), seed)
    return None if run.eval_accuracy[-1] >= 0.95 else f"inference accuracy {run.eval_accuracy[-1]:.4f} < 0.95"


PROPERTIES = (
    Property("standardized_input_is_invariant_to_scale_and_shift",
             "(a X + b - mean) / std = (X - mean) / std: input normalization gives the same history for the same "
             "seed, within rtol 1e-4, atol 1e-5",
             {"scale": Domain(1e-3, 1e3, log=True, digits=3), "shift": Domain(-1e4, 1e4, digits=3)}, range(1000),
             _invariant),
    Property("raw_inputs_learn_when_small", "raw inputs with max|x| in [0.5, 300] reach inference accuracy >= 0.9 "
             "after one epoch", {"max_abs_x": Domain(0.5, 300.0, log=True)}, range(20), _raw_learns),
    Property("raw_inputs_do_not_learn_when_large", "raw inputs with max|x| in [30000, 1e6] stay within 0.03 of "
             "chance in train mode after one epoch", {"max_abs_x": Domain(30000.0, 1e6, log=True)}, range(20),
             _raw_at_chance),
    Property("input_normalization_learns_at_every_scale", "input normalization reaches inference accuracy >= 0.95 "
             "after one epoch for max|x| in [0.01, 1e8], shifted by up to 1e6",
             {"max_abs_x": Domain(1e-2, 1e8, log=True), "shift": Domain(-1e6, 1e6)}, range(1000),
             _normalized_learns),
)
BY_ID = {p.id: p for p in PROPERTIES}
