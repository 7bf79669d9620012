"""Numbers and names more than one module states: each typed here once, imported everywhere else.

Seed sets are ranges, so a count (`len`) and a span (`seed_span`) come from the same value.
"""

from __future__ import annotations

DEFAULT_SEEDS = 5  # every run without --seeds (the CLI, a pytest session, `baseline record`, mutations), a replayed group
ONE_SEED = 1  # a run of one seed, as the question's own (`--seeds 1`): its rate is counted beside the default's
REPLICA_SEEDS = range(1000)  # the replica's calibration seeds: every threshold is chosen from these
FIT_SEEDS = range(24)  # real fit's calibration seeds: the distribution the replica is held to
MAX_DRAWS = 100_000  # draws per property `calibrate --properties` accepts: about a day of one-epoch runs
HELD_OUT_FIT = 1000  # real fit's held-out seeds where the replica does not stand for it: 100 compare replays of 5

SEEDS_OPTION = "--normcheck-seeds"  # the pytest plugin's options
BACKEND_OPTION = "--normcheck-backend"
BASELINE_OPTION = "--normcheck-baseline"
EXPERIMENT_OPTION = "--normcheck-experiment"
SEEDS_ENV = "NORMCHECK_SEEDS"  # the seeds when SEEDS_OPTION is not given
CLUSTER_ENV = "NORMCHECK_CLUSTER"  # a Dask scheduler's address when --cluster is not given


def seed_span(seeds: range) -> str:
    """A seed range as the CLI's syntax writes it: "0-999"."""
    return f"{seeds.start}-{seeds.stop - 1}"
