"""The redraw spread: what calibration ships to `baseline compare`, and the replays that check it.

`baseline compare` reads how far the median of a per-epoch metric moves when initial
weights are redrawn from normcheck/redraw-<backend>.npz (redraw.py, shipped with the
package); `condensed` writes that file's successor, <out>/redraw-<backend>.npz, from the
replica's calibration runs, and `calibrate --promote` (promote.py) checks and ships it. The held-out
seeds, replayed as baselines against each other (`redraw_replays`), give compare's
false-alarm rate on healthy redraws (calibration/compare.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from .. import baseline, redraw
from ..constants import DEFAULT_SEEDS
from ..errors import InputError
from ..run import Run, RunsBySeed, by_seed, disjoint_groups
from . import agreement, store
from .rates import Count

GROUP = DEFAULT_SEEDS  # seeds per side of a comparison: a baseline's default
REPLAY_SIZES = (GROUP, 2 * GROUP, 4 * GROUP)  # the group sizes compare's false alarms are replayed for


@dataclass(frozen=True)
class Replay:
    """Healthy redraws compared as `baseline compare` would: `size` seeds a side, baseline on one backend, today on another."""

    size: int
    backend_a: str
    backend_b: str
    flagged: Count
    left_out: tuple[str, ...] = ()  # variants not replayed: the replica does not stand for fit there (`from_fit`),
    # or (runs of real fit) only one side ran them


def from_fit(backend: str) -> tuple[str, ...]:
    """The variants whose shipped spread on `backend` comes from real fit: the replica's runs do not stand for them,
    so replays of the replica leave them out."""
    cells = redraw.cells(backend)
    return cells.from_fit if cells is not None else ()


def without(matrix: RunsBySeed, variants: Collection[str]) -> RunsBySeed:
    """`matrix` with `variants` left out."""
    return {s: {v: r for v, r in rs.items() if v not in variants} for s, rs in matrix.items()} if variants else matrix


def condensed(runs: Sequence[Run], fit: Sequence[Run] = (), from_fit: Sequence[str] = ()) -> bytes:
    """The calibration runs' compared metrics, float32 (seed, variant, epoch), as the bytes of redraw-<backend>.npz;
    its header states the experiment and versions they ran on, which `calibrate --promote` checks.

    The variants `from_fit` (those the replica does not stand for, agreement.not_the_engine) take real fit's runs
    `fit` instead, on the seeds both ran; the header names them."""
    if from_fit:
        real = {(r.seed, r.variant): r for r in fit if r.variant in from_fit}
        seeds = {s for s, _ in real if all((s, v) in real for v in from_fit)}
        runs = [real.get((r.seed, r.variant), r) for r in runs if r.seed in seeds]
        if not runs:
            raise InputError(f"real fit ran none of the calibration's seeds; {', '.join(from_fit)} need them")
    arrays, header, seeds_run = store.to_arrays(runs)
    return store.npz_bytes({m: arrays[m] for m in redraw.METRICS},
                           {"schema": redraw.SCHEMA, "variants": header["variants"], "seeds": len(seeds_run),
                            "backend": runs[0].backend, "experiment": header["experiment"],
                            "versions": header["versions"], **({"from_fit": list(from_fit)} if from_fit else {})},
                           seeds_run)


def calibrated(runs: Sequence[Run], fit: Sequence[Run] | None) -> bytes:
    """redraw-<backend>.npz from the replica's calibration `runs`, the variants it does not stand for
    (agreement.not_the_engine, tested against real fit's runs `fit`) taken from `fit`."""
    from_fit = agreement.not_the_engine(by_seed(fit), by_seed(runs)) if fit else []
    return condensed(runs, fit or (), from_fit)


@dataclass(frozen=True)
class CloseReplay:
    """The same seeds run twice with float-level differences (`then`, `today`), compared as `baseline compare` would."""

    size: int
    then: str
    today: str
    flagged: Count
    not_close: Count  # replays compare read as another regime: flagged of those (false alarms of that regime)
    seeds: range  # the seeds both sides ran, from the first to the last
    backend: str


def close_replays(pairs: Sequence[tuple[str, RunsBySeed, str, RunsBySeed]], sizes: Sequence[int] = REPLAY_SIZES,
                  stages: Mapping[str, Sequence[range]] | None = None) -> list[CloseReplay]:
    """compare under close trajectories: per (name, runs, name, runs) pair and group size, each disjoint group of the
    seeds both ran, once. `stages`, by the first name of a pair, marks seeds counted in stages (ledger.stages): groups
    never straddle a stage, and the pair's counts are staged."""
    out = []
    for size in sizes:
        for name_a, a, name_b, b in pairs:
            common = {s: a[s] for s in sorted(set(a) & set(b))}
            groups = _staged_groups(common, size, (stages or {}).get(name_a, ()))
            if not groups:
                continue
            backend = next(iter(next(iter(common.values())).values())).backend
            found = [(k, *baseline.replayed(g, {s: b[s] for s in g}, backend, backend)) for k, g in groups]
            close = [[hit for j, hit, regime in found if j == k and regime == "close"] for k in _stages_of(found)]
            other = [[hit for j, hit, regime in found if j == k and regime != "close"] for k in _stages_of(found)]
            out.append(CloseReplay(size, name_a, name_b, _count([(sum(h), len(h)) for h in close if h]),
                                   _count([(sum(h), len(h)) for h in other if h]),
                                   range(min(common), max(common) + 1), backend))
    return out


def _stages_of(found: Sequence[tuple]) -> list[int]:
    return sorted({item[0] for item in found})


def _count(parts: Sequence[tuple[int, int]]) -> Count:
    """(flagged, replays) per stage as one count, staged where the replays fall in more than one stage."""
    return Count(sum(f for f, _ in parts), sum(n for _, n in parts), tuple(parts) if len(parts) > 1 else ())


def _staged_groups(matrix: RunsBySeed, size: int, stages: Sequence[range]) -> list[tuple[int, RunsBySeed]]:
    """`matrix` cut into disjoint groups of `size` seeds, each with the index of its stage; none straddles one."""
    if not stages:
        return [(0, g) for g in disjoint_groups(matrix, size)]
    return [(k, g) for k, part in enumerate(stages)
            for g in disjoint_groups({s: rs for s, rs in matrix.items() if s in part}, size)]


def staged_redraw_replays(held: dict[str, RunsBySeed], stages: Sequence[range], sizes: Sequence[int] = REPLAY_SIZES
                          ) -> list[Replay]:
    """`redraw_replays` of a held-out range every backend counted in the same stages (ledger.stages)."""
    return redraw_replays(held, sizes, stages={b: stages for b in held} if len(stages) > 1 else None)


def redraw_replays(held: dict[str, RunsBySeed], sizes: Sequence[int] = REPLAY_SIZES, replica: bool = True,
                   stages: Mapping[str, Sequence[range]] | None = None) -> list[Replay]:
    """compare on healthy redraws: for each group size and each unordered pair of backends, each pair of groups once.

    compare's rule is symmetric in its two sides, so a->b and b->a would be the same replays. The first half of
    one backend's groups is compared with the second half of the other's (or of its own): paired groups never
    share seed numbers, and with them normcheck's batch orders. Where the two sides ran no seed in common, each
    group of the smaller side is paired, in order, with one of the other's. Replays within one row are independent (disjoint
    groups); rows share groups, so their counts are not added. Runs of the `replica` leave out the variants either
    backend's spread takes from real fit (`from_fit`); other runs leave out the variants only one side ran.

    `stages` (by backend, ledger.stages) marks a held-out range counted in stages: groups never straddle a stage, a
    replay counts in the later stage of its two groups, so each stage keeps the replays it had when it was counted,
    and each row's count is staged.
    """
    names = sorted(held)
    out = []
    for size in sizes:
        for i, a in enumerate(names):
            for b in names[i:]:
                left_out = tuple(sorted(set(from_fit(a)) | set(from_fit(b)) if replica
                                        else ran_variants(held[a]) ^ ran_variants(held[b])))
                paired = _paired(without(held[a], left_out), without(held[b], left_out), size,
                                 (stages or {}).get(a, ()), (stages or {}).get(b, ()))
                if paired:
                    parts = [baseline.flagged_pairs([x for j, x, _ in paired if j == k], [y for j, _, y in paired if j == k],
                                                    a, b) for k in _stages_of(paired)]
                    out.append(Replay(size, a, b, _count(parts), left_out))
    return out


def _paired(a: RunsBySeed, b: RunsBySeed, size: int, stages_a: Sequence[range], stages_b: Sequence[range]
            ) -> list[tuple[int, RunsBySeed, RunsBySeed]]:
    """The pairs of groups `redraw_replays` compares, each with its stage. A stage keeps the pairs it had when it was
    counted only where the sides ran no seed in common (each side's groups in order), or share their stages; any other
    staging is refused."""
    if set(a).isdisjoint(b):
        return [(max(ka, kb), x, y) for (ka, x), (kb, y) in zip(_staged_groups(a, size, stages_a),
                                                               _staged_groups(b, size, stages_b), strict=False)]
    if list(stages_a) != list(stages_b):
        first = {s for s in a if not stages_a or s in stages_a[0]}
        raise InputError(f"stages {_spans(stages_a) or 'none'} and {_spans(stages_b) or 'none'} on two sides that "
                         f"ran seeds in common{' (only since a continuation)' if first.isdisjoint(b) else ''}: "
                         "their first stage's pairs would change; allowed: sides with no seed in common, or the "
                         "same stages on both")
    out = []
    for k, part in enumerate(stages_a or [None]):
        out += [(k, x, y) for x, y in _pairs(a if part is None else {s: rs for s, rs in a.items() if s in part},
                                             b if part is None else {s: rs for s, rs in b.items() if s in part}, size)]
    return out


def _pairs(a: RunsBySeed, b: RunsBySeed, size: int) -> list[tuple[RunsBySeed, RunsBySeed]]:
    """Unstaged pairs: sides with no seed in common in order, others the first half of one's groups with the second
    half of the other's."""
    ga, gb = disjoint_groups(a, size), disjoint_groups(b, size)
    if set(a).isdisjoint(b):
        return list(zip(ga, gb, strict=False))
    half = min(len(ga), len(gb)) // 2
    return list(zip(ga[:half], gb[half:2 * half], strict=True))


def _spans(stages: Sequence[range]) -> str:
    return ", ".join(f"{r.start}-{r.stop - 1}" for r in stages)


def ran_variants(matrix: RunsBySeed) -> set[str]:
    """The variants that ran on any seed of `matrix`."""
    return {v for rs in matrix.values() for v in rs}


def held_fit_replays(held: dict[str, RunsBySeed], held_fit: dict[str, RunsBySeed], sizes: Sequence[int] = REPLAY_SIZES
                     ) -> list[Replay]:
    """compare on healthy redraws of the variants real fit ran on held-out seeds (`held_fit`, by backend): fit
    against fit on that backend, and against another backend's held-out replica runs of the same variants (`held`)
    where the replica stands for fit there. Rows are pairs of backends, as `redraw_replays` makes them."""
    out = []
    for backend, fit in sorted(held_fit.items()):
        variants = ran_variants(fit)
        sources = {backend: fit}
        for other, matrix in held.items():
            if other != backend and not variants & set(from_fit(other)):
                sources[other] = {s: {v: rs[v] for v in variants if v in rs} for s, rs in matrix.items()}
        out += [r for r in redraw_replays(sources, sizes, replica=False) if backend in (r.backend_a, r.backend_b)]
    return out
