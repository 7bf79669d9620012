"""The replica (the calibration engine) is held to real fit on this stack.

Seed by seed where trajectories are stable (normalized input): from the same
initial weights and batches, the replica and Keras differ only in float32
rounding. Loss within 1e-5, accuracies within 1e-4 (fewer than 3 of 25000
predictions may flip over an epoch), diagnostics within 1e-4 relative, and
the saturation share (a count) within 10 of its 500000 (sample, unit) pairs:
room for another stack's rounding, none for a changed default (docs/upgrades.md
has the measured differences).

In distribution where float32 makes trajectories chaotic (raw input): the 24
stored fit seeds against the 1000 stored replica seeds, a two-sample
Kolmogorov-Smirnov test per measure at a family-wise level of 0.01.
"""

from pathlib import Path

import numpy as np
import pytest

from normcheck import claims, framework
from normcheck.calibration import engine, store
from normcheck.run import by_seed
from normcheck.variants import VARIANTS

pytest.importorskip("jax")
pytestmark = pytest.mark.upgrade

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
STABLE = [v for v, spec in VARIANTS.items() if spec.input_norm]
CHAOTIC = [v for v, spec in VARIANTS.items() if not spec.input_norm]
SEEDS = (0, 1)
DIAGNOSTICS = ("saturation", "preact_grad_rms", "batch_std", "bn_output_std", "eval_loss")
COUNT_ATOL = 10 / (25000 * 20)  # saturation counts (sample, unit) pairs: 10 of them may flip


@pytest.fixture(scope="module")
def replica_runs(normcheck_backend):
    if framework.legacy_keras():
        pytest.skip("the replica follows Keras 3's fit")
    initial = engine.initial_weights(SEEDS)
    mode = framework.traits(normcheck_backend).loss_mode
    return {v: {r.seed: r for r in engine.simulate(v, SEEDS, initial, loss_mode=mode)} for v in STABLE}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("variant", STABLE)
def test_replica_follows_fit_seed_by_seed(variant, seed, replica_runs, normcheck_runs):
    fit = normcheck_runs.get(variant, seed=seed)
    rep = replica_runs[variant][seed]
    np.testing.assert_allclose(rep.loss, fit.loss, rtol=0, atol=1e-5, err_msg="train-mode loss")
    for key in ("accuracy", "eval_accuracy"):
        np.testing.assert_allclose(getattr(rep, key), getattr(fit, key), rtol=0, atol=1e-4, err_msg=key)
    for key in DIAGNOSTICS:
        got, want = rep.diag(key), fit.diag(key)
        if want[0] is None:
            assert got == want
            continue
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=COUNT_ATOL if key == "saturation" else 1e-9, err_msg=key)


def _stored(backend):
    fit_path = store.fit_runs("owned").path(CALIBRATION, backend)
    replica_path = store.REPLICA_RUNS.path(CALIBRATION, backend)
    if not (fit_path.exists() and replica_path.exists()):
        pytest.skip(f"no stored fit and replica runs for {backend}")
    return by_seed(store.load_fit_runs(fit_path)), by_seed(store.load_replica_runs(replica_path))


def _measures():
    """Every claim on a raw-input variant, and each raw-input variant's metrics after epochs 1 and 10."""
    out = {c.id: c.values for c in claims.CLAIMS if any(v in CHAOTIC for v in c.variants)}
    for variant in CHAOTIC:
        for metric in ("loss", "accuracy", "eval_accuracy"):
            for epoch in (1, 10):
                def values(matrix, variant=variant, metric=metric, epoch=epoch):
                    return {s: getattr(rs[variant], metric)[epoch - 1] for s, rs in matrix.items()}
                out[f"{variant} {metric} epoch {epoch}"] = values
    return out


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_replica_matches_fit_in_distribution_where_trajectories_are_chaotic(backend):
    from scipy.stats import ks_2samp  # noqa: PLC0415 -- optional (the jax and test extras)

    fit, rep = _stored(backend)
    measures = _measures()
    level = 0.01 / len(measures)
    rejected = []
    for name, values in measures.items():
        a, b = list(values(fit).values()), list(values(rep).values())
        p = ks_2samp(a, b).pvalue
        if p < level:
            rejected.append(f"{name}: p = {p:.2g} (fit median {np.median(a):.4g}, replica median {np.median(b):.4g})")
    assert not rejected, f"replica and fit differ in distribution on {backend} (level {level:.1g} each): {rejected}"
