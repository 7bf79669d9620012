"""What a baseline records of fit's own order, and how compare words a change."""

from normcheck import baseline
from normcheck.fitorder import properties

ONE = list(range(8))
TWO = [3, 1, 7, 0, 2, 6, 5, 4]
THREE = [5, 2, 0, 7, 1, 3, 4, 6]


def orders(seed1, seed2=None, unseeded=None):
    return {"unseeded": unseeded or [TWO, THREE], "seed1": seed1, "seed1_again": seed1, "seed2": seed2 or [THREE, TWO],
            "no_shuffle": [ONE, ONE], "versions": {}}


def test_properties_of_a_fit_that_reshuffles():
    assert properties(orders([TWO, THREE])) == {"unseeded_reshuffles": True, "seeded_reshuffles": True, "seed_repeats": True,
                                               "seeds_differ": True, "no_shuffle_in_index_order": True}


def test_a_fit_that_stops_reshuffling_fails_in_words():
    changed, notes = baseline.fit_order_changes(orders([TWO, THREE]), orders([TWO, TWO]))
    assert changed == ["after set_random_seed, fit(shuffle=True) feeds one order for every epoch (when recorded: "
                       "after set_random_seed, fit(shuffle=True) feeds a new order every epoch)"]
    assert notes == []


def test_other_orders_with_the_same_properties_are_a_redraw_not_a_failure():
    changed, notes = baseline.fit_order_changes(orders([TWO, THREE]), orders([THREE, TWO], seed2=[TWO, THREE]))
    assert changed == []
    assert notes
    assert "redraw" in notes[0]


def test_a_baseline_without_fit_order_says_so():
    changed, notes = baseline.fit_order_changes(None, orders([TWO, THREE]))
    assert changed == []
    assert "does not record" in notes[0]
