"""How the CLI spreads a matrix over worker processes."""

import pytest

from normcheck import VARIANTS
from normcheck.parallel import chunks
from normcheck.variants import QUESTION_VARIANTS, get_variant


@pytest.mark.parametrize(("n_variants", "n_seeds", "jobs"), [(5, 1, 2), (4, 5, 2), (5, 24, 2), (1, 1, 2), (3, 7, 1), (5, 3, 4)])
def test_every_run_once_in_slices_of_one_variant(n_variants, n_seeds, jobs):
    tasks = [(v, s) for s in range(n_seeds) for v in list(VARIANTS)[:n_variants]]
    slices = chunks(tasks, jobs)
    assert sorted(t for c in slices for t in c) == sorted(tasks)
    assert all(len({v for v, _ in c}) == 1 for c in slices)
    assert len(slices) >= min(len(tasks), 2 * jobs)


def test_one_seed_of_each_variant_is_one_run_per_slice_bn_variants_first():
    tasks = [(v, 0) for v in VARIANTS]
    slices = chunks(tasks, 2)
    assert sorted(slices) == sorted([t] for t in tasks)
    has_bn = [get_variant(c[0][0]).batch_norm for c in slices]
    assert has_bn == sorted(has_bn, reverse=True)


def test_a_matrix_gives_each_variant_whole_slices_heaviest_first():
    """Each worker gets one BN and one plain variant, so neither waits on the other at the end."""
    tasks = [(v, s) for s in range(5) for v in QUESTION_VARIANTS]
    slices = chunks(tasks, 2)
    assert [len(c) for c in slices] == [5, 5, 5, 5]
    assert [get_variant(c[0][0]).batch_norm for c in slices] == [True, True, False, False]
