"""The claim machinery on hand-written Runs: worst seed decides, thresholds apply."""

from functools import partial

import pytest

from normcheck import CLAIMS, Experiment, Run, get_claim
from normcheck.claims import check_all, gap, gap_mostly_train_mode, gradient_starvation, measured_variants, required_variants


def fake_run(variant, seed, accuracy, backend="tensorflow"):
    n = len(accuracy)
    diagnostics = [{"saturation": 0.3, "preact_grad_rms": 1.0, "batch_std": 0.2, "bn_output_std": None}] * (n + 1)
    return Run(variant, seed, Experiment(epochs=n), [0.5] * n, list(accuracy), [0.5] * n, list(accuracy),
               [0.1] * n, diagnostics, versions={"backend": backend})


def test_claim_ids_are_unique_and_each_cites_the_question():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    for c in CLAIMS:
        assert c.source
        assert c.statement
        assert c.basis
        assert c.op in (">=", ">", "<=")


def test_worst_seed_decides():
    claim = get_claim("input_norm_ends_near_perfect")
    assert claim.over == "each"
    t = claim.threshold
    good = {s: {"input_norm": fake_run("input_norm", s, [t + 0.001] * 10)} for s in (0, 1)}
    assert claim.check(good).holds
    bad = dict(good)
    bad[7] = {"input_norm": fake_run("input_norm", 7, [1.0] * 9 + [t - 0.001])}
    verdict = claim.check(bad)
    assert not verdict.holds
    assert verdict.worst_seed == 7
    assert "FAIL input_norm_ends_near_perfect" in verdict.line()


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_a_statement_says_how_seeds_are_combined(claim):
    """The CLI prints the statement: it must not call a median claim a claim on every seed, or the reverse."""
    assert ("median over seeds" in claim.statement) == (claim.over == "median")


def test_a_median_claim_is_judged_on_the_median_over_seeds():
    claim = get_claim("batch_norm_slows_epoch1_train_accuracy")
    assert claim.over == "median"

    def seed(s, gap):
        return {"input_norm": fake_run("input_norm", s, [0.95] * 10),
                "input_and_batch_norm": fake_run("input_and_batch_norm", s, [0.95 - gap] + [0.99] * 9)}

    one_behind = {0: seed(0, -0.01), 1: seed(1, 0.03), 2: seed(2, 0.04)}
    verdict = claim.check(one_behind)
    assert verdict.holds
    assert verdict.statistic == pytest.approx(0.03)
    assert "median 0.03" in verdict.line()
    two_behind = {0: seed(0, -0.01), 1: seed(1, -0.02), 2: seed(2, 0.04)}
    assert not claim.check(two_behind).holds
    assert claim.check({0: seed(0, -0.01), 1: seed(1, 0.03)}).statistic == pytest.approx(0.01), "even n: the mean of the middle two"



@pytest.mark.parametrize("claim_id", ["input_norm_ends_near_perfect", "none_stays_at_chance",
                                      "batch_norm_slows_epoch1_train_accuracy",
                                      "batch_norm_ends_at_chance"])
def test_a_diverged_seed_counts_on_the_failing_side_wherever_it_sits(claim_id):
    """NaN compares false with everything: ranked by its value it would land anywhere. It ranks as a failure."""
    claim = get_claim(claim_id)
    for position in range(5):
        values = {s: claim.threshold + (s + 1) * (0.01 if claim.op.startswith(">") else -0.01) for s in range(5)}
        values[position] = float("nan")
        holds, seed = claim.decide(values)
        if claim.over == "each":
            assert (holds, seed) == (False, position)
        else:
            assert holds, "one NaN in five: the median of the other values holds"
            assert claim.statistic(values) == sorted(v for s, v in values.items() if s != position)[1 if claim.op.startswith(">") else 2]
        values[(position + 1) % 5] = values[(position + 2) % 5] = float("nan")
        assert not claim.decide(values)[0], "three NaN in five: every claim fails"

def test_missing_variant_is_an_error_and_check_all_skips_unrun_claims():
    claim = get_claim("batch_norm_slows_epoch1_train_accuracy")
    runs = {0: {"input_norm": fake_run("input_norm", 0, [0.99] * 10)}}
    with pytest.raises(ValueError, match="needs variant"):
        claim.check(runs)
    assert {v.claim for v in check_all(runs)} <= {c.id for c in CLAIMS if c.variants == ("input_norm",)}
    assert required_variants()[:4] == ["none", "batch_norm", "input_norm", "input_and_batch_norm"]


def test_unknown_claim_id():
    with pytest.raises(ValueError, match="claim 'nope' is unknown; allowed"):
        get_claim("nope")


def test_a_claims_variants_come_from_its_measures_arguments():
    assert measured_variants(partial(gap, epoch=1, metric="accuracy")) == ("input_norm", "input_and_batch_norm")
    assert measured_variants(partial(gap_mostly_train_mode, epoch=1, worse="batch_norm")) == ("input_norm", "batch_norm")
    assert measured_variants(gradient_starvation) == ("none", "input_norm")
