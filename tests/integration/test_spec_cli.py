"""Your own experiment through the CLI, as a user runs it: `run` and `calibrate --engine fit` in processes of their own.

The spec lives outside the package (tests/specs/tiny_experiment.py), named by file path; worker
processes import it by that reference.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = "tests/specs/tiny_experiment.py:TINY"


def _cli(*args, cwd=ROOT):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "normcheck", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def test_run_trains_every_variant_and_judges_the_claims(normcheck_backend, tmp_path):
    out = _cli("run", "--experiment", TINY, "--backend", normcheck_backend, "--seeds", "0-1", "--jobs", "2", "--quiet",
               "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"))
    assert out.returncode == 0, out.stderr
    assert "| plain |" in out.stdout
    assert "| layer_norm |" in out.stdout
    assert "2/2 claims hold" in out.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert sorted((r["variant"], r["seed"]) for r in data["runs"]) == [("layer_norm", 0), ("layer_norm", 1),
                                                                      ("plain", 0), ("plain", 1)]
    assert {v["claim"] for v in data["verdicts"]} == {"plain_learns", "norm_does_not_hurt"}
    assert "a user's own claim" not in (tmp_path / "r.md").read_text()  # the basis column: the author's, by default
    assert "stated by its author" in (tmp_path / "r.md").read_text()


def test_a_claim_that_fails_exits_1_with_its_verdict_line(normcheck_backend):
    out = _cli("run", "--experiment", "tests/specs/tiny_experiment.py:TINY_FAILS", "--backend", normcheck_backend,
               "--seeds", "1", "--jobs", "1", "--quiet")
    assert out.returncode == 1
    assert "FAIL impossible: accuracy above one -- median" in out.stdout


def test_bad_references_and_options_are_exit_2_and_one_line_before_training(normcheck_backend):
    for args, message in [
        (["run", "--experiment", "nowhere_xyz:SPEC"], "no module 'nowhere_xyz'"),
        (["run", "--experiment", TINY, "--variants", "plain,other"], "variant(s) 'other' not in spec 'tiny'"),
        (["run", "--experiment", TINY, "--epochs", "3"], "--epochs applies to the question's experiment"),
        (["calibrate", "--experiment", TINY, "--seeds", "0-3"], "--experiment calibrates your own experiment with --engine fit"),
        (["calibrate", "--experiment", TINY, "--engine", "fit"], "--experiment needs --seeds"),
        (["calibrate", "--experiment", TINY, "--engine", "fit", "--seeds", "1", "--target", "2"], "--target '2' is invalid"),
    ]:
        out = _cli(*args, "--backend", normcheck_backend) if args[0] == "run" else _cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) <= 2  # argparse's usage line, then the error


def test_calibrate_resumes_its_store_and_reports_counts_and_supported_thresholds(normcheck_backend, tmp_path):
    env_backend = ["--backend", normcheck_backend]
    first = _cli("calibrate", "--experiment", TINY, "--engine", "fit", "--seeds", "0-3", "--jobs", "2", "--out",
                 str(tmp_path), *env_backend)
    assert first.returncode == 0, first.stderr
    store = tmp_path / f"tiny-{normcheck_backend}.jsonl"
    assert len(store.read_text().splitlines()) == 1 + 8
    more = _cli("calibrate", "--experiment", TINY, "--engine", "fit", "--seeds", "0-5", "--jobs", "1", "--out",
                str(tmp_path), *env_backend)
    assert more.returncode == 0, more.stderr
    assert more.stderr.count("seed=") == 4  # only seeds 4 and 5 trained
    page = (tmp_path / f"tiny-{normcheck_backend}.md").read_text()
    assert "## seeds 0-5\n" in page
    assert "| `plain_learns` | >= 0.8 | median |" in page
    assert "runs of 1 failing" in page
    assert "needs 2995 runs (these seeds make 6)" in page
    again = _cli("calibrate", "--experiment", TINY, "--engine", "fit", "--report", "--out", str(tmp_path), *env_backend)
    assert again.returncode == 0
    assert (tmp_path / f"tiny-{normcheck_backend}.md").read_text() == page
    lines = store.read_text().splitlines()
    head = json.loads(lines[0])
    head["setup"]["versions"]["keras"] = "0.0"
    store.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    refused = _cli("calibrate", "--experiment", TINY, "--engine", "fit", "--seeds", "0-6", "--out", str(tmp_path),
                   *env_backend)
    assert refused.returncode == 2
    assert "holds runs of another setup: versions" in refused.stderr
    assert '"keras": "0.0"' in refused.stderr


def test_a_baseline_records_and_compares_identical_and_a_moved_one_exits_1(normcheck_backend, tmp_path):
    path = tmp_path / "base.json"
    backend = ["--backend", normcheck_backend]
    rec = _cli("baseline", "record", "--experiment", TINY, str(path), "--seeds", "3", "--jobs", "1", "--quiet", *backend)
    assert rec.returncode == 0, rec.stderr
    same = _cli("baseline", "compare", "--experiment", TINY, str(path), "--jobs", "1", "--quiet", *backend)
    assert same.returncode == 0, same.stderr
    assert "regime identical" in same.stdout
    data = json.loads(path.read_text())
    for run in data["runs"]:
        if run["variant"] == "plain":
            run["history"]["val_accuracy"] = [0.0 for _ in run["history"]["val_accuracy"]]
    path.write_text(json.dumps(data))
    moved = _cli("baseline", "compare", "--experiment", TINY, str(path), "--jobs", "1", "--quiet", *backend)
    assert moved.returncode == 1
    assert "regime redrawn" in moved.stdout
    assert "MOVED plain val_accuracy epoch 2: median 0 ->" in moved.stdout
    assert "spread from the baseline's own 3 seeds" in moved.stdout
    other = _cli("baseline", "compare", "--experiment", "tests/specs/tiny_experiment.py:TINY_FAILS", str(path), *backend)
    assert other.returncode == 2
    assert "records experiment 'tiny', not 'tiny_fails'" in other.stderr
