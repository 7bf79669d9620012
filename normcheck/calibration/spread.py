"""The redraw spread: what calibration ships to `baseline compare`, and the replays that check it.

`baseline compare` reads how far the median of a per-epoch metric moves when initial
weights are redrawn from normcheck/redraw-<backend>.npz (redraw.py, shipped with the
package); `condensed` writes that file from the replica's calibration runs. The held-out
seeds, replayed as baselines against each other (`redraw_replays`), give compare's
false-alarm rate on healthy redraws (calibration/compare.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import baseline, redraw
from ..constants import DEFAULT_SEEDS
from ..run import Run, RunsBySeed, disjoint_groups
from . import store

GROUP = DEFAULT_SEEDS  # seeds per replayed comparison: a baseline's default


def condensed(runs: Sequence[Run]) -> bytes:
    """The calibration runs' compared metrics, float32 (seed, variant, epoch), as the bytes of redraw-<backend>.npz."""
    arrays, header, seeds = store.to_arrays(runs)
    return store.npz_bytes({m: arrays[m] for m in redraw.METRICS},
                           {"variants": header["variants"], "seeds": len(seeds), "backend": runs[0].backend}, seeds)


def redraw_replays(held: dict[str, RunsBySeed]) -> list[tuple[str, str, int, int]]:
    """(baseline backend, today's backend, flagged, replays) for every ordered pair of backends' held-out seeds.

    Within a backend, the first half of its groups of GROUP seeds against the second half; across two
    backends, group i of one against group i of the other (other seeds, other draws, another stack).
    """
    out = []
    for a in held:
        for b in held:
            ga, gb = disjoint_groups(held[a], GROUP), disjoint_groups(held[b], GROUP)
            if a == b:
                half = len(ga) // 2
                ga, gb = ga[:half], ga[half:2 * half]
            else:
                n = min(len(ga), len(gb))
                ga, gb = ga[:n], gb[:n]
            flagged, pairs = baseline.flagged_pairs(ga, gb, a, b)
            out.append((a, b, flagged, pairs))
    return out
