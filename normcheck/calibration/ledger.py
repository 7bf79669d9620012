"""Which rule each count belongs to, and which seeds have been looked at: the record a held-out count rests on.

The rule is what `rule()` lists: each claim's measure (by name and arguments), threshold and
each/median, compare's constants and the spread it ships. `rule_version` is a hash of it, so a change
to any of those is a new version; a change inside a measure's code or in how a run of seeds is judged
is not seen by the hash and needs a deliberate `calibrate --freeze`. calibration/seed-ranges.json records every seed
range ever judged, with its role: a "development" range was seen while rules were
chosen; a "held-out" range was drawn after its rule version was frozen in a commit, and
counts on it hold for that version only. The pages label ranges from this record, never
from a fixed sentence, and tests/docs holds the record to the stored files and the rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .. import baseline, files, redraw
from .. import seeds as seeds_module
from ..claims import CLAIMS
from ..errors import InputError
from ..framework import BACKENDS

RANGES = "seed-ranges.json"  # in the calibration folder
RULE = "rule.json"  # the frozen rule, written by `calibrate --freeze`
ROLES = ("development", "held-out")
MAX_STAGES = 2  # a held-out range and at most one continuation: more looks would sample until a count comes out right


def rule() -> dict[str, Any]:
    """Everything a verdict depends on besides the runs, as plain data: how each claim judges, compare's rule and the
    spread it ships (by content hash). Which run sizes the pages count is not part of it: every size is counted."""
    claims = []
    for c in CLAIMS:
        func, bound = (c.measure.func, c.measure.keywords) if isinstance(c.measure, partial) else (c.measure, {})
        claims.append({"id": c.id, "measure": func.__name__, "arguments": dict(sorted(bound.items())), "op": c.op,
                       "threshold": c.threshold, "over": c.over})
    compare = {"K": baseline.K, "ALPHA": baseline.ALPHA, "FAMILY": baseline.FAMILY, "TAIL_SEEDS": baseline.TAIL_SEEDS,
               "FLOORS": baseline.FLOORS, "CLOSE": baseline.CLOSE, "SAME_DRAWS": baseline.SAME_DRAWS,
               "DRAWS": redraw.DRAWS, "TAIL_DRAWS": redraw.TAIL_DRAWS}
    spread = {b: hashlib.sha256(redraw.path(b).read_bytes()).hexdigest()[:12] for b in BACKENDS if redraw.path(b).exists()}
    return {"claims": claims, "compare": compare, "compare_spread": spread}


def rule_version() -> str:
    """The first 12 hex digits of the rule's SHA-256: a new version whenever anything in `rule()` changes."""
    return hashlib.sha256(json.dumps(rule(), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SeedRange:
    """One range of seeds judged at some point, on some backends, through one engine."""

    first: int
    last: int
    engine: str
    backends: tuple[str, ...]
    role: str
    rule_version: str | None  # held-out: the frozen version it was drawn for
    frozen_in: str | None  # held-out: the commit that froze that version
    note: str
    looked: tuple[str, ...] = ()  # a continuation: the backends whose count on the earlier seeds made it be added
    parts: tuple[range, ...] = ()  # records joined into this one (`_joined`), in order

    def covers(self, seeds: range, backend: str, engine: str) -> bool:
        return engine == self.engine and backend in self.backends and self.first <= seeds.start and seeds.stop - 1 <= self.last

    def span(self) -> str:
        return f"{self.first}-{self.last}"


def load(folder: str | Path) -> list[SeedRange]:
    """The seed-range record of a calibration folder; a malformed record is an InputError naming file and place."""
    path = Path(folder) / RANGES
    where = f"seed-range record {str(path)!r}"
    data = files.read_json(path, "seed-range record")
    if not isinstance(data, dict) or not isinstance(data.get("ranges"), list):
        raise InputError(f"{where}: expected an object with a list 'ranges'")
    out = []
    for i, item in enumerate(data["ranges"]):
        place = f"{where}: ranges[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{place} is {type(item).__name__}; allowed: an object")
        first, last = item.get("first"), item.get("last")
        if not (isinstance(first, int) and isinstance(last, int) and not isinstance(first, bool)
                and not isinstance(last, bool) and 0 <= first <= last):
            raise InputError(f"{place}: first/last are {first!r}/{last!r}; allowed: integers 0 <= first <= last")
        if item.get("role") not in ROLES:
            raise InputError(f"{place}: role is {item.get('role')!r}; allowed: {', '.join(ROLES)}")
        backends = item.get("backends")
        if not (isinstance(backends, list) and backends and all(isinstance(b, str) for b in backends)):
            raise InputError(f"{place}: backends is {backends!r}; allowed: a non-empty list of backend names")
        if item["role"] == "held-out" and not (isinstance(item.get("rule_version"), str) and item.get("frozen_in")):
            raise InputError(f"{place}: a held-out range names the rule_version it was drawn for and the commit frozen_in")
        looked = item.get("added_after_count_on", [])
        if not (isinstance(looked, list) and all(isinstance(b, str) for b in looked)):
            raise InputError(f"{place}: added_after_count_on is {looked!r}; allowed: a list of backend names")
        out.append(SeedRange(first, last, str(item.get("engine")), tuple(backends), item["role"], item.get("rule_version"),
                             item.get("frozen_in"), str(item.get("note", "")), tuple(looked)))
    for r in out:
        for backend in r.backends:
            chain = _chain(out, r, backend)
            if len(chain) > MAX_STAGES:
                raise InputError(f"{where}: held-out seeds {r.span()} on {backend} are continued by "
                                 f"{', '.join(c.span() for c in chain[1:])}; allowed: at most {MAX_STAGES - 1} "
                                 "continuation (record a fresh range for a new rule instead)")
    return out


def recorded(folder: str | Path) -> list[SeedRange]:
    """The folder's record, or none where the folder keeps none (a scratch `--out`)."""
    return load(folder) if (Path(folder) / RANGES).exists() else []


def _chain(ranges: list[SeedRange], start: SeedRange, backend: str) -> list[SeedRange]:
    """A held-out `start` and the records that continue it seed for seed: same engine and rule version, on `backend`
    (development ranges stay apart: each has its own story). A record continues only one of its own backend: another
    backend's range that starts where `start` ends is a range of its own."""
    chain = [start]
    if backend not in start.backends:
        return chain
    while start.role == "held-out":
        last = chain[-1]
        nxt = next((r for r in ranges if r.first == last.last + 1 and r.engine == start.engine and r.role == start.role
                    and r.rule_version == start.rule_version and backend in r.backends), None)
        if nxt is None:
            break
        chain.append(nxt)
    return chain


def _joined(chain: list[SeedRange]) -> SeedRange:
    """Records that continue one another as one range: a held-out range extended by a later record (drawn for the
    same frozen rule, recorded before its runs) is counted as one, its notes kept in order."""
    if len(chain) == 1:
        return chain[0]
    note = "; then ".join(f"{r.span()}: {r.note}" for r in chain)
    looked = tuple(sorted({b for r in chain[1:] for b in r.looked}))
    return dataclasses.replace(chain[0], last=chain[-1].last, note=note, looked=looked,
                               parts=tuple(range(r.first, r.last + 1) for r in chain))


def _starts(ranges: list[SeedRange], r: SeedRange, backend: str) -> bool:
    """Whether no record continues into `r` (so a chain starts at it)."""
    return not any(p is not r and _chain(ranges, p, backend)[1:2] == [r] for p in ranges)


def find(ranges: list[SeedRange], seeds: range, backend: str, engine: str) -> SeedRange | None:
    """The recorded range that holds these seeds of `backend` through `engine`, if any; records that continue one
    another count as one range."""
    for r in ranges:
        if r.engine == engine and backend in r.backends and r.first <= seeds.start <= r.last:
            joined = _joined(_chain(ranges, r, backend))
            if joined.covers(seeds, backend, engine):
                return joined
    return None


def held_out_range(ranges: list[SeedRange], backend: str, engine: str = "replica") -> range:
    """The seeds recorded as held out for today's rule on `backend` through `engine`, with the records that continue
    them: what a job of that engine runs by default (`calibrate --holdout` for the replica)."""
    version = rule_version()
    for r in ranges:
        if (r.role == "held-out" and r.rule_version == version and r.engine == engine and backend in r.backends
                and _starts(ranges, r, backend)):
            joined = _joined(_chain(ranges, r, backend))
            return seeds_module.span(joined.first, joined.last, f"calibration/{RANGES}: held-out range {joined.span()}")
    raise InputError(f"no held-out range for rule {version} on {backend} through engine {engine!r} in "
                     f"calibration/{RANGES}: freeze the rule (`calibrate --freeze`), commit, record one there before "
                     "its runs, then run the job (or pass --seeds)")


def stages(ranges: Sequence[SeedRange], seeds: range, backend: str, engine: str) -> list[range]:
    """The stages a count over these seeds was made in, where a later record was added after a count on the earlier
    ones (rates.staged_upper_bound adjusts for those looks); none where the seeds are one stage. Every count on a
    continued range is staged, whichever count decided the continuation: the runs of one seed share their batch
    order across backends, and compare's replays reuse the runs that were counted, so none is independent of it."""
    found = find(list(ranges), seeds, backend, engine)
    if found is None or len(found.parts) < 2:
        return []
    return [range(max(p.start, seeds.start), min(p.stop, seeds.stop)) for p in found.parts
            if p.start < seeds.stop and seeds.start < p.stop]


def role(ranges: list[SeedRange], seeds: range, backend: str, engine: str) -> str:
    """How a page names a stored range in a word: held out for today's rule, else development (seen while rules
    were chosen, held out for an older rule, or not recorded)."""
    found = find(ranges, seeds, backend, engine)
    held = found is not None and found.role == "held-out" and found.rule_version == rule_version()
    return "held out" if held else "development"


def label(ranges: list[SeedRange], seeds: range, backend: str, engine: str) -> str:
    """How a page names a stored range: held out for the current rule, or why not."""
    found = find(ranges, seeds, backend, engine)
    span = f"{seeds.start}-{seeds.stop - 1}"
    if found is None:
        return f"seeds {span} (not in calibration/{RANGES})"
    if found.role == "held-out" and found.rule_version == rule_version():
        staged = ""
        if len(found.parts) > 1:
            parts = ", ".join(f"{p.start}-{p.stop - 1}" for p in found.parts)
            why = (f"after {', '.join(found.looked)}'s count on the earlier seeds" if found.looked
                   else "after the earlier were counted")
            staged = f" (recorded in {len(found.parts)} stages, {parts}: each later stage added {why}, before its runs)"
        return f"held-out seeds {span}, drawn after rule {found.rule_version} was frozen in {found.frozen_in}{staged}"
    if found.role == "held-out":
        return f"seeds {span}, held out for rule {found.rule_version}, not for today's rule {rule_version()}"
    return f"development seeds {span} ({found.note})"


def held_stages(ranges: Sequence[SeedRange], held: dict[str, Any]) -> list[range]:
    """The stages of the held-out seeds every backend's replays draw on (compare's rows pair backends), or none."""
    found = {tuple(stages(ranges, range(min(m), max(m) + 1), b, "replica")) for b, m in held.items() if m}
    return list(found.pop()) if len(found) == 1 else []

