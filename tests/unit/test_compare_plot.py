"""`baseline compare --plot`: the picture of what moved, drawn from a Comparison built without training."""

import dataclasses

import pytest

from normcheck import Experiment, baseline, plots
from normcheck.run import Run

SMALL = Experiment(epochs=3)  # not the question's experiment: tolerances come from the baseline's own seeds
SEEDS = range(5)
VARIANTS = ("input_norm", "batch_norm")


def _run(variant: str, seed: int) -> Run:
    jitter = 0.002 * (seed - 2)
    accuracy = [0.90 + jitter, 0.95 + jitter, 0.97 + jitter]
    return Run(variant, seed, SMALL, [0.3 - a / 4 for a in accuracy], accuracy, [0.2, 0.1, 0.05],
               [a + 0.01 for a in accuracy], [1.0, 1.0, 1.0])


@pytest.fixture
def moved():
    """batch_norm's epoch-2 train-mode accuracy 0.1 lower in every seed; every other number as recorded."""
    runs = [_run(v, s) for s in SEEDS for v in VARIANTS]
    base = baseline.make(runs, SMALL, SEEDS, {"backend": "jax"})
    today = {s: {v: _run(v, s) for v in VARIANTS} for s in SEEDS}
    for s in SEEDS:
        r = today[s]["batch_norm"]
        today[s]["batch_norm"] = dataclasses.replace(r, accuracy=[r.accuracy[0], r.accuracy[1] - 0.1, r.accuracy[2]])
    return baseline.compare(base, today, {"backend": "jax"})


def test_the_moved_cell_is_marked_and_the_picture_is_a_png(moved, tmp_path):
    pytest.importorskip("matplotlib")
    assert moved.regime == "redrawn"
    path = tmp_path / "compare.png"
    marked = plots.comparison(moved, path)
    assert [(c.variant, c.metric, c.epoch) for c in marked] == [("batch_norm", "accuracy", 2)]
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_comparison_where_nothing_moved_marks_nothing(moved, tmp_path):
    pytest.importorskip("matplotlib")
    unchanged = dataclasses.replace(moved, cells=[c for c in moved.cells if c.ok])
    assert plots.comparison(unchanged, tmp_path / "compare.svg") == []
    assert (tmp_path / "compare.svg").read_bytes().startswith(b"<?xml")
