"""Input scale and shift, drawn by hypothesis.

Regime bounds come from `python -m normcheck sweep` (calibration/sweep-*.csv):
after one epoch, raw inputs with max|x| <= 1000 reached inference accuracy >= 0.94
in every seed, max|x| >= 10000 stayed at chance (train-mode 0.494-0.502); the
boundary lies between 3160 and 10000. Hypothesis draws a decade inside each side;
its `@example`s are the measured edges: the seed that came nearest to failing at
each side's bound in calibration/sweep-none-edges-tensorflow.csv.
"""

import csv
from pathlib import Path

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from normcheck import Experiment
from normcheck.sweep import experiment_for

SMALL = Experiment(n_samples=2000, epochs=2)
EDGES = Path(__file__).resolve().parents[2] / "calibration" / "sweep-none-edges-tensorflow.csv"
SEEDS = st.integers(0, 999)


def _nearest_to_failing(max_abs_x: float, key: str, learns: bool) -> int:
    """The seed whose measured `key` at `max_abs_x` lies nearest the claim's bound."""
    with EDGES.open() as fh:
        rows = [r for r in csv.DictReader(fh) if float(r["max_abs_x"]) == max_abs_x]
    score = (lambda r: float(r[key])) if learns else (lambda r: -abs(float(r[key]) - 0.5))
    return int(min(rows, key=score)["seed"])
scales = st.floats(min_value=1e-3, max_value=1e3).map(lambda v: float(f"{v:.3g}"))
shifts = st.floats(min_value=-1e4, max_value=1e4).map(lambda v: float(f"{v:.3g}"))


@given(scale=scales, shift=shifts, seed=SEEDS)
@example(scale=1e-3, shift=-1e4, seed=0).via("the smallest scale and the largest shift drawn")
def test_standardized_input_is_invariant_to_scale_and_shift(normcheck_runs, scale, shift, seed):
    """(a X + b - mean) / std = (X - mean) / std: the same history, for the same seed."""
    base = normcheck_runs.get("input_norm", SMALL, seed)
    moved = normcheck_runs.get("input_norm", SMALL.replace(scale=scale, shift=shift), seed)
    for key in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
        np.testing.assert_allclose(getattr(moved, key), getattr(base, key), rtol=1e-4, atol=1e-5, err_msg=key)


@given(max_abs_x=st.floats(min_value=0.5, max_value=300.0), seed=st.integers(0, 19))
@example(max_abs_x=300.0, seed=_nearest_to_failing(300.0, "eval_accuracy", learns=True)).via("measured edge")
def test_raw_inputs_learn_when_small(normcheck_runs, max_abs_x, seed):
    run = normcheck_runs.get("none", experiment_for(max_abs_x, 1), seed)
    assert run.eval_accuracy[-1] >= 0.9, (max_abs_x, run.eval_accuracy)


@given(max_abs_x=st.floats(min_value=30000.0, max_value=1e6), seed=st.integers(0, 19))
@example(max_abs_x=30000.0, seed=_nearest_to_failing(30000.0, "accuracy", learns=False)).via("measured edge")
def test_raw_inputs_do_not_learn_when_large(normcheck_runs, max_abs_x, seed):
    run = normcheck_runs.get("none", experiment_for(max_abs_x, 1), seed)
    assert abs(run.accuracy[-1] - 0.5) <= 0.03, (max_abs_x, run.accuracy)


@given(max_abs_x=st.floats(min_value=1e-2, max_value=1e8), shift=st.floats(min_value=-1e6, max_value=1e6), seed=SEEDS)
@example(max_abs_x=1e8, shift=-1e6, seed=0).via("the largest scale drawn")
def test_input_normalization_learns_at_every_scale(normcheck_runs, max_abs_x, shift, seed):
    experiment = experiment_for(max_abs_x, 1).replace(shift=shift)
    run = normcheck_runs.get("input_norm", experiment, seed)
    assert run.eval_accuracy[-1] >= 0.95, (max_abs_x, shift, run.eval_accuracy)
