"""The replica's stored calibration against real fit's stored runs, where float32 makes trajectories chaotic.

Raw-input variants do not follow fit seed by seed, so the replica stands for them in
distribution: the stored fit seeds against the stored replica seeds, a two-sample
Kolmogorov-Smirnov test per measure at a family-wise level of 0.01. Both sides are
stored files: this is a consistency check of the calibration, not an upgrade test.
"""

from pathlib import Path

import numpy as np
import pytest

from normcheck import claims
from normcheck.calibration import store
from normcheck.run import by_seed
from normcheck.variants import VARIANTS

pytest.importorskip("scipy")

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
CHAOTIC = [v for v, spec in VARIANTS.items() if not spec.input_norm]


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
