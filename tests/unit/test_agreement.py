"""The two-sample test compares independent samples: fit's and the replica's seeds never overlap."""

from normcheck.calibration import agreement


def test_seeds_fit_also_ran_are_left_to_one_side_only():
    fit, replica = agreement._independent({s: s for s in range(3)}, {s: s for s in range(10)})
    assert (sorted(fit), sorted(replica)) == ([0, 1, 2], list(range(3, 10)))
    fit, replica = agreement._independent({s: s for s in range(10)}, {s: s for s in range(10)})
    assert (sorted(fit), sorted(replica)) == ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
