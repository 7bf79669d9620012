"""Issue 22: files read are checked for types as well as values, before training, with one line naming the file and
the place; a huge bad value is named, not reprinted; memory is bounded by the file's size."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_files import set_in  # the same edit helper: tests/reliability is on sys.path (pytest's prepend import)

from normcheck import Experiment, baseline, cli, files, framework
from normcheck.calibration import engine
from normcheck.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "baselines" / "jax.json"


def _baseline_with(change) -> dict:
    data = json.loads(BASELINE.read_text())
    change(data)
    return data


TYPE_CASES = [
    ("variant a list", set_in(["runs", 0, "variant"], ["none"]), "runs[0]: variant is ['none']; allowed: none"),
    ("variant an object", set_in(["runs", 0, "variant"], {"a": 1}), "runs[0]: variant is {'a': 1}; allowed: none"),
    ("fit_order empty lists", set_in(["fit_order", "no_shuffle"], [[], []]), "fit_order.no_shuffle[0] is []"),
    ("fit_order no epochs", set_in(["fit_order", "seed1"], []), "fit_order.seed1 is []"),
    ("fit_order not an order", set_in(["fit_order", "no_shuffle"], [3, 1]), "fit_order.no_shuffle[0] is 3"),
    ("fit_order repeats", set_in(["fit_order", "no_shuffle", 0], [0] * 16), "fit_order.no_shuffle[0] is [0, 0"),
    ("fit_order a string", set_in(["fit_order"], "x"), "fit_order is 'x'"),
    ("backend a path", set_in(["fingerprint", "backend"], "x/y"),
     "fingerprint.backend is 'x/y'; allowed: tensorflow, jax, torch"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in TYPE_CASES], ids=[c[0] for c in TYPE_CASES])
def test_a_baseline_of_wrong_types_is_one_line_naming_file_and_place_before_training(tmp_path, error_line, no_work,
                                                                                    change, message):
    path = tmp_path / "base.json"
    path.write_text(json.dumps(_baseline_with(change)))
    with pytest.raises(InputError, match=r"base\.json") as raised:
        baseline.load(path)
    assert message in str(raised.value)
    assert cli.main(["baseline", "compare", str(path), "--quiet"]) == 2
    line = error_line()
    assert message in line
    assert "base.json" in line


def test_a_huge_bad_value_is_named_not_reprinted(tmp_path, error_line, no_work):
    path = tmp_path / "base.json"
    path.write_text(json.dumps(_baseline_with(set_in(["runs", 0, "variant"], "v" * 100_000))))
    assert cli.main(["baseline", "compare", str(path), "--quiet"]) == 2
    line = error_line()
    assert "runs[0]: variant is 'vvv" in line
    assert "(100000 characters)" in line
    assert len(line) < 1000


def test_a_huge_bad_argument_is_cut_on_the_error_line(error_line, no_work):
    assert cli.main(["--seeds", "9" * 100_000, "--quiet"]) == 2
    assert len(error_line()) < 1200


MEMORY = """
import resource, sys
from normcheck import baseline
from normcheck.errors import InputError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    baseline.load(sys.argv[1])
except InputError as exc:
    print(str(exc)[:300])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.parametrize("content", ["[]", "[0]", "{}"])
def test_a_50_mb_file_of_empty_lists_is_refused_within_a_small_multiple_of_its_size(tmp_path, content):
    path = tmp_path / "base.json"
    size = 50 * 2**20
    with open(path, "w") as fh:
        fh.write("[" + ",".join([content] * (size // (len(content) + 1))) + "]")
    out = subprocess.run([sys.executable, "-c", MEMORY, str(path)], capture_output=True, text=True, check=True)
    said, grew = out.stdout.strip().splitlines()
    assert "base.json" in said
    assert int(grew) < 3 * size, f"peak memory grew by {int(grew) / 2**20:.0f} MiB reading a 50 MiB file"


def test_normcheck_own_files_pass_the_memory_bound_that_refuses_dense_ones():
    for path in [*ROOT.glob("baselines/*.json"), *ROOT.glob("docs/bench-*.json")]:
        files.read_json(path, "file")
    with pytest.raises(InputError, match="holds 40000 values in 80001 characters"):
        files.parse_json("[" + ",".join(["0"] * 40_000) + "]", "file")



def test_a_resume_file_run_whose_variant_is_a_list_is_one_error_naming_file_and_line(tmp_path, no_work):
    data = json.loads(BASELINE.read_text())
    run = data["runs"][0]
    setup = {"setup": {"experiment": run["experiment"], "backend": framework.default_backend(), "variants": ["none"]}}
    run["variant"] = ["none"]
    (tmp_path / "runs.jsonl.partial").write_text(json.dumps(setup) + "\n" + json.dumps(run) + "\n")
    with pytest.raises(InputError, match=r"runs.jsonl.partial', line 2: variant is \['none'\]; allowed: none"):
        engine.collect([0], tmp_path / "runs.jsonl", Experiment.from_dict(run["experiment"]), ["none"],
                            log=lambda m: None)
