"""Bad baseline and calibration files: one clear error naming the file and the place, before any training."""

import copy
import json
import os

import pytest

from normcheck import Experiment, baseline, cli, framework, parallel
from normcheck.calibration import engine
from normcheck.errors import InputError
from normcheck.run import Run

EXP = Experiment(n_samples=200, epochs=2)


def run_dict(variant="input_norm", seed=0, epochs=2):
    r = Run(variant, seed, EXP, [0.6, 0.5], [0.7, 0.8], [0.6, 0.5], [0.7, 0.8], [0.1, 0.1],
            [{"saturation": 0.1, "bn_output_std": None}] * 3, versions={"backend": "tensorflow"})
    return r.to_dict()


def good_baseline():
    return {"schema": baseline.SCHEMA, "fingerprint": {"keras": "3"}, "experiment": EXP.to_dict(), "seeds": [0, 1],
            "created": "now", "runs": [run_dict(seed=0), run_dict(seed=1)]}


def edit(change):
    data = good_baseline()
    change(data)
    return json.dumps(data)


def set_in(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


CASES = [
    ("short list", edit(set_in(["runs", 0, "loss"], [0.1])), "runs[0]: loss is [0.1]; allowed: a list of 2 numbers"),
    ("string value", edit(set_in(["runs", 0, "loss", 1], "0.1")), "runs[0]: loss[1] is '0.1'; allowed: a finite number"),
    ("null value", edit(set_in(["runs", 1, "accuracy", 0], None)), "runs[1]: accuracy[0] is None"),
    ("null list", edit(set_in(["runs", 0, "eval_accuracy"], None)), "runs[0]: eval_accuracy is None"),
    ("NaN", edit(set_in(["runs", 0, "loss", 0], "NAN")).replace('"NAN"', "NaN"), "is not strict JSON: NaN"),
    ("Infinity", edit(set_in(["runs", 0, "loss", 0], "INF")).replace('"INF"', "Infinity"), "is not strict JSON: Infinity"),
    ("unknown variant", edit(set_in(["runs", 0, "variant"], "bn")), "runs[0]: variant is 'bn'; allowed: none, batch_norm"),
    ("negative seed", edit(set_in(["runs", 0, "seed"], -1)), "runs[0]: seed is -1"),
    ("empty lists", edit(set_in(["runs", 0, "seconds"], [])), "runs[0]: seconds is []"),
    ("diagnostics string", edit(set_in(["runs", 0, "diagnostics"], "x")), "runs[0]: diagnostics is 'x'"),
    ("seeds a string", edit(set_in(["seeds"], "0")), "seeds is '0'; allowed: a non-empty list of distinct seeds"),
    ("seeds repeated", edit(set_in(["seeds"], [0, 0])), "seeds [0, 0] repeat a seed"),
    ("seed without runs", edit(set_in(["seeds"], [0, 1, 2])), "seed 2 has no run of input_norm"),
    ("run twice", edit(lambda d: d["runs"].append(copy.deepcopy(d["runs"][0]))), "runs[2] repeats input_norm for seed 0"),
    ("deep nesting", "[" * 200_000 + "]" * 200_000, "nests too deeply to read"),
]


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(parallel, "train_matrix", refuse)


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_baseline_is_one_line_naming_file_and_place_before_training(tmp_path, capsys, no_training, content, message):
    path = tmp_path / "base.json"
    path.write_text(content)
    with pytest.raises(InputError, match=r"base\.json") as raised:
        baseline.load(path)
    assert message in str(raised.value)
    assert cli.main(["baseline", "compare", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_the_good_baseline_of_these_cases_loads(tmp_path):
    path = tmp_path / "base.json"
    path.write_text(json.dumps(good_baseline()))
    assert baseline.load(path).seeds == [0, 1]


@pytest.mark.parametrize("kind", ["fifo", "device", "huge", "folder"])
def test_files_that_are_not_small_regular_files_are_refused_without_reading(tmp_path, kind):
    path = tmp_path / "b.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "huge":
        with open(path, "wb") as fh:
            fh.truncate(2**30)
    else:
        path.mkdir()
    expected = {"fifo": "is not a regular file", "device": "is not a regular file", "huge": "bytes; allowed: at most",
                "folder": "is a directory"}[kind]
    with pytest.raises(InputError, match=expected):
        baseline.load(path)


@pytest.mark.parametrize("same_backend", [True, False], ids=["session's backend", "another backend"])
def test_a_calibration_resume_file_from_another_setup_is_refused_before_training(tmp_path, no_training, same_backend):
    """Depends on the session's backend (--normcheck-backend): the resume file names it, or the other one."""
    session = framework.default_backend()
    backend = session if same_backend else next(b for b in ("tensorflow", "jax") if b != session)
    partial = tmp_path / "runs.jsonl.partial"
    other = {"setup": {"experiment": EXP.replace(epochs=1).to_dict(), "backend": backend, "variants": ["input_norm"]}}
    partial.write_text(json.dumps(other) + "\n")
    differ = "experiment" if same_backend else "experiment, backend"
    with pytest.raises(InputError, match=rf"runs.jsonl.partial' was left by another setup \(its {differ} differ"):
        engine.collect([0], tmp_path / "runs.jsonl", EXP, ["input_norm"], log=lambda m: None)


def test_a_corrupt_calibration_resume_line_names_the_file_and_line(tmp_path, no_training):
    partial = tmp_path / "runs.jsonl.partial"
    setup = {"setup": {"experiment": EXP.to_dict(), "backend": framework.default_backend(), "variants": ["input_norm"]}}
    partial.write_text(json.dumps(setup) + "\n" + json.dumps(run_dict()) + "\n" + '{"schema": "normcheck.run/2", "vari\n')
    with pytest.raises(InputError, match=r"runs.jsonl.partial', line 3 is not JSON"):
        engine.collect([0, 1], tmp_path / "runs.jsonl", EXP, ["input_norm"], log=lambda m: None)


def test_nan_today_counts_as_moved_never_as_a_wider_tolerance(tmp_path):
    path = tmp_path / "base.json"
    path.write_text(json.dumps(good_baseline()))
    base = baseline.load(path)
    today = {s: {"input_norm": Run.from_dict(run_dict(seed=s))} for s in (0, 1)}
    assert baseline.compare(base, today, {}).ok
    nan = run_dict(seed=1)
    nan["loss"][1] = float("nan")
    today[1] = {"input_norm": Run.from_json(json.dumps(nan))}
    result = baseline.compare(base, today, {})
    assert not result.ok
    assert [(m.metric, m.epoch) for m in result.cells if not m.ok] == [("loss", 2)]
    assert "claims: not checked" in result.table()


def test_deep_nesting_in_pytest_is_a_usage_error_not_an_internal_error(pytester):
    path = pytester.path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess(f"--normcheck-baseline={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nests too deeply to read*"])
