"""The shipped experiments' calibration pages are rendered from their stored real-fit runs, and the seed-range record
they rest on holds: every stored seed is in a recorded range, and a held-out range names today's rule and a commit."""

import subprocess
from pathlib import Path

import pytest

from normcheck import spec, spec_fit, spec_jobs
from normcheck.experiments.small_batch import SMALL_BATCH

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "calibration" / SMALL_BATCH.name
STORES = sorted(OUT.glob(f"{SMALL_BATCH.name}-*.jsonl"))


def test_a_calibration_is_stored():
    assert STORES, f"no {OUT}/{SMALL_BATCH.name}-<backend>.jsonl: run `calibrate --experiment ... --engine fit`"


@pytest.mark.parametrize("store", STORES, ids=[p.name for p in STORES])
def test_the_page_is_rendered_from_the_stored_runs(store):
    backend = store.stem.removeprefix(f"{SMALL_BATCH.name}-")
    runs = spec_fit.load_runs(store)
    ref = "normcheck.experiments.small_batch:SMALL_BATCH"
    expected = spec_jobs.rates_page(SMALL_BATCH, runs, ranges=spec_jobs.load_ranges(OUT, SMALL_BATCH),
                                    command=f"python -m normcheck calibrate --experiment {ref} --engine fit --backend "
                                            f"{backend} --out calibration/{SMALL_BATCH.name} --report")
    page = spec_jobs.page_path(OUT, SMALL_BATCH, backend)
    assert page.read_text() == expected, f"{page} is stale: run the command in its first lines"


@pytest.mark.parametrize("store", STORES, ids=[p.name for p in STORES])
def test_every_stored_seed_is_in_a_recorded_range_of_its_backend(store):
    backend = store.stem.removeprefix(f"{SMALL_BATCH.name}-")
    ranges = [r for r in spec_jobs.load_ranges(OUT, SMALL_BATCH) if backend in r.backends]
    outside = sorted({r.seed for r in spec_fit.load_runs(store) if not any(x.first <= r.seed <= x.last for x in ranges)})
    assert not outside, f"seeds {outside[:5]}... of {store.name} are in no recorded range"


def test_held_out_ranges_name_todays_rule_and_a_commit_that_holds_it():
    held = [r for r in spec_jobs.load_ranges(OUT, SMALL_BATCH) if r.role == "held-out"]
    for r in held:
        assert r.rule_version == spec.rule_version(SMALL_BATCH), f"{r.label()}: the rule changed since its freeze"
    if not (ROOT / ".git").exists():
        pytest.skip("no git history here: the freeze commits are not checked")
    for r in held:
        known = subprocess.run(["git", "cat-file", "-e", f"{r.frozen_in}^{{commit}}"], cwd=ROOT, capture_output=True)
        assert known.returncode == 0, f"{r.label()}: commit {r.frozen_in} is not in this repository's history"
