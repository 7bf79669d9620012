"""Your own experiment's description (normcheck.spec): every bad field is a ValueError naming it, before training."""

import functools
import json
import math

import numpy as np
import pytest

from normcheck import spec, spec_baseline, spec_fit, spec_jobs
from normcheck.calibration.rates import upper_bound
from normcheck.errors import InputError

SPECS = "tests/specs/tiny_experiment.py"


def _data(variant):
    return spec.Data(np.zeros((8, 2)), np.zeros(8))


def _spec(**changes):
    fields = dict(name="mine", variants=("a", "b"), build=lambda v: None, data=_data, epochs=2, batch_size=4)
    return spec.Spec(**{**fields, **changes})


def test_a_valid_spec_keeps_its_fields_and_gives_each_variant_its_batch():
    s = _spec(batch_size={"a": 2, "b": 4})
    assert s.variants == ("a", "b")
    assert (s.batch_for("a"), s.batch_for("b")) == (2, 4)


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "Spec.name='' is invalid; allowed: a letter"),
    ({"name": "has space"}, "Spec.name='has space' is invalid"),
    ({"variants": ()}, "Spec.variants=() is invalid; allowed: a non-empty tuple"),
    ({"variants": "ab"}, "Spec.variants='ab' is invalid"),
    ({"variants": ("a", "a")}, "allowed: each name once"),
    ({"variants": ("a", 3)}, "Spec.variants=('a', 3) is invalid"),
    ({"build": "model"}, "Spec.build='model' is invalid; allowed: a function of the variant name"),
    ({"data": None}, "Spec.data=None is invalid"),
    ({"epochs": 0}, "Spec.epochs=0 is invalid; allowed: an integer from 1"),
    ({"epochs": True}, "Spec.epochs=True is invalid"),
    ({"batch_size": 2.5}, "Spec.batch_size=2.5 is invalid"),
    ({"batch_size": {"a": 2}}, "Spec.batch_size={'a': 2} is invalid; allowed: one per variant, for exactly a, b"),
    ({"batch_size": {"a": 2, "b": 0}}, "Spec.batch_size['b']=0 is invalid"),
    ({"fit_arguments": {"shuffle": True}}, "allowed: keys among class_weight, validation_batch_size"),
    ({"measurements": {"not an id": len}}, "Spec.measurements['not an id']"),
    ({"measurements": {"norm": 3}}, "Spec.measurements['norm']=3 is invalid"),
    ({"measurements": {"norm": lambda model: 0.0}}, "allowed: f(model, data) with at most keyword-only `variant`"),
    ({"measurements": {"norm": lambda model, data, *, epoch: 0.0}}, "Spec.measurements['norm']="),
    ({"claims": ("x",)}, "Spec.claims='x' is invalid; allowed: normcheck.Claim values"),
])
def test_a_bad_field_is_a_value_error_naming_it_and_what_is_allowed(changes, message):
    with pytest.raises(ValueError, match=r"^Spec\.") as caught:
        _spec(**changes)
    assert message in str(caught.value)


def test_a_claim_on_a_variant_the_spec_lacks_or_twice_is_refused():
    c = spec.claim("c1", "accuracy", spec.final("accuracy", "z"), ">= 0.5")
    with pytest.raises(InputError, match=r"Spec.claims\['c1'\]=\['z'\] is invalid; allowed: variants of this spec: a, b"):
        _spec(claims=(c,))
    ok = spec.claim("c1", "accuracy", spec.final("accuracy", "a"), ">= 0.5")
    with pytest.raises(InputError, match="each claim id once"):
        _spec(claims=(ok, ok))


@pytest.mark.parametrize(("rule", "message"), [
    ("0.5", "rule='0.5' is invalid; allowed: an operator (>=, >, <=, <)"),
    (">= nan", "allowed: a finite number after >="),
    ("== 1", "rule='== 1' is invalid"),
    (0.5, "rule=0.5 is invalid"),
])
def test_a_bad_rule_is_refused(rule, message):
    with pytest.raises(InputError) as caught:
        spec.claim("c", "s", spec.final("accuracy", "a"), rule)
    assert message in str(caught.value)


def test_a_claim_reads_its_rule_and_variants_from_its_measure():
    c = spec.claim("gap", "s", spec.difference(spec.final("acc", "a"), spec.final("acc", "b")), " <  0.25 ", over="each")
    assert (c.op, c.threshold, c.over, c.variants) == ("<", 0.25, "each", ("a", "b"))
    with pytest.raises(InputError, match="names no variants"):
        spec.claim("c", "s", lambda runs: 0.0, ">= 0")
    assert spec.claim("c", "s", lambda runs: 0.0, ">= 0", variants=("a",)).variants == ("a",)
    with pytest.raises(InputError, match="over='mean' is invalid; allowed: each, median"):
        spec.claim("c", "s", spec.final("acc", "a"), ">= 0", over="mean")


@pytest.mark.parametrize(("data", "message"), [
    (spec.Data(np.zeros((8, 2)), np.zeros(7)), "x has 8 samples and y 7; allowed: as many"),
    (spec.Data(np.zeros((8, 2)), np.zeros(8), np.zeros((2, 2))), "x_eval and y_eval go together"),
    (spec.Data(np.full((8, 2), np.nan), np.zeros(8)), "x holds NaN or infinite values"),
    (spec.Data(np.array(["a"] * 8), np.zeros(8)), "allowed: numbers with at least one sample"),
    (spec.Data(np.zeros((2, 2)), np.zeros(2)), "Spec.batch_size=4 for 'a' is invalid; allowed: at most the 2 samples"),
    ((np.zeros(8), np.zeros(8)), "returned (array("),
])
def test_bad_data_is_refused_naming_the_spec_variant_and_field(data, message):
    s = _spec(data=lambda v: data)
    with pytest.raises(InputError) as caught:
        spec.arrays(s, "a")
    assert message in str(caught.value)
    assert str(caught.value).startswith("mine: data('a')") or "Spec.batch_size" in str(caught.value)


def test_data_that_raises_is_one_error_naming_it():
    with pytest.raises(InputError, match=r"mine: data\('a'\) raised ZeroDivisionError"):
        spec.arrays(_spec(data=lambda v: 1 / 0), "a")


@pytest.mark.parametrize(("ref", "message"), [
    ("no_colon", "experiment 'no_colon' is invalid; allowed: 'pkg.module:NAME' or 'path/file.py:NAME'"),
    ("nowhere_module_xyz:SPEC", "no module 'nowhere_module_xyz'"),
    ("missing/file.py:SPEC", "no file 'missing/file.py'"),
    (f"{SPECS}:NOPE", "has no Spec named 'NOPE' (nothing there)"),
    (f"{SPECS}:CLAIMS", "has no Spec named 'CLAIMS' (found tuple)"),
    ("normcheck.spec:Spec", "has no Spec named 'Spec' (found type)"),
])
def test_a_bad_reference_is_one_error_naming_it(ref, message):
    with pytest.raises(InputError) as caught:
        spec.load(ref)
    assert message in str(caught.value)


def test_a_reference_finds_the_spec_by_module_or_by_file():
    assert spec.load(f"{SPECS}:TINY").name == "tiny"
    assert spec.load("normcheck.experiments.small_batch:SMALL_BATCH").name == "small_batch"
    assert spec.absolute(f"{SPECS}:TINY").startswith("/")


def _run(variant, seed, value):
    return spec.SpecRun("mine", variant, seed, {"accuracy": [0.5, value]}, {"norm": [1.0, 2.0, 3.0]}, [0.1, 0.1],
                        {"backend": "jax"})


def test_a_run_is_plain_data_in_and_out_and_names_what_it_lacks():
    r = _run("a", 3, 0.75)
    assert spec.SpecRun.from_json(r.to_json()) == r
    assert (r.metric("accuracy"), r.metric("accuracy", 1), r.metric("norm"), r.metric("norm", 1)) == (0.75, 0.5, 3.0, 2.0)
    with pytest.raises(InputError, match="has no metric 'loss'; allowed: accuracy, norm"):
        r.metric("loss")
    with pytest.raises(InputError, match="epoch 3 is invalid"):
        r.metric("accuracy", 3)
    with pytest.raises(InputError, match="is malformed"):
        spec.SpecRun.from_dict({**r.to_dict(), "seed": "x"})


def test_the_threshold_the_counts_support_lets_just_as_many_runs_fail_as_keep_the_bound():
    c = spec.claim("acc", "s", spec.final("accuracy", "a"), ">= 0.5", over="each")
    values = np.linspace(0.0, 1.0, 4000)
    matrix = {seed: {"a": _run("a", seed, float(v))} for seed, v in enumerate(values)}
    allowed = max(f for f in range(20) if upper_bound(f, 4000) <= 1e-3)
    op, threshold = spec_jobs.supported_threshold(c, matrix, 1, 1e-3)
    assert op == ">="
    assert threshold == values[allowed]
    assert sum(v < threshold for v in values) == allowed
    assert spec_jobs.supported_threshold(c, dict(list(matrix.items())[:100]), 1, 1e-3) is None
    assert spec_jobs.needed_runs(1e-3) == math.ceil(math.log(0.05) / math.log(1 - 1e-3))
    low = spec.claim("low", "s", spec.final("accuracy", "a"), "<= 0.5", over="median")
    op, threshold = spec_jobs.supported_threshold(low, matrix, 5, 0.01)
    groups = sorted(float(np.median(values[i:i + 5])) for i in range(0, 4000, 5))
    assert op == "<="
    assert sum(g > threshold for g in groups) == max(f for f in range(30) if upper_bound(f, 800) <= 0.01)


def _matrix(values_by_seed, variant="a"):
    return {seed: {variant: _run(variant, seed, v)} for seed, v in values_by_seed.items()}


def test_compare_says_identical_only_when_every_number_is_and_flags_a_moved_median():
    base = _matrix({0: 0.70, 1: 0.72, 2: 0.74})
    assert spec_baseline.compare(base, _matrix({0: 0.70, 1: 0.72, 2: 0.74}), ["a"], None).regime == "identical"
    calibration = _matrix({seed: 0.72 + 0.01 * ((seed * 7) % 5 - 2) for seed in range(100)})
    near = spec_baseline.compare(base, _matrix({0: 0.71, 1: 0.72, 2: 0.73}), ["a"], calibration)
    assert (near.regime, near.moved) == ("redrawn", [])
    far = spec_baseline.compare(base, _matrix({0: 0.90, 1: 0.91, 2: 0.92}), ["a"], calibration)
    assert [m.cell for m in far.moved] == [("a", "accuracy", 2)]
    assert "MOVED a accuracy epoch 2: median 0.72 -> 0.91" in far.moved[0].line()


def test_a_tolerance_is_the_quantile_of_resampled_differences_of_medians():
    calibration = _matrix({seed: float(seed % 10) for seed in range(200)})
    tol = spec_baseline.tolerances_from(calibration, [("a", "accuracy", 2)], 5)[("a", "accuracy", 2)]
    assert 4 <= tol <= 9  # medians of 5 draws from 0..9 differ by up to 9; the 0.995 quantile is near the top
    assert spec_baseline.tolerances_from(calibration, [("a", "accuracy", 1)], 5)[("a", "accuracy", 1)] == spec_baseline.FLOOR
    with pytest.raises(InputError, match="a tolerance for 150 a side needs at least 300"):
        spec_baseline.tolerances_from(calibration, [("a", "accuracy", 2)], 150)


def test_healthy_replays_count_flags_on_disjoint_pairs():
    rng = np.random.default_rng(0)
    development = _matrix({seed: float(rng.normal()) for seed in range(500)})
    held = _matrix({seed: float(rng.normal()) for seed in range(1000, 1400)})
    flagged, pairs = spec_baseline.replays(development, held, ["a"], 5)
    assert pairs == 40
    assert flagged <= 2
    shifted = _matrix({seed: float(rng.normal()) + (5.0 if (seed // 5) % 2 else 0.0) for seed in range(1000, 1400)})
    assert spec_baseline.replays(development, shifted, ["a"], 5) == (40, 40)


def test_a_baseline_of_another_experiment_or_missing_runs_is_refused(tmp_path):
    s = _spec()
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema": spec_baseline.SCHEMA, "experiment": "other", "seeds": [0], "variants": ["a"],
                                "runs": []}))
    with pytest.raises(InputError, match="records experiment 'other', not 'mine'"):
        spec_baseline.load(path, s)
    path.write_text(json.dumps({"schema": spec_baseline.SCHEMA, "experiment": "mine", "seeds": [0, 1], "variants": ["a"],
                                "runs": [_run("a", 0, 0.5).to_dict()]}))
    with pytest.raises(InputError, match=r"lacks runs \[\('a', 1\)\]"):
        spec_baseline.load(path, s)
    path.write_text("{}")
    with pytest.raises(InputError, match=r"is not a normcheck\.spec-baseline/1 file"):
        spec_baseline.load(path, s)


def test_a_measurement_may_read_the_variant_and_seed_and_give_several_values():
    s = _spec(measurements={"pair": lambda model, data, *, variant, seed: {"width": len(variant), "seed": seed},
                            "one": lambda model, data: 1, "missing": lambda model, data: {"bn_std": None}})
    measured = spec_fit._measure(s, None, None, "a", 7)
    assert math.isnan(measured.pop("bn_std"))
    assert measured == {"width": 1.0, "seed": 7.0, "one": 1.0}


def test_two_measurements_that_give_one_name_are_refused():
    s = _spec(measurements={"pair": lambda model, data: {"one": 1.0}, "one": lambda model, data: 2.0})
    with pytest.raises(InputError, match=r"measurements\['one'\] gives one again; allowed: each name once"):
        spec_fit._measure(s, None, None, "a", 0)


def test_a_partial_measurement_keeps_what_it_binds_and_only_keyword_only_parameters_are_given():
    def seen(model, data, *, variant, seed):
        return {"width": len(variant), "seed": seed}

    s = _spec(measurements={"bound": functools.partial(seen, variant="zzz"), "plain": lambda model, data, seed=9: seed})
    assert spec_fit._measure(s, None, None, "a", 7) == {"width": 3.0, "seed": 7.0, "plain": 9.0}


@pytest.mark.parametrize(("given", "message"), [
    ({"a b": 1.0}, "gives the name 'a b'; allowed: identifiers"),
    ({3: 1.0}, "gives the name 3; allowed: identifiers"),
    ({"x": math.inf}, "gives x=inf; allowed: a finite number, NaN or None"),
    ({"x": "1"}, "gives x='1'; allowed: a finite number"),
    ({"x": True}, "gives x=True; allowed"),
])
def test_a_measurement_giving_a_bad_name_or_value_is_an_error_naming_it(given, message):
    s = _spec(measurements={"many": lambda model, data: given})
    with pytest.raises(InputError, match=r"measurements\['many'\] ") as caught:
        spec_fit._measure(s, None, None, "a", 0)
    assert message in str(caught.value)


def _measure_of(runs, *, variant, epoch):
    return runs[variant].metric("accuracy", epoch)


def _positional(variant, runs):
    return runs[variant].metric("accuracy")


def test_every_argument_a_partial_measure_binds_is_part_of_the_rule_and_must_be_a_plain_value():
    def rule_of(measure):
        return spec.rule_version(_spec(claims=(spec.claim("c", "s", measure, ">= 0.5", variants=("a",)),)))

    first = rule_of(functools.partial(_measure_of, variant="a", epoch=1))
    assert first == rule_of(functools.partial(_measure_of, variant="a", epoch=1))
    assert first != rule_of(functools.partial(_measure_of, variant="a", epoch=2))
    assert rule_of(functools.partial(_positional, "a")) != rule_of(functools.partial(_positional, "b"))
    with pytest.raises(InputError, match=r"claim 'c': its measure binds .*allowed: plain values"):
        rule_of(functools.partial(_measure_of, variant=np.int64(1), epoch=1))
