"""`python -m normcheck`: reproduce the seed, check every claim, and the other jobs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .experiment import Experiment

COMMANDS = ("run", "calibrate", "sweep", "bench", "baseline")


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is invalid; allowed: an integer >= 1")
    return value


def _seed_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: 0 to 2**32 - 1") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value} is invalid; allowed: 0 to 2**32 - 1")
    return value


def _variant_list(text: str) -> list[str]:
    from .variants import get_variant

    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("empty; allowed: comma-separated variant names")
    try:
        return [get_variant(n).name for n in names]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser, seeds_default: int) -> None:
    from .framework import BACKENDS

    p.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    p.add_argument("--seeds", type=_positive_int, default=seeds_default, help=f"number of seeds (default {seeds_default})")
    p.add_argument("--first-seed", type=_seed_int, default=0, help="first seed (default 0)")
    p.add_argument("--epochs", type=_positive_int, default=Experiment.epochs, help="epochs per run (default 10)")
    p.add_argument("--jobs", type=_positive_int, default=1, help="worker processes (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m normcheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="(default) reproduce the seed's experiment and check every claim")
    _common(run, 1)
    run.add_argument("--variants", type=_variant_list, default=None, help="comma-separated variants (default: all)")
    run.add_argument("--order", choices=("owned", "fit"), default="owned",
                     help="batch order: normcheck's per-(seed, epoch) permutation, or fit(shuffle=True)'s own")
    run.add_argument("--json", metavar="PATH", help="write the runs and verdicts as JSON")
    run.add_argument("--plot", metavar="PATH", help="write learning curves as a PNG")

    cal = sub.add_parser("calibrate", help="train many seeds and tabulate each claim's margin")
    _common(cal, 24)
    cal.add_argument("--out", metavar="DIR", default="calibration", help="folder for runs and tables")
    cal.add_argument("--report", action="store_true", help="only rebuild the tables from the stored runs")
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
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

    def run_done(run, done: int, total: int) -> None:
        print(f"{chr(13) if tty else ''}[{done}/{total}] {run.variant} seed {run.seed}: accuracy "
              f"{run.accuracy[0]:.4f} after epoch 1, {run.accuracy[-1]:.4f} after {run.epochs}, "
              f"{sum(run.seconds):.1f} s{' ' * 10 if tty else ''}", file=sys.stderr, flush=True)

    return epoch, run_done


def cmd_run(args: argparse.Namespace) -> int:
    from . import claims, io, report, runner, variants

    if args.json:
        io.check_writable(args.json)
    if args.plot:
        io.check_writable(args.plot)
    experiment = Experiment(epochs=args.epochs, order=args.order)
    names = args.variants or list(variants.VARIANTS)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    epoch_cb, run_cb = _progress(args.quiet)
    matrix = runner.run_matrix(names, seeds, experiment, jobs=args.jobs, on_run=run_cb, progress=epoch_cb)
    by_variant = {n: [matrix[s][n] for s in seeds] for n in names}
    print(report.seed_table(by_variant))
    verdicts = claims.check_all(matrix) if experiment.epochs == Experiment.epochs else []
    print()
    if verdicts:
        print(report.verdict_lines(verdicts))
    else:
        print("claims are calibrated for 10 epochs; none checked")
    if args.json:
        io.write_json(args.json, {
            "runs": [r.to_dict() for rs in by_variant.values() for r in rs],
            "verdicts": [v.to_dict() for v in verdicts],
        })
    if args.plot:
        from . import plots

        plots.learning_curves(by_variant, args.plot)
        print(f"wrote {args.plot}")
    return 0 if all(v.holds for v in verdicts) else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    from . import calibration

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    return calibration.main(args.out, seeds, args.report, args.jobs, quiet=args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    from . import framework

    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        if args.command in (None, "run", "calibrate", "sweep", "bench", "baseline"):
            framework.select_backend(getattr(args, "backend", None))
        handler = {"run": cmd_run, "calibrate": cmd_calibrate}[args.command]
        return handler(args)
    except (UsageError, ValueError) as exc:
        print(f"normcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("normcheck: interrupted", file=sys.stderr)
        return 130
