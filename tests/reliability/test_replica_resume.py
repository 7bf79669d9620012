"""An interrupted replica calibration resumes from its finished seed batches and stores what an uninterrupted one does.

Small on purpose: 2000 samples, 2 epochs, two variants, seed batches of 2 (the real calibration uses
engine.SEED_BATCH); the interruption is a KeyboardInterrupt raised from the progress line, which comes
after the first batch is written, where Ctrl-C would land between batches.
"""

import numpy as np
import pytest

from normcheck import framework
from normcheck.calibration import engine, store
from normcheck.errors import InputError
from normcheck.experiment import QUESTION_EXPERIMENT

pytest.importorskip("jax")

EXPERIMENT = QUESTION_EXPERIMENT.replace(n_samples=2000, epochs=2)
VARIANTS = ["none", "batch_norm"]
SEEDS = [0, 1, 2, 3, 4]  # batches [0, 1], [2, 3], [4] padded to [4, 4]
BATCH = 2


def _calibrate(seeds=SEEDS, **kwargs):
    return engine.calibration_runs(seeds, VARIANTS, EXPERIMENT, seed_batch=BATCH, **kwargs)


def _assert_bit_identical(got, want):
    __tracebackhide__ = True
    (a, header_a, seeds_a), (b, header_b, seeds_b) = store.to_arrays(got), store.to_arrays(want)
    assert (header_a, seeds_a) == (header_b, seeds_b)
    assert list(a) == list(b)
    for key in a:
        assert np.array_equal(a[key].view(np.uint32), b[key].view(np.uint32)), key


@pytest.fixture(scope="module")
def uninterrupted(normcheck_backend):
    if framework.legacy_keras():
        pytest.skip("the replica follows Keras 3's fit")
    engine.initial_weights([0])  # a first build imports what it needs, so every run below records the same versions
    return _calibrate()


class Interrupt(KeyboardInterrupt):
    pass


def test_a_resumed_calibration_stores_what_an_uninterrupted_one_does(uninterrupted, tmp_path):
    folder = store.chunks_folder(tmp_path / "runs-replica.npz")

    def ctrl_c_after_first_batch(line: str) -> None:
        raise Interrupt(line)

    with pytest.raises(Interrupt):
        _calibrate(log=ctrl_c_after_first_batch, resume=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["chunk-000000.npz"]

    lines: list[str] = []
    resumed = _calibrate(log=lines.append, resume=folder)
    assert len(lines) == 3
    assert lines[0].endswith("read back")
    assert f"{BATCH}/{len(SEEDS)} seeds" in lines[0]
    assert "left" in lines[1]
    assert "read back" not in lines[1]
    _assert_bit_identical(resumed, uninterrupted)
    assert sorted(p.name for p in folder.iterdir()) == ["chunk-000000.npz", "chunk-000002.npz", "chunk-000004.npz"]

    again = _calibrate(log=lines.append, resume=folder)  # every batch read back, nothing trained
    assert all(line.endswith("read back") for line in lines[3:])
    assert len(lines) == 6
    _assert_bit_identical(again, uninterrupted)

    store.discard_chunks(folder)
    assert not folder.exists()


def test_a_resume_folder_of_another_setup_is_refused(uninterrupted, tmp_path):
    folder = tmp_path / "runs.npz.chunks"
    _calibrate(SEEDS[:BATCH], resume=folder)
    with pytest.raises(InputError, match="another calibration"):
        engine.calibration_runs(SEEDS, VARIANTS[:1], EXPERIMENT, seed_batch=BATCH, resume=folder)
    with pytest.raises(InputError, match="another calibration"):
        _calibrate([7, 8], resume=folder)


def test_a_seeds_numbers_do_not_depend_on_the_seeds_beside_it(uninterrupted):
    """The last batch is padded to the batch size: seed 4 alone (beside a copy of itself) and beside seed 3
    gives the same numbers as in the five-seed run."""
    by_seed = [r for r in uninterrupted if r.seed == 4]
    _assert_bit_identical([r for r in _calibrate([3, 4]) if r.seed == 4], by_seed)
    _assert_bit_identical(_calibrate([4]), by_seed)


def test_a_saved_file_grows_to_a_longer_range_without_training_its_seeds_again(uninterrupted, tmp_path):
    saved = tmp_path / "holdout.npz"
    store.save_replica_runs(_calibrate(SEEDS[:4]), saved)
    lines: list[str] = []
    grown = _calibrate(log=lines.append, grow=saved)
    assert [line.endswith("read back") for line in lines] == [True, True, False]
    _assert_bit_identical(grown, uninterrupted)


def test_a_saved_file_of_another_setup_or_batching_is_not_read_back(uninterrupted, tmp_path):
    saved = tmp_path / "holdout.npz"
    store.save_replica_runs(_calibrate(SEEDS[1:5]), saved)  # batches [1, 2], [3, 4]: not the batches of 0..4
    lines: list[str] = []
    _assert_bit_identical(_calibrate(log=lines.append, grow=saved), uninterrupted)
    assert not any(line.endswith("read back") for line in lines)
    store.save_replica_runs(engine.calibration_runs(SEEDS[:4], VARIANTS[:1], EXPERIMENT, seed_batch=BATCH), saved)
    lines.clear()
    _calibrate(log=lines.append, grow=saved)
    assert not any(line.endswith("read back") for line in lines)
