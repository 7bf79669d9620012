"""`python -m normcheck`: reproduce the question, check every claim, and the other jobs."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata

from . import (
    __version__,
    baseline,
    bench,
    carried,
    claims,
    cluster,
    files,
    fitorder,
    framework,
    mutations,
    parallel,
    plots,
    report,
    scaling,
    spec,
    spec_baseline,
    spec_fit,
    spec_jobs,
    sweep,
    variants,
)
from .bench import ROUNDS
from .calibration import engine as calibration_engine
from .calibration import jobs as calibration_jobs
from .calibration import ledger as calibration_ledger
from .calibration import pages as calibration_pages
from .calibration import promote as calibration_promote
from .calibration import property_rates as calibration_property_rates
from .constants import CLUSTER_ENV, DEFAULT_SEEDS, FIT_SEEDS, HELD_OUT_FIT, MAX_DRAWS, REPLICA_SEEDS, seed_span
from .errors import ChildError, InputError, shown
from .experiment import ORDERS, QUESTION_EXPERIMENT, Experiment
from .framework import BACKENDS
from .parallel import available_cores
from .seeds import SYNTAX
from .seeds import parse as parse_seeds
from .training import check_settings
from .variants import QUESTION_VARIANTS, get_variant

COMMANDS = ("run", "calibrate", "sweep", "bench", "baseline", "mutations")
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"  # GitHub Actions' job summary: normcheck appends its Markdown there
JOBS_PER_CORE = 4  # --jobs beyond this many workers per core only contend (each holds a framework in memory)
MAX_LINE = 1000  # the one error line: a huge bad value is cut, not reprinted


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """Bad arguments are bad input like any other: one line on stderr, exit 2."""
        raise InputError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is invalid; allowed: an integer >= 1")
    return value


def _draws(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_DRAWS:
        raise argparse.ArgumentTypeError(f"{value} is invalid; allowed: 1 to {MAX_DRAWS} draws per property")
    return value


def max_jobs() -> int:
    return JOBS_PER_CORE * available_cores()


def _jobs(text: str) -> int:
    value = _positive_int(text)
    if value > max_jobs():
        raise argparse.ArgumentTypeError(f"{value} is invalid; allowed: 1 to {max_jobs()} ({JOBS_PER_CORE} per core "
                                         "available; workers beyond the runs are never started)")
    return value


def _range_float(low: float, high: float) -> Callable[[str], float]:
    """A float option's type: a finite number from `low` to `high`."""
    def parse_float(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is invalid; allowed: a number from {low:g} to {high:g}")
        return value

    return parse_float


def _name_list(what: str) -> Callable[[str], list[str]]:
    def parse_names(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"{text!r} names no {what}; allowed: comma-separated {what} names")
        return names

    return parse_names


def _target(text: str) -> float:
    try:
        return spec_jobs.parse_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed_list(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _variant_names(text: str) -> list[str]:
    """Variant names, each once: the question's or, with --experiment, that spec's (checked once it is loaded)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("empty; allowed: comma-separated variant names")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"variant(s) {', '.join(twice)} listed twice; allowed: each variant once")
    return names


def _variant_list(text: str) -> list[str]:
    names = _variant_names(text)
    try:
        return [get_variant(n).name for n in names]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser, seeds_default: str | None, *, epochs: int = Experiment.epochs,
            jobs: bool = True, quiet: bool = True) -> None:
    """The options a command really uses, each with its true default in the help."""
    p.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    if seeds_default is not None:
        p.add_argument("--seeds", type=_seed_list, default=_seed_list(seeds_default),
                       help=f"seeds: {SYNTAX} (default {seeds_default})")
    p.add_argument("--epochs", type=_positive_int, default=epochs, help="epochs per run (default %(default)s)")
    if jobs:
        p.add_argument("--jobs", type=_jobs, default=available_cores(),
                       help="worker processes; 1 trains in this process (default %(default)s: the cores available)")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _cluster_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help=f"train on the workers of the Dask scheduler at ADDRESS (tcp://HOST:8786) instead of --jobs "
                        f"worker processes here (default: ${CLUSTER_ENV}, else here; docs/cluster.md)")


def _experiment_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", metavar="REF", default=None,
                   help="your own experiment instead of the question's: a normcheck.spec.Spec named as pkg.module:NAME "
                        "or path/file.py:NAME (docs/experiments.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m normcheck", description=__doc__)
    parser.add_argument("--version", action=_Version, nargs=0, help="print normcheck's and the frameworks' versions and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="(default) reproduce the question's experiment and check every claim")
    _common(run, seed_span(range(DEFAULT_SEEDS)))
    _experiment_option(run)
    run.add_argument("--variants", type=_variant_names, default=None, help="comma-separated variants (default: all)")
    run.add_argument("--order", choices=ORDERS, default="owned",
                     help="batch order: normcheck's per-(seed, epoch) permutation, or fit(shuffle=True)'s own (default %(default)s)")
    _cluster_option(run)
    run.add_argument("--json", metavar="PATH", help="write the runs and verdicts as JSON")
    run.add_argument("--plot", metavar="PATH", help="write learning curves: .png, .svg or .pdf")
    run.add_argument("--markdown", metavar="PATH",
                     help="write the claim table as Markdown (also appended to $GITHUB_STEP_SUMMARY when set)")

    cal = sub.add_parser("calibrate", help="run many seeds and tabulate each claim's spread and failure rate")
    _common(cal, None, jobs=False)
    cal.add_argument("--jobs", type=_jobs, default=None,
                     help="worker processes for --engine fit (default: the cores available); the replica runs in one")
    _cluster_option(cal)
    cal.add_argument("--seeds", type=_seed_list, default=None,
                     help=f"seeds (default: {seed_span(REPLICA_SEEDS)} with the replica, {seed_span(FIT_SEEDS)} with fit; "
                          "required with --experiment)")
    _experiment_option(cal)
    cal.add_argument("--target", type=_target, default=spec_jobs.TARGET,
                     help="with --experiment: the false-fail rate per run the suggested thresholds aim at (default %(default)g)")
    cal.add_argument("--engine", choices=calibration_engine.ENGINES, default="replica",
                     help="replica: fit's math over all seeds at once in JAX; fit: real training (default %(default)s)")
    cal.add_argument("--readme", metavar="PATH", help="only rewrite the error-rate block of README (PATH) from the stored runs")
    cal.add_argument("--holdout", action="store_true",
                     help="replica seeds recorded as held out for today's rule in calibration/seed-ranges.json (or "
                          "--seeds): the second set of counts, and baseline compare's false-alarm replay "
                          "(calibration/compare.md); with --engine fit, real fit over the first "
                          f"{HELD_OUT_FIT} of them for the variants the replica does not stand for")
    cal.add_argument("--properties", action="store_true",
                     help="only count the input-scale properties' failing draws (real fit, --draws per property): "
                          "calibration/properties-<backend>.md")
    cal.add_argument("--draws", type=_draws, default=None,
                     help=f"draws per property with --properties (default {calibration_property_rates.DRAWS})")
    cal.add_argument("--xla-defaults", action="store_true",
                     help=f"replica seeds {seed_span(REPLICA_SEEDS)} (or --seeds) again, compiled with JAX's default "
                          "options: the same runs with float-level differences, for compare's close regime "
                          "(calibration/compare.md)")
    cal.add_argument("--close", action="store_true",
                     help="with --engine fit: real fit of every variant whose spread compare takes from the "
                          "replica on this backend, over the seeds calibration/seed-ranges.json holds out for this "
                          "job (or --seeds), for compare's close regime against their replica runs "
                          "(calibration/compare.md only)")
    cal.add_argument("--out", metavar="DIR", default="calibration", help="folder for runs and tables (default %(default)s)")
    cal.add_argument("--report", action="store_true", help="only rebuild the tables from the stored runs")
    cal.add_argument("--freeze", action="store_true",
                     help="only write the rule every count belongs to (calibration/rule.json): commit it before drawing held-out seeds")
    cal.add_argument("--page", metavar="PATH", help="only write the claims page (docs/claims.md) from the stored runs of every backend")
    cal.add_argument("--promote", action="store_true",
                     help="only copy <out>/redraw-<backend>.npz (written by calibrate or --report) into the package, where "
                          "baseline compare reads it, once checked: well formed, the question's experiment, its versions, "
                          "at least as many seeds as the shipped file. It moves the frozen rule: "
                          "tests/docs/test_seed_ranges.py fails until a new --freeze")
    cal.add_argument("--order", choices=ORDERS, default="owned", help="batch order to calibrate (default %(default)s)")

    sw = sub.add_parser("sweep", help="accuracy against input scale, per variant, with a plot")
    _common(sw, "3", epochs=1, jobs=False)
    sw.add_argument("--variants", type=_variant_list, default=list(sweep.SWEEP_VARIANTS))
    _cluster_option(sw)
    sw.add_argument("--low", type=_range_float(*sweep.SCALE_RANGE), default=1.0,
                    help=f"smallest max|x|, {sweep.SCALE_RANGE[0]:g} to {sweep.SCALE_RANGE[1]:g} (default %(default)g)")
    sw.add_argument("--high", type=_range_float(*sweep.SCALE_RANGE), default=1e6,
                    help=f"largest max|x|, above --low, at most {sweep.SCALE_RANGE[1]:g} (default %(default)g)")
    sw.add_argument("--per-decade", type=_positive_int, default=2, help="grid points per decade (default %(default)s)")
    sw.add_argument("--csv", metavar="PATH", default="sweep.csv", help="write the points (default %(default)s)")
    sw.add_argument("--plot", metavar="PATH", default="sweep.png", help="write the plot: .png, .svg or .pdf (default %(default)s)")

    bench = sub.add_parser("bench", help="epoch time per variant, and the speed targets as ratios")
    _common(bench, None, epochs=4, quiet=False)
    bench.add_argument("--json", metavar="PATH", help="write the epoch times (and targets) as JSON")
    bench.add_argument("--variants", type=_variant_list, default=list(QUESTION_VARIANTS))
    bench.add_argument("--targets", action="store_true", help="also measure recording overhead and matrix vs the question's script")
    bench.add_argument("--rounds", type=_positive_int, default=None,
                       help=f"with --targets: measure each whole process this many times, in turn (default {ROUNDS})")
    bench.add_argument("--readme", metavar="PATH", help="only rewrite the speed block in PATH (docs/performance.md) from stored results")
    bench.add_argument("--cluster-overhead", action="store_true",
                       help=f"only time {scaling.SEEDS} seeds through the local pool and a local Dask cluster of --jobs "
                            f"workers, write docs/cluster-<backend>.json and the prediction block of {scaling.PAGE}")
    bench.add_argument("--results", metavar="FILE", nargs="+", default=None,
                       help="with --readme: the `--targets --json` files to render (default: docs/bench-{tensorflow,jax}.json)")

    mut = sub.add_parser("mutations", help="self-test: inject framework changes into Keras and name the tests that catch each")
    mut.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    mut.add_argument("--seeds", type=_seed_list, default=_seed_list(seed_span(range(DEFAULT_SEEDS))),
                     help=f"seeds for the claim tests (default {seed_span(range(DEFAULT_SEEDS))})")
    mut.add_argument("--only", type=_name_list("mutation"), default=None,
                     help="comma-separated mutation names (default: all)")
    mut.add_argument("--out", metavar="PATH", help="write the markdown table here")

    base = sub.add_parser("baseline", help="record runs on one framework version, compare another against them")
    bsub = base.add_subparsers(dest="action", parser_class=_Parser, required=True)
    rec = bsub.add_parser("record", help="train every variant over the seeds and save runs + versions as JSON")
    _common(rec, str(DEFAULT_SEEDS))
    rec.add_argument("path", metavar="PATH")
    rec.add_argument("--force", action="store_true", help="overwrite an existing file")
    _experiment_option(rec)
    _cluster_option(rec)
    cmp_ = bsub.add_parser("compare", help="train today's runs for the baseline's seeds and compare")
    cmp_.add_argument("path", metavar="PATH")
    cmp_.add_argument("--backend", choices=BACKENDS)
    _experiment_option(cmp_)
    cmp_.add_argument("--calibration", metavar="DIR", default=None,
                      help="with --experiment: the folder of its `calibrate --experiment` runs, for the redrawn spread "
                           "(default: the baseline's own seeds, with less power)")
    cmp_.add_argument("--jobs", type=_jobs, default=available_cores(),
                      help="worker processes (default %(default)s: the cores available)")
    _cluster_option(cmp_)
    cmp_.add_argument("--json", metavar="OUT", help="write the comparison as JSON")
    cmp_.add_argument("--markdown", metavar="PATH",
                      help="write what moved as Markdown (also appended to $GITHUB_STEP_SUMMARY when set)")
    cmp_.add_argument("--plot", metavar="PATH",
                      help="draw baseline and today per variant and metric, the tolerance band, the moved cells marked: "
                           ".png, .svg or .pdf")
    cmp_.add_argument("--quiet", action="store_true")
    return parser


class _Version(argparse.Action):
    """--version on one line as it is: argparse's own action wraps it at the terminal's width."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text() -> str:
    """normcheck's version and the frameworks installed beside it, read from package metadata (nothing imported)."""
    found = []
    for name in (*BACKENDS[:1], "tf-keras", "keras", *BACKENDS[1:], "numpy"):  # TensorFlow and Keras 2 first
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"normcheck {__version__} ({', '.join(found)})"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv = ["run", *argv]
    return build_parser().parse_args(argv)


def _progress(quiet: bool):
    if quiet:
        return None, None
    tty = sys.stderr.isatty()

    def epoch(variant: str, seed: int, epoch: int, epochs: int, accuracy: float) -> None:
        if tty:
            print(f"\r  {variant} seed {seed}: epoch {epoch}/{epochs} accuracy {accuracy:.4f}   ",
                  end="", file=sys.stderr, flush=True)

    start = time.monotonic()

    def run_done(run, done: int, total: int) -> None:
        elapsed = time.monotonic() - start
        eta = f", about {elapsed / done * (total - done):.0f} s left" if done < total else f", {elapsed:.0f} s in all"
        print(f"{chr(13) if tty else ''}[{done}/{total}] {run.variant} seed {run.seed}: accuracy "
              f"{run.accuracy[0]:.4f} after epoch 1, {run.accuracy[-1]:.4f} after {run.epochs}, "
              f"{sum(run.seconds):.1f} s{eta}{' ' * 10 if tty else ''}", file=sys.stderr, flush=True)

    return epoch, run_done


def _step_summary() -> str | None:
    """The file $GITHUB_STEP_SUMMARY names, if set: an output like any option's."""
    return os.environ.get(STEP_SUMMARY) or None


def _gate(reads: dict[str, str | None], writes: dict[str, str | None], *, summary: bool = False, force: bool = True) -> None:
    """Every path this command reads or writes (options and environment alike), checked before any training."""
    if summary:
        writes = {**writes, f"${STEP_SUMMARY}": _step_summary()}
    files.gate(reads, writes, force=force)


def _cluster(args: argparse.Namespace) -> str | None:
    """Where this command trains: --cluster, else $NORMCHECK_CLUSTER, else here. Calibration jobs that train nothing or
    run the replica train here (cmd_calibrate refuses an explicit --cluster for them)."""
    if not hasattr(args, "cluster"):
        return None
    if args.command == "calibrate" and (args.engine == "replica" or args.report or args.properties):
        return None
    return args.cluster if args.cluster is not None else os.environ.get(CLUSTER_ENV) or None


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    _gate({}, {"--json": args.json, "--markdown": args.markdown, "--plot": args.plot}, summary=True)
    if args.plot:
        plots.check_target(args.plot)
    if args.experiment is not None:
        return spec_run(args)
    experiment = Experiment(epochs=args.epochs, order=args.order)
    names = [get_variant(n).name for n in args.variants] if args.variants else list(variants.VARIANTS)
    seeds = args.seeds
    epoch_cb, run_cb = _progress(args.quiet)
    matrix = parallel.train_matrix(names, seeds, experiment, jobs=args.jobs, on_run=run_cb, progress=epoch_cb,
                                   cluster=_cluster(args), log=_warn)
    by_variant = {n: [matrix[s][n] for s in seeds] for n in names}
    print(report.question_table(by_variant))
    verdicts = claims.check_all(matrix) if claims.applies_to(experiment) else []
    print()
    if verdicts:
        print(report.verdict_lines(verdicts))
        print(carried.line(matrix[seeds[0]][names[0]].backend, len(seeds), calibration_ledger.rule_version(),
                           order=experiment.order))
    else:
        print(f"claims are calibrated for the question's experiment ({QUESTION_EXPERIMENT.epochs} epochs); none checked")
    if args.json:
        files.write_json(args.json, {
            "runs": [r.to_dict() for rs in by_variant.values() for r in rs],
            "verdicts": [v.to_dict() for v in verdicts],
        })
    if args.plot:
        plots.learning_curves(by_variant, args.plot)
        print(f"wrote {args.plot}")
    if verdicts:
        _summary(args.markdown, report.verdicts_markdown(verdicts, matrix[seeds[0]][names[0]].versions))
    return 0 if all(v.holds for v in verdicts) else 1


def spec_run(args: argparse.Namespace) -> int:
    """`run --experiment REF`: the spec's runs through fit, a table, its claims' verdicts."""
    if args.epochs != Experiment.epochs:
        raise InputError("--epochs applies to the question's experiment; a spec states its own (docs/experiments.md)")
    if args.order != "owned":
        raise InputError("--order applies to the question's experiment; your own experiment's batch order is "
                         "normcheck's permutation per (seed, epoch) (docs/experiments.md)")
    s = spec.load(args.experiment)
    names = s.check_variants(args.variants)
    spec_fit.check(s, names)
    def on_run(run: spec.SpecRun, finished: int, total: int) -> None:
        print(f"[{finished}/{total}] {run.variant} seed={run.seed}", file=sys.stderr, flush=True)

    matrix = spec_fit.train_matrix(spec.absolute(args.experiment), names, args.seeds, jobs=args.jobs,
                                   on_run=None if args.quiet else on_run, cluster=_cluster(args), log=_warn)
    print(spec_jobs.table(s, matrix, names))
    found = spec_jobs.verdicts(s, matrix)
    print()
    print(report.verdict_lines(found) if found else f"{s.name} has no claim over the variants run")
    if args.json:
        files.write_json(args.json, spec_jobs.run_json(matrix, found))
    if args.plot:
        plots.spec_curves(s, matrix, names, args.plot)
        print(f"wrote {args.plot}")
    if found:
        first = next(iter(matrix.values()))[names[0]]
        _summary(args.markdown, report.verdicts_markdown(found, first.versions, claims=s.claims))
    return 0 if all(v.holds for v in found) else 1


def _summary(path: str | None, text: str) -> None:
    """Markdown to `path` (atomically) and to the CI job summary GitHub Actions names in $GITHUB_STEP_SUMMARY."""
    if path:
        files.write_text(path, text)
    step_summary = _step_summary()
    if step_summary:
        files.append_text(step_summary, text, f"${STEP_SUMMARY}")


def cmd_calibrate(args: argparse.Namespace) -> int:
    """One calibration job per call, chosen from the options (calibration/jobs.py)."""
    only = [o for o, v in (("--page", args.page), ("--readme", args.readme), ("--freeze", args.freeze),
                           ("--promote", args.promote), ("--report", args.report), ("--holdout", args.holdout),
                           ("--xla-defaults", args.xla_defaults), ("--close", args.close),
                           ("--properties", args.properties)) if v]
    if len(only) > 1 and only != ["--report", "--holdout"]:
        raise InputError(f"{' and '.join(only)} are separate jobs; run one per call")
    _gate({}, {"--page": args.page, "--readme": args.readme})
    if args.experiment is not None:
        if args.engine != "fit" or [o for o in only if o != "--report"] or args.order != "owned":
            raise InputError("--experiment calibrates your own experiment with --engine fit (and --report); the replica, "
                             "--holdout, --order and the question's pages belong to the question")
        if args.seeds is None and not args.report:
            raise InputError("--experiment needs --seeds (e.g. 0-1999): which seeds to train")
        if args.epochs != Experiment.epochs:
            raise InputError("--epochs applies to the question's experiment; a spec states its own (docs/experiments.md)")
        print(spec_jobs.calibrate(args.experiment, args.seeds or [], args.out, framework.default_backend(),
                                  jobs=args.jobs or available_cores(), target=args.target, report_only=args.report,
                                  log=_warn if not args.quiet else (lambda m: None), cluster=_cluster(args), warn=_warn))
        return 0
    if args.page:
        files.write_text(args.page, calibration_pages.claims_page(args.out))
        print(f"wrote {args.page}")
        return 0
    if args.freeze:
        path = calibration_jobs.freeze(calibration_jobs.folder(args.out))
        print(f"wrote {path}: rule {calibration_ledger.rule_version()}; commit it, then record the fresh held-out range")
        return 0
    if args.readme:
        calibration_pages.write_readme_summary(args.readme, args.out)
        print(f"wrote the error-rate block of {args.readme}")
        return 0
    if args.promote:
        print(calibration_promote.promote(calibration_jobs.folder(args.out), framework.default_backend()))
        return 0
    if args.draws is not None and not args.properties:
        raise InputError(f"--draws {args.draws} applies to --properties")
    if args.properties:
        out = calibration_jobs.folder(args.out)
        log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
        print(calibration_property_rates.count(out, args.draws or calibration_property_rates.DRAWS, log=log))
        return 0
    if args.jobs is not None and args.engine == "replica":
        raise InputError(f"--jobs {args.jobs} applies to --engine fit; the replica runs every seed in one process")
    if args.cluster is not None and (args.engine == "replica" or args.report or args.properties):
        raise InputError(f"--cluster {shown(args.cluster)} applies to training with --engine fit; the replica runs every seed "
                         "in one process, --report trains nothing, --properties trains here")
    log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    out = calibration_jobs.folder(args.out)
    if args.engine == "replica":
        if args.close:
            raise InputError("--close runs real fit (--engine fit); the replica's close-regime runs are --xla-defaults")
        calibration_jobs.check_replica_experiment(args.order, args.epochs)
        if args.holdout and not args.report:
            text = calibration_jobs.calibrate_holdout(out, args.seeds, log)
        elif args.xla_defaults:
            text = calibration_jobs.calibrate_close(out, args.seeds, log)
        elif args.report:
            text = calibration_jobs.report_replica(out)
        else:
            text = calibration_jobs.calibrate_replica(out, args.seeds, log)
    elif args.xla_defaults:
        raise InputError("--xla-defaults runs the replica; it cannot be combined with --engine fit")
    elif (args.holdout and not args.report) or args.close:
        if args.order != QUESTION_EXPERIMENT.order or args.epochs != QUESTION_EXPERIMENT.epochs:
            raise InputError(f"{'--close' if args.close else '--holdout'} runs the question's experiment in normcheck's "
                             f"order; --order {args.order} --epochs {args.epochs} are not held out")
        job = calibration_jobs.calibrate_close_fit if args.close else calibration_jobs.calibrate_holdout_fit
        text = job(out, args.seeds, log, jobs=args.jobs or available_cores(), cluster=_cluster(args))
    elif args.report:
        text = calibration_jobs.report_fit(out, args.order)
    else:
        text = calibration_jobs.calibrate_fit(out, args.seeds, args.order, args.epochs, log,
                                              jobs=args.jobs or available_cores(), cluster=_cluster(args))
    print(text)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    if not args.low < args.high:
        raise InputError(f"--low {args.low:g} / --high {args.high:g} are invalid; allowed: low < high, both from "
                         f"{sweep.SCALE_RANGE[0]:g} to {sweep.SCALE_RANGE[1]:g}")
    if args.per_decade > sweep.MAX_PER_DECADE:
        raise InputError(f"--per-decade {args.per_decade} is invalid; allowed: 1 to {sweep.MAX_PER_DECADE}")
    scales = sweep.grid(args.low, args.high, args.per_decade)
    runs = len(args.variants) * len(scales) * len(args.seeds)
    if runs > sweep.MAX_RUNS:
        raise InputError(f"--low {args.low:g} --high {args.high:g} --per-decade {args.per_decade} with {len(args.seeds)} "
                         f"seed(s) and {len(args.variants)} variant(s) is {runs} training runs; allowed: at most "
                         f"{sweep.MAX_RUNS} (fewer points per decade, seeds or variants)")
    _gate({}, {"--csv": args.csv, "--plot": args.plot})
    plots.check_target(args.plot)
    log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    points = sweep.sweep(args.variants, scales, args.seeds, args.epochs, log, cluster=_cluster(args))
    files.write_text(args.csv, sweep.to_csv(points))
    plots.scale_sweep(points, args.plot)
    print(f"wrote {args.csv} and {args.plot}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.cluster_overhead and (args.targets or args.readme or args.json or args.results):
        raise InputError("--cluster-overhead is a job of its own; it writes its JSON and page itself")
    if args.rounds is not None and not args.targets:
        raise InputError(f"--rounds {args.rounds} measures the speed targets; allowed only with --targets")
    if args.results and not args.readme:
        raise InputError("--results renders the speed block; allowed only with --readme PATH")
    _gate({f"--results {p}": p for p in args.results or ()}, {"--readme": args.readme, "--json": args.json})
    if args.readme:
        bench.write_readme(args.readme, args.results or bench.RESULTS)
        print(f"wrote the speed block of {args.readme}")
        return 0
    backend = framework.default_backend()
    if args.cluster_overhead:
        _gate({}, {"JSON": scaling.results_path(backend), "page": scaling.PAGE})
        files.write_json(scaling.results_path(backend), scaling.measure(workers=args.jobs))
        scaling.write_page(scaling.PAGE, scaling.results_path(backend))
        print(f"wrote {scaling.results_path(backend)} and the {backend} block of {scaling.PAGE}")
        return 0
    times = bench.epoch_times(args.variants, args.epochs, slow_too=framework.traits(backend).whole_epoch_calls)
    print(bench.epoch_table(times, backend), flush=True)
    out: dict = {"backend": backend, "versions": framework.versions(), "epoch_times": [dataclasses.asdict(t) for t in times]}
    if args.targets:
        overhead = bench.recording_overhead()
        print("\n" + bench.overhead_line(overhead), flush=True)
        matrix = bench.matrix_vs_question_script(backend, jobs=args.jobs, rounds=args.rounds or ROUNDS)
        print(bench.matrix_line(matrix, backend, args.jobs))
        out.update(recording_overhead=dataclasses.asdict(overhead), matrix_vs_question_script=matrix)
    if args.json:
        files.write_json(args.json, out)
    return 0


def cmd_mutations(args: argparse.Namespace) -> int:
    _gate({}, {"--out": args.out})
    names = args.only or list(mutations.MUTATIONS)
    rows = ["| change | caught by (failing tests) |", "|---|---|"]
    control: list[str] = []
    uncaught = []
    for name, failed in mutations.self_test(framework.default_backend(), ",".join(map(str, args.seeds)), names):
        if name is None:
            control = failed
            print(f"control (no mutation): {len(control)} failing {control}", flush=True)
            continue
        rows.append(mutations.table_row(name, failed))
        print(rows[-1], flush=True)
        if not failed:
            uncaught.append(name)
    if args.out:
        files.write_text(args.out, "\n".join(rows) + "\n")
    return 1 if control or uncaught else 0


def cmd_baseline(args: argparse.Namespace) -> int:
    if args.experiment is not None:
        return spec_baseline_cmd(args)
    if getattr(args, "calibration", None) is not None:
        raise InputError(f"--calibration {shown(args.calibration)} applies to --experiment; the question's spread ships "
                         "with normcheck")
    _, run_cb = _progress(args.quiet)
    if args.action == "record":
        _gate({}, {"PATH": args.path}, force=args.force)
        experiment = Experiment(epochs=args.epochs)
        seeds = args.seeds
        order = fitorder.read_orders_in_fresh_process(framework.default_backend())  # first: a failure here costs no training
        matrix = parallel.train_matrix(list(variants.VARIANTS), seeds, experiment, jobs=args.jobs, on_run=run_cb,
                                       cluster=_cluster(args), log=_warn)
        runs = [matrix[s][v] for s in seeds for v in variants.VARIANTS]
        baseline.save(baseline.make(runs, experiment, seeds, framework.versions(), order), args.path, force=args.force)
        print(f"recorded {len(runs)} runs ({len(seeds)} seeds) on {framework.versions()} to {args.path}")
        return 0
    _gate({"the baseline PATH": args.path}, {"--json": args.json, "--markdown": args.markdown, "--plot": args.plot},
          summary=True)
    if args.plot:
        plots.check_target(args.plot)
    base = baseline.load(args.path)
    baseline.check_spread(base, {"backend": framework.default_backend()})  # the shipped spread, before training
    order = fitorder.read_orders_in_fresh_process(framework.default_backend())
    today = parallel.train_matrix(base.variants, base.seeds, base.experiment, jobs=args.jobs, on_run=run_cb,
                                  cluster=_cluster(args), log=_warn)
    result = baseline.compare(base, today, framework.versions(), order)
    rate = carried.compare_line(base.versions.get("backend", ""), framework.default_backend(), len(base.seeds),
                                result.regime, calibration_ledger.rule_version(),
                                question=base.experiment == QUESTION_EXPERIMENT)
    print(result.table())
    print(rate)
    if args.json:
        files.write_json(args.json, result.to_dict())
    if args.plot:
        plots.comparison(result, args.plot)
        print(f"wrote {args.plot}")
    _summary(args.markdown, result.markdown() + f"\n{rate}\n")
    return 0 if result.ok else 1


def spec_baseline_cmd(args: argparse.Namespace) -> int:
    """`baseline record|compare --experiment REF`: your own experiment's runs saved, then trained again and compared."""
    s = spec.load(args.experiment)
    ref = spec.absolute(args.experiment)

    def on_run(run: spec.SpecRun, finished: int, total: int) -> None:
        print(f"[{finished}/{total}] {run.variant} seed={run.seed}", file=sys.stderr, flush=True)

    progress = None if args.quiet else on_run
    if args.action == "record":
        if args.epochs != Experiment.epochs:
            raise InputError("--epochs applies to the question's experiment; a spec states its own (docs/experiments.md)")
        _gate({}, {"PATH": args.path}, force=args.force)
        fingerprint = spec_fit.check(s, s.variants)
        matrix = spec_fit.train_matrix(ref, s.variants, args.seeds, jobs=args.jobs, on_run=progress,
                                       cluster=_cluster(args), log=_warn)
        runs = [matrix[x][v] for x in args.seeds for v in s.variants]
        files.write_json(args.path, spec_baseline.record(runs, s, args.seeds, fingerprint))
        print(f"recorded {len(runs)} runs of {s.name} ({len(args.seeds)} seeds) on {framework.versions()} to {args.path}")
        return 0
    _gate({"the baseline PATH": args.path}, {"--json": args.json, "--markdown": args.markdown, "--plot": args.plot})
    if args.plot:
        raise InputError("--plot draws the question's comparison; for --experiment use --json or --markdown")
    base = spec_baseline.load(args.path, s)
    calibration = None
    if args.calibration is not None:
        store = spec_jobs.store_path(args.calibration, s, framework.default_backend())
        if not store.exists():
            raise InputError(f"--calibration {shown(args.calibration)} holds no {store.name}; run `calibrate --experiment "
                             f"{args.experiment} --engine fit --seeds A-B --out {args.calibration}` first")
        calibration = {x: rs for x, rs in spec_jobs.by_seed(spec_fit.load_runs(store)).items()
                       if all(v in rs for v in base["variants"])}
    spec_baseline.check_same_spec(base, spec_fit.check(s, s.variants), f"baseline {shown(args.path)}")
    today = spec_fit.train_matrix(ref, base["variants"], base["seeds"], jobs=args.jobs, on_run=progress,
                                  cluster=_cluster(args), log=_warn)
    result = spec_baseline.compare(spec_jobs.by_seed(base["runs"]), today, base["variants"], calibration)
    found = spec_jobs.verdicts(s, today)
    lines = [f"{s.name}: baseline on {framework.stack_text(base['versions'])}, today on "
             f"{framework.stack_text(framework.versions())}; regime {result.regime}"]
    if result.regime != "identical":
        lines.append(f"{len(result.moved)} of {result.cells} cells moved beyond tolerance (medians over "
                     f"{len(base['seeds'])} seeds; spread from {result.spread})")
    lines += [m.line() for m in result.moved]
    lines += ["", report.verdict_lines(found)] if found else []
    text = "\n".join(lines)
    print(text)
    if args.json:
        files.write_json(args.json, {"regime": result.regime, "cells": result.cells, "spread": result.spread,
                                     "moved": [{"variant": m.cell[0], "metric": m.cell[1], "epoch": m.cell[2],
                                                "baseline": m.baseline, "today": m.today, "tolerance": m.tolerance}
                                               for m in result.moved],
                                     "verdicts": [v.to_dict() for v in found]})
    _summary(args.markdown, "```\n" + text + "\n```\n")
    return 0 if result.ok and all(v.holds for v in found) else 1


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """Exit 0 every claim holds, 1 a claim fails or something moved, 2 bad input, 3 internal error, 130/143 interrupted.

    `own_process`: this process exists only for the CLI, so it may keep TensorFlow out on
    JAX/torch and quiet the frameworks' start-up logs.
    """
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        framework.select_backend(getattr(args, "backend", None))
        check_settings()
        if _cluster(args) is not None:  # before anything else: a wrong address costs no training
            cluster.check_address(_cluster(args), what="--cluster" if args.cluster is not None else f"${CLUSTER_ENV}")
        if os.environ.get("NORMCHECK_MUTATION"):  # applied in the processes normcheck starts: checked here, first
            mutations.get(os.environ["NORMCHECK_MUTATION"])
        if own_process:
            framework.skip_tensorflow()
            framework.quiet_startup()
            os.environ.setdefault("NORMCHECK_JAX_CACHE", framework.default_jax_cache())
        handler = {"run": cmd_run, "calibrate": cmd_calibrate, "sweep": cmd_sweep, "baseline": cmd_baseline,
                   "bench": cmd_bench, "mutations": cmd_mutations}[args.command]
        return handler(args)
    except InputError as exc:
        print(f"normcheck: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except ChildError as exc:
        print(f"normcheck: error: {_one_line(exc)} (exit 3: not a bad argument)", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("normcheck: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("normcheck: terminated", file=sys.stderr)
        return 143
    except Exception:
        traceback.print_exc()
        print("normcheck: internal error (exit 3): not a bad argument; the traceback above says where", file=sys.stderr)
        return 3


def _one_line(exc: Exception) -> str:
    """The error as one line of at most MAX_LINE characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= MAX_LINE else f"{text[:MAX_LINE]}... ({len(text)} characters)"


class Terminated(Exception):
    """SIGTERM, turned into an exception so workers are stopped and nothing half-written is left."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def console() -> None:
    """`normcheck` and `python -m normcheck`: the same program, in a process of its own."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(main(own_process=True))
