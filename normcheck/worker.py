"""`python -m normcheck.worker`: the process a cluster worker trains in, one block of runs per request.

Keras draws unseeded initial weights from Python's global `random` after
`set_random_seed`; a Dask worker's own threads draw from it too (back-off jitter,
spill files), so a run trained inside a Dask worker could start from other weights than
the same run anywhere else. Each cluster worker therefore trains in a child process of
its own, as the local pool does, and speaks to it in JSON lines: a request on stdin
(`{"block": [[variant, seed], ...], "experiment": {...}}`, or `{}` for the fingerprint
alone), one answer per request on the original stdout (`{"versions": ..., "runs":
[...]}` or `{"error": ...}`). Anything else the frameworks print goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from . import __version__, framework
from .experiment import Experiment
from .training import train

FINGERPRINT = ("python", "numpy", "keras", "backend", "platform")  # of framework.versions(), beside the backend's own


def fingerprint() -> dict[str, str]:
    """What every worker's runs must share with the client's: normcheck's version, Python, NumPy, Keras, the backend
    and its version, the platform (not which other frameworks a process happens to have loaded)."""
    versions = framework.versions()
    keep = (*FINGERPRINT, versions["backend"])
    return {"normcheck": __version__, **{k: versions[k] for k in keep if k in versions}}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """One request's answer: this process's fingerprint, and the runs of its block as JSON."""
    block = [(str(v), int(s)) for v, s in request.get("block", [])]
    runs = []
    if block:
        experiment = Experiment.from_dict(request["experiment"])
        runs = [train(v, experiment, s).to_json() for v, s in block]
    return {"versions": fingerprint(), "runs": runs}


def serve(requests: IO[str], answers: IO[str]) -> None:
    """Answer each request line until stdin closes (the cluster worker that started this process is gone)."""
    for line in requests:
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # reported to the client, which names the worker; this process keeps serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(reply) + "\n")
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # framework output printed to stdout cannot break the protocol
    sys.stdout = sys.stderr
    try:
        framework.select_backend()
        framework.skip_tensorflow()
        framework.quiet_startup()
    except Exception as exc:
        for _ in sys.stdin:
            answers.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            answers.flush()
        return
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
