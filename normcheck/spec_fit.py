"""A Spec's runs through the real `keras.Model.fit`: one run, or a (variant x seed) matrix across worker processes.

One compiled model per (spec, variant) is reused across seeds, as the question's path does:
it gets the variables a freshly seeded `build` draws, and its optimizer goes back to its
state at build time, so no seed pays for tracing again. `NORMCHECK_REUSE=0` builds afresh
for every run; the suite holds the two paths to the same history.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import files, framework, parallel, seeds, spec, training
from .errors import InputError, shown

OnRun = Callable[[spec.SpecRun, int, int], None]
_DATA: dict[tuple[int, str], tuple[spec.Spec, spec.Data]] = {}  # by id(spec): two specs of one name are two specs
_COMPILED: dict[tuple[int, str, str], tuple[spec.Spec, Any, list[np.ndarray]]] = {}


def data_for(s: spec.Spec, variant: str) -> spec.Data:
    key = (id(s), variant)
    if key not in _DATA:
        _DATA[key] = (s, spec.arrays(s, variant))  # the spec kept alive with its entry, so its id is not reused
    return _DATA[key][1]


def _built(s: spec.Spec, variant: str) -> Any:
    """`build(variant)`, checked: a compiled keras.Model, else an InputError naming the spec and what came back."""
    keras = framework.keras()
    where = f"{s.name}: build({variant!r})"
    try:
        model = s.build(variant)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{where} raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, keras.Model):
        raise InputError(f"{where} returned {shown(model, 80)}; allowed: a keras.Model")
    if getattr(model, "optimizer", None) is None:
        raise InputError(f"{where} returned a model that is not compiled; allowed: a model after model.compile(...)")
    return model


def check(s: spec.Spec, variants: Sequence[str]) -> dict[str, Any]:
    """Before any training, in seconds: build every variant, read its data, train a throwaway copy on one batch (the
    model takes the data's shapes, the claims' metrics are among what fit logs or the measurements). Returns the
    spec's fingerprint: what a stored run depends on besides the seed (a store or baseline of another is refused)."""
    keras = framework.keras()
    keras.utils.set_random_seed(0)
    digest = hashlib.sha256()
    for v in variants:
        data = data_for(s, v)
        model = _built(s, v)
        batch = s.batch_for(v)
        validation = {} if data.x_eval is None else {"validation_data": (data.x_eval[:batch], data.y_eval[:batch])}
        try:
            logged = model.fit(data.x[:batch], data.y[:batch], batch_size=batch, epochs=1, shuffle=False, verbose=0,
                               **validation, **s.fit_arguments).history
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise InputError(f"{s.name}: the model build({v!r}) makes does not train on data({v!r}) "
                             f"({type(exc).__name__}: {first}); allowed: data of the shapes and types the model "
                             "takes") from None
        measured = _measure(s, model, data, v, 0)
        clash = sorted(set(measured) & set(logged))
        if clash:
            raise InputError(f"{s.name}: the measurements of {v!r} give {', '.join(clash)}, which fit logs too; allowed: "
                             "names fit does not log")
        known = set(logged) | set(measured)
        for c in s.claims:
            for name in _metrics(c.measure, v):
                if name not in known:
                    raise InputError(f"claim {c.id!r} reads {name!r} of {v!r}, which neither fit logs nor a measurement "
                                     f"names; allowed: {', '.join(sorted(known))}")
        for a in (data.x, data.y, data.x_eval, data.y_eval):
            digest.update(b"-" if a is None else np.ascontiguousarray(a).tobytes() + str(a.shape).encode())
        digest.update(model.to_json().encode() + repr(sorted(model.optimizer.get_config().items())).encode())
    return {"rule": spec.rule_version(s), "epochs": s.epochs, "batch_size": {v: s.batch_for(v) for v in variants},
            "fit_arguments": repr(sorted(s.fit_arguments.items())), "data and models": digest.hexdigest()[:12]}


def _metrics(measure: Any, variant: str) -> list[str]:
    """The metrics a measure made of spec.final / spec.difference reads of `variant` (a measure of your own: none)."""
    if isinstance(measure, spec.Final):
        return [measure.metric] if measure.variant == variant else []
    if isinstance(measure, spec.Difference):
        return _metrics(measure.first, variant) + _metrics(measure.second, variant)
    return []


def _prepared(s: spec.Spec, variant: str, seed: int) -> Any:
    keras = framework.keras()
    keras.utils.set_random_seed(seed)
    fresh = _built(s, variant)
    if not training.reuse_enabled():
        return fresh
    key = (id(s), variant, keras.backend.backend())
    cached = _COMPILED.get(key)
    if cached is None:
        fresh.optimizer.build(fresh.trainable_variables)
        _COMPILED[key] = (s, fresh, [framework.to_numpy(v).copy() for v in fresh.optimizer.variables])
        return fresh
    _, model, optimizer_state = cached
    if [tuple(v.shape) for v in model.variables] != [tuple(v.shape) for v in fresh.variables]:
        raise InputError(f"{s.name}: build({variant!r}) made a model of another shape than before for seed {seed}; "
                         "allowed: the same layers for every seed (or NORMCHECK_REUSE=0)")
    for target, value in zip(model.variables, fresh.variables, strict=True):
        target.assign(framework.to_numpy(value))
    for target, state in zip(model.optimizer.variables, optimizer_state, strict=True):
        target.assign(state)
    return model


def _measure(s: spec.Spec, model: Any, data: spec.Data, variant: str, seed: int) -> dict[str, float]:
    """Every measurement of the model as it is now, by name (a measurement that returns a mapping gives several)."""
    out: dict[str, float] = {}
    for name, f in s.measurements.items():
        try:
            value = f(model, data, **spec.measurement_keywords(f, variant, seed))
        except Exception as exc:
            raise InputError(f"{s.name}: measurements[{name!r}] raised {type(exc).__name__}: {exc}") from None
        given: dict[Any, Any] = dict(value) if isinstance(value, Mapping) else {name: value}
        values: dict[str, float] = {}
        for key, v in given.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise InputError(f"{s.name}: measurements[{name!r}] gives the name {shown(key)}; allowed: identifiers")
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or math.isinf(v)):
                raise InputError(f"{s.name}: measurements[{name!r}] gives {key}={shown(v)}; allowed: a finite number, "
                                 "NaN or None (not measured)")
            values[key] = math.nan if v is None else float(v)
        taken = sorted(set(values) & set(out))
        if taken:
            raise InputError(f"{s.name}: measurements[{name!r}] gives {', '.join(taken)} again; allowed: each name once")
        out.update(values)
    return out


def train(s: spec.Spec, variant: str, seed: int) -> spec.SpecRun:
    """One run through keras.Model.fit, each epoch over its own permutation of the samples: one fit call over the
    epochs' permutations laid end to end where the samples make whole batches (as the question's path), else a call
    per epoch (`NORMCHECK_FIT_CALLS=epoch` always; the suite holds the two to the same history)."""
    variant = s.check_variants([variant])[0]
    seeds.check(seed)
    data = data_for(s, variant)
    model = _prepared(s, variant, seed)
    records: dict[str, Any] = {"seconds": [], "history": {}, "measured": {}}
    for name, value in _measure(s, model, data, variant, seed).items():
        records["measured"][name] = [value]

    def after_epoch(epoch: int, logs: dict[str, Any], seconds: float, trained: Callable[[], Any]) -> None:
        records["seconds"].append(seconds)
        for k, v in logs.items():
            records["history"].setdefault(k, []).append(float(v))
        if s.measurements:
            now = _measure(s, trained(), data, variant, seed)
            if now.keys() != records["measured"].keys():
                raise InputError(f"{s.name}: the measurements of {variant!r} gave {', '.join(sorted(now))} after epoch "
                                 f"{epoch + 1}, {', '.join(sorted(records['measured']))} before; allowed: the same names")
            for name, value in now.items():
                records["measured"][name].append(value)

    validation = {} if data.x_eval is None else {"validation_data": (data.x_eval, data.y_eval)}
    training.fit_in_order(model, data.x, data.y, batch_size=s.batch_for(variant), epochs=s.epochs, seed=seed,
                          callbacks=[training.epoch_recorder(after_epoch)], **validation, **s.fit_arguments)
    return spec.SpecRun(s.name, variant, seed, records["history"], records["measured"], records["seconds"],
                        framework.versions())


_LOADED: dict[str, spec.Spec] = {}


def load_cached(ref: str) -> spec.Spec:
    if ref not in _LOADED:
        _LOADED[ref] = spec.load(ref)
    return _LOADED[ref]


def train_block(tasks: Sequence[tuple[str, int]], ref: str) -> list[str]:
    """One block of the spec `ref` names, as JSON runs: what a worker process (local or a cluster's) trains."""
    s = load_cached(ref)
    return [train(s, v, seed).to_json() for v, seed in tasks]


def train_matrix(ref: str, variants: Sequence[str], seed_list: Sequence[int], *, jobs: int = 1,
                 on_run: OnRun | None = None, done: Sequence[spec.SpecRun] = (), cluster: str | None = None,
                 log: Callable[[str], None] = print) -> dict[int, dict[str, spec.SpecRun]]:
    """Every variant for every seed of the spec `ref` names; with jobs > 1 across spawned worker processes, with
    `cluster` (a Dask scheduler's address) across its workers, each of which imports the spec by its reference (the
    same module, or file path, must be there: its source is part of the fingerprint they are checked against). Runs in
    `done` are not trained again; a run that comes back twice is recorded once."""
    out: dict[int, dict[str, spec.SpecRun]] = {seed: {} for seed in seed_list}
    for r in done:
        out.setdefault(r.seed, {})[r.variant] = r
    tasks = [(v, seed) for seed in seed_list for v in variants if v not in out[seed]]
    total = len(tasks) + sum(len(r) for r in out.values())

    def record(run: spec.SpecRun) -> None:
        if run.variant in out[run.seed]:
            return
        out[run.seed][run.variant] = run
        if on_run is not None:
            on_run(run, sum(len(r) for r in out.values()), total)

    if not tasks:
        return out
    if cluster is None and (jobs <= 1 or len(tasks) == 1):
        s = load_cached(ref)
        for v, seed in tasks:
            record(train(s, v, seed))
        return out
    if cluster is None:
        executor: Any = parallel.LocalPool(jobs)
    else:
        from . import cluster as cluster_module  # noqa: PLC0415 -- optional extra: only --cluster needs Dask

        executor = cluster_module.Cluster(cluster, log=log)
    with executor:
        for _, texts in executor.blocks(parallel.chunks(tasks, executor.workers, weight=len), ref):
            for text in texts:
                record(spec.SpecRun.from_json(text))
    return out


def collect(ref: str, variants: Sequence[str], seed_list: Sequence[int], path: str | Path, *, jobs: int = 1,
            log: Callable[[str], None] = print, cluster: str | None = None,
            warn: Callable[[str], None] = print) -> list[spec.SpecRun]:
    """Train every (variant, seed) into `path` (JSON lines), resuming a file of the same setup: its first line is the
    setup (experiment, backend, versions); runs are appended as their blocks finish, so an interruption loses at most
    the blocks in flight and the same command goes on from there. A file of another setup is refused, naming it."""
    path = Path(path)
    s = load_cached(ref)
    setup = {"setup": {"experiment": s.name, "backend": framework.default_backend(), "versions": framework.versions(),
                       "spec": check(s, s.variants)}}
    done = load_runs(path, setup) if path.exists() else []
    keep = [r for r in done if r.variant in variants and r.seed in set(seed_list)]
    files.check_writable(path)
    pace = parallel.Throughput()
    with path.open("a") as fh:
        if path.stat().st_size == 0:
            fh.write(json.dumps(setup) + "\n")
            fh.flush()

        def on_run(run: spec.SpecRun, finished: int, total: int) -> None:
            fh.write(run.to_json() + "\n")
            fh.flush()
            pace.add("trained", 1)
            log(f"[{finished}/{total}] {run.variant} seed={run.seed}: {sum(run.seconds):.2f} s, about "
                f"{pace.left(finished, total) or 0:.0f} s left")

        matrix = train_matrix(ref, variants, seed_list, jobs=jobs, on_run=on_run, done=keep, cluster=cluster, log=warn)
    return [matrix[seed][v] for seed in seed_list for v in variants]


def load_runs(path: str | Path, setup: dict[str, Any] | None = None) -> list[spec.SpecRun]:
    """A store's runs; with `setup`, one of another setup (experiment, backend, versions) is an InputError naming both."""
    text = files.read_text(path, "spec runs", max_bytes=2**34)
    lines = text.splitlines()
    if not lines:
        return []
    where = f"spec runs {shown(str(path))}"
    head = files.parse_json(lines[0], f"{where}, line 1")
    if not isinstance(head, dict) or "setup" not in head:
        raise InputError(f"{where}: line 1 is not a setup record")
    if setup is not None and head != setup:
        theirs, mine = head.get("setup", {}), setup["setup"]
        differ = [f"{k} {json.dumps(theirs.get(k))} (here {json.dumps(mine.get(k))})" for k in sorted(set(theirs) | set(mine))
                  if theirs.get(k) != mine.get(k)]
        raise InputError(f"{where} holds runs of another setup: {'; '.join(differ)}; allowed: the same experiment, "
                         "spec (rule, epochs, batch sizes, data and models), backend and versions (or another --out)")
    runs = []
    for i, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        if i == len(lines) and not text.endswith("\n"):
            break  # the last line cut short by an interruption: trained again
        runs.append(spec.SpecRun.from_json(line, f"{where}, line {i}"))
    return runs
