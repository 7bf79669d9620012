"""Input scale and shift, drawn by hypothesis from the domains normcheck/properties.py states once.

`python -m normcheck calibrate --properties` counts the same checks over many draws
(calibration/properties-<backend>.md). The `@example`s are the measured edges: the seed
that came nearest to failing at each side's bound in calibration/sweep-none-edges-tensorflow.csv.
"""

import csv
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from normcheck.properties import BY_ID, Domain, Property

EDGES = Path(__file__).resolve().parents[2] / "calibration" / "sweep-none-edges-tensorflow.csv"


def _nearest_to_failing(max_abs_x: float, key: str, learns: bool) -> int:
    """The seed whose measured `key` at `max_abs_x` lies nearest the claim's bound."""
    with EDGES.open() as fh:
        rows = [r for r in csv.DictReader(fh) if float(r["max_abs_x"]) == max_abs_x]
    score = (lambda r: float(r[key])) if learns else (lambda r: -abs(float(r[key]) - 0.5))
    return int(min(rows, key=score)["seed"])


def _floats(domain: Domain) -> st.SearchStrategy[float]:
    return st.floats(min_value=domain.low, max_value=domain.high).map(domain.rounded)


def _given(prop: Property):
    """hypothesis's @given over the property's domains and seeds."""
    return given(**{name: _floats(d) for name, d in prop.domains.items()},
                 seed=st.integers(prop.seeds.start, prop.seeds.stop - 1))


def _holds(prop: Property, runs, seed: int, **args: float) -> None:
    failure = prop.check(runs.get, args, seed)
    assert failure is None, (args, seed, failure)


INVARIANT = BY_ID["standardized_input_is_invariant_to_scale_and_shift"]
SMALL_RAW = BY_ID["raw_inputs_learn_when_small"]
LARGE_RAW = BY_ID["raw_inputs_do_not_learn_when_large"]
NORMALIZED = BY_ID["input_normalization_learns_at_every_scale"]


@_given(INVARIANT)
@example(scale=1e-3, shift=-1e4, seed=0).via("the smallest scale and the largest shift drawn")
def test_standardized_input_is_invariant_to_scale_and_shift(normcheck_runs, scale, shift, seed):
    _holds(INVARIANT, normcheck_runs, seed, scale=scale, shift=shift)


@_given(SMALL_RAW)
@example(max_abs_x=300.0, seed=_nearest_to_failing(300.0, "eval_accuracy", learns=True)).via("measured edge")
def test_raw_inputs_learn_when_small(normcheck_runs, max_abs_x, seed):
    _holds(SMALL_RAW, normcheck_runs, seed, max_abs_x=max_abs_x)


@_given(LARGE_RAW)
@example(max_abs_x=30000.0, seed=_nearest_to_failing(30000.0, "accuracy", learns=False)).via("measured edge")
def test_raw_inputs_do_not_learn_when_large(normcheck_runs, max_abs_x, seed):
    _holds(LARGE_RAW, normcheck_runs, seed, max_abs_x=max_abs_x)


@_given(NORMALIZED)
@example(max_abs_x=1e8, shift=-1e6, seed=0).via("the largest scale drawn")
def test_input_normalization_learns_at_every_scale(normcheck_runs, max_abs_x, shift, seed):
    _holds(NORMALIZED, normcheck_runs, seed, max_abs_x=max_abs_x, shift=shift)
