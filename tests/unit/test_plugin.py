import pytest

from normcheck import Experiment
from normcheck.plugin import RunCache, trained_twice
from normcheck.seeds import parse as parse_seeds

TINY = Experiment(n_samples=200, epochs=1)


@pytest.mark.parametrize(("text", "seeds"), [("3", [0, 1, 2]), ("4-6", [4, 5, 6]), ("7, 2", [7, 2])])
def test_seed_options(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", "x", "3-1", "1,1", "-2", "4294967296-4294967296"])
def test_bad_seed_options_are_named(text):
    with pytest.raises(ValueError, match=f"seeds '{text}' are invalid"):
        parse_seeds(text)


def test_workers_sharing_a_folder_train_each_run_once(tmp_path):
    """What pytest-xdist workers do: the second cache reads the first one's run instead of training it."""
    first, second = RunCache(tmp_path), RunCache(tmp_path)
    run = first.get("input_norm", TINY, 0)
    again = second.get("input_norm", TINY, 0)
    other = second.get("input_norm", TINY, 1)
    assert again == run
    assert other.seed == 1
    assert (first.trained, second.trained) == (1, 1)
    assert trained_twice(tmp_path) == []
    assert len(list(tmp_path.glob("*.json"))) == 2
