"""The jobs `python -m normcheck calibrate` runs, one function each; the CLI picks one from its options.

Training jobs store their runs first and render their pages from what was stored (the
float32 numbers `--report` reads back), so a report rebuilds every page byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .. import files, framework, redraw
from ..constants import FIT_SEEDS, HELD_OUT_FIT, REPLICA_SEEDS
from ..errors import InputError
from ..experiment import QUESTION_EXPERIMENT
from ..run import Run, by_seed
from ..variants import QUESTION_VARIANTS, VARIANTS
from . import agreement, engine, ledger, pages, spread, store

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def folder(out: str | Path) -> Path:
    """The calibration folder, which must exist."""
    if not str(out).strip():
        raise InputError("calibration folder '' is invalid; allowed: the path of an existing folder")
    path = Path(out)
    if not path.is_dir():
        raise InputError(f"calibration folder {str(out)!r} {'is not a folder' if path.exists() else 'does not exist'}")
    return path


def check_replica_experiment(order: str, epochs: int) -> None:
    """The replica runs the question's experiment in normcheck's order only."""
    if order != "owned" or epochs != QUESTION_EXPERIMENT.epochs:
        raise InputError(f"the replica calibrates the question's experiment in normcheck's order; --order {order} "
                         f"--epochs {epochs} need --engine fit")


def calibrate_fit(out: Path, seeds: Iterable[int] | None, order: str, epochs: int, log: Log | None = None,
                  jobs: int = 1, cluster: str | None = None) -> str:
    """Train real fit over `seeds` (default constants.FIT_SEEDS) into runs-<backend>-<order>.jsonl, here or on the Dask
    cluster at `cluster`; its table."""
    path = store.fit_runs(order).path(out, framework.default_backend())
    experiment = QUESTION_EXPERIMENT.replace(order=order, epochs=epochs)
    variants = tuple(VARIANTS) if order == "owned" else QUESTION_VARIANTS
    runs = engine.collect(FIT_SEEDS if seeds is None else seeds, path, experiment, variants, log=log or _quiet, jobs=jobs,
                          cluster=cluster)
    return _fit_table(out, order, runs)


def report_fit(out: Path, order: str) -> str:
    """Real fit's table, rebuilt from its stored runs."""
    path = store.fit_runs(order).path(out, framework.default_backend())
    if not path.exists():
        raise InputError(f"no stored runs at {str(path)!r}; run without --report first")
    return _fit_table(out, order, store.load_fit_runs(path))


def _fit_table(out: Path, order: str, runs: list[Run]) -> str:
    backend = framework.default_backend()
    text = pages.table(runs, backend)
    files.write_text(store.fit_table(order).path(out, backend), text)
    return text


def calibrate_replica(out: Path, seeds: Iterable[int] | None, log: Log | None = None) -> str:
    """The replica over `seeds` (default constants.REPLICA_SEEDS) into runs-<backend>-replica.npz, then every page.

    Finished seed batches wait in runs-<backend>-replica.npz.chunks/ until the runs are saved: an interrupted
    run of the same setup resumes from them."""
    path = store.REPLICA_RUNS.path(out, framework.default_backend())
    _replica_into(path, REPLICA_SEEDS if seeds is None else seeds, log)
    return _publish_replica(out, store.load_replica_runs(path))  # the pages come from the stored (float32) numbers


def _replica_into(target: Path, seeds: Iterable[int], log: Log | None, xla_defaults: bool = False) -> None:
    """The replica over `seeds`, every variant, saved to `target`; finished seed batches wait in <target>.chunks/
    until then, so an interrupted run of the same setup resumes from them, and the batches `target` already holds
    (same setup) are read back, so an extended range trains only its new seeds."""
    files.check_writable(target)
    runs = engine.calibration_runs(list(seeds), list(VARIANTS), log=log or _quiet, resume=store.chunks_folder(target),
                                   xla_defaults=xla_defaults, grow=target)
    store.save_replica_runs(runs, target)
    store.discard_chunks(store.chunks_folder(target))


def report_replica(out: Path) -> str:
    """Every page of the replica's calibration, and the redraw spread under `out`, rebuilt from the stored runs."""
    path = store.REPLICA_RUNS.path(out, framework.default_backend())
    if not path.exists():
        raise InputError(f"no stored runs at {str(path)!r}; run without --report first")
    return _publish_replica(out, store.load_replica_runs(path))


def _publish_replica(out: Path, runs: list[Run]) -> str:
    """<out>/redraw-<backend>.npz (the package's copy changes only by `calibrate --promote`), <out>/<backend>.md and
    (with held-out runs stored) compare.md."""
    backend = framework.default_backend()
    fit = store.stored_fit(out, backend)
    files.write_bytes(redraw.path(backend, out), spread.calibrated(runs, fit))
    text = pages.stored_rates_table(out, backend)
    files.write_text(store.RATES_PAGE.path(out, backend), text)
    if store.HOLDOUT_RUNS.by_backend(out):
        files.write_text(out / store.COMPARE_PAGE, pages.compare_page(out))
    if store.fit_runs(QUESTION_EXPERIMENT.order).by_backend(out):
        files.write_text(out / store.AGREEMENT_PAGE, pages.agreement_page(out))
    return text


def calibrate_holdout(out: Path, seeds: Iterable[int] | None, log: Log | None = None) -> str:
    """The replica over the held-out seeds (default: the range recorded as held out for today's rule) into
    holdout-<backend>.npz; compare.md."""
    backend = framework.default_backend()
    seeds = ledger.held_out_range(ledger.recorded(out), backend) if seeds is None else seeds
    target = store.HOLDOUT_RUNS.path(out, backend)
    _replica_into(target, seeds, log)
    stored = store.REPLICA_RUNS.path(out, backend)
    if stored.exists():
        files.write_text(store.RATES_PAGE.path(out, backend), pages.stored_rates_table(out, backend))
    text = pages.compare_page(out)
    files.write_text(out / store.COMPARE_PAGE, text)
    return text


def calibrate_holdout_fit(out: Path, seeds: Iterable[int] | None, log: Log | None = None, jobs: int = 1,
                          cluster: str | None = None) -> str:
    """Real fit over held-out seeds (default: the first constants.HELD_OUT_FIT of the range held out for today's rule)
    for the variants the replica does not stand for on this backend and those its claims counted on fit read
    (agreement.fit_runs_for), into
    holdout-fit-<backend>.jsonl: their claims' held-out counts and compare's replays of them; the pages."""
    backend = framework.default_backend()
    fit, replica = store.stored_fit(out, backend), store.REPLICA_RUNS.path(out, backend)
    if not fit or not replica.exists():
        raise InputError(f"held-out real fit needs real fit's and the replica's calibration runs of {backend} in "
                         f"{str(out)!r}: run `calibrate --engine fit` and `calibrate` first")
    variants = agreement.fit_runs_for(by_seed(fit), by_seed(store.load_replica_runs(replica)))
    if not variants:
        return f"the replica stands for real fit on every variant of {backend}: no held-out real fit is needed"
    if seeds is None:
        held = ledger.held_out_range(ledger.recorded(out), backend)
        seeds = range(held.start, min(held.stop, held.start + HELD_OUT_FIT))
    target = store.HOLDOUT_FIT_RUNS.path(out, backend)
    engine.collect(seeds, target, QUESTION_EXPERIMENT, variants, log=log or _quiet, jobs=jobs, cluster=cluster)
    text = pages.stored_rates_table(out, backend)
    files.write_text(store.RATES_PAGE.path(out, backend), text)
    if store.HOLDOUT_RUNS.by_backend(out):
        files.write_text(out / store.COMPARE_PAGE, pages.compare_page(out))
    return text


def calibrate_close(out: Path, seeds: Iterable[int] | None, log: Log | None = None) -> str:
    """The replica over the calibration seeds (default constants.REPLICA_SEEDS) compiled with JAX's default options,
    into xla-defaults-<backend>.npz: against runs-<backend>-replica.npz, compare's close regime (compare.md)."""
    target = store.CLOSE_RUNS.path(out, framework.default_backend())
    _replica_into(target, REPLICA_SEEDS if seeds is None else seeds, log, xla_defaults=True)
    if not store.HOLDOUT_RUNS.by_backend(out):
        return f"wrote {target}"
    text = pages.compare_page(out)
    files.write_text(out / store.COMPARE_PAGE, text)
    return text


def calibrate_close_fit(out: Path, seeds: Iterable[int] | None, log: Log | None = None, jobs: int = 1,
                        cluster: str | None = None) -> str:
    """Real fit of every variant the replica stands for on this backend (compare.md leaves the others out of the close
    regime) over seeds whose replica runs are held out (default: the range seed-ranges.json records for this job, engine
    store.CLOSE_FIT_ENGINE), into close-fit-<backend>.jsonl: against those replica runs, compare's close regime under
    real fit (compare.md)."""
    backend = framework.default_backend()
    if backend not in store.HOLDOUT_RUNS.by_backend(out):
        raise InputError(f"the close regime under real fit compares with the held-out replica runs of {backend}, and "
                         f"{str(out)!r} has none: run `calibrate --holdout` first")
    if seeds is None:
        seeds = ledger.held_out_range(ledger.recorded(out), backend, store.CLOSE_FIT_ENGINE)
    target = store.CLOSE_FIT_RUNS.path(out, backend)
    variants = [v for v in VARIANTS if v not in spread.from_fit(backend)]
    engine.collect(seeds, target, QUESTION_EXPERIMENT, variants, log=log or _quiet, jobs=jobs, cluster=cluster)
    text = pages.compare_page(out)
    files.write_text(out / store.COMPARE_PAGE, text)
    return text


def freeze(out: Path) -> Path:
    """calibration/rule.json: the rule as it is now, with its version; counts on seeds drawn after its commit hold for it."""
    path = out / ledger.RULE
    files.write_json(path, {"version": ledger.rule_version(), "rule": ledger.rule()})
    return path

