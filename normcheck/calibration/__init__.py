"""Calibration: the claims over many seeds, the data every threshold, error rate and compare tolerance rests on.

`python -m normcheck calibrate` runs the replica of fit over constants.REPLICA_SEEDS of this
backend's initial draws and keeps them in calibration/runs-<backend>-replica.npz;
calibration/<backend>.md tabulates each claim's spread and failure rate. `--engine fit`
trains real fit instead (slow; constants.FIT_SEEDS, stored as JSON lines, the distribution
the replica is held to). `--report` rebuilds every page from the stored runs. Everything is
written under `--out`; only `--promote` changes what the package ships.

One job per module, read in this order (each imports only those above it):

- `store`: the stored file names, the JSON-lines store with resume, the npz store;
- `engine`: real fit's collector, and the replica of fit in JAX;
- `rates`: a claim's spread and failure rate (counts, bounds, groups of seeds);
- `spread`: the redraw spread shipped to `baseline compare`, and the held-out replays that check it;
- `pages`: the Markdown pages, rendered from stored runs;
- `jobs`: what `calibrate` runs, one function per job (the CLI picks one);
- `promote`: `calibrate --promote`, the one checked step that ships <out>/redraw-<backend>.npz.

The package sits above `baseline` (its pages replay comparisons); `redraw.py`, which reads
the shipped spread for `baseline compare`, stays below both.
"""
