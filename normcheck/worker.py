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

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from . import __version__, framework
from .experiment import Experiment
from .training import train

FINGERPRINT = ("python", "numpy", "keras", "backend", "platform")  # of framework.versions(), beside the backend's own
SETTINGS = ("NORMCHECK_THREADS", "XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES")  # they move the numbers
COMPILERS = {"jax": "jaxlib"}  # a backend's compiled half, versioned apart


def source_hash() -> str:
    """A hash of normcheck's own source: two checkouts that say the same version can hold other code."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def fingerprint() -> dict[str, str]:
    """What every worker's runs must share with the client's: normcheck's version and source, Python, NumPy, Keras, the
    backend and its version, the platform, and the settings in force that change the numbers (after normcheck's thread
    limits: a worker started from a normcheck process inherits them); not which other frameworks a process happens to
    have loaded."""
    versions = framework.versions()
    backend = versions["backend"]
    out = {"normcheck": __version__, "normcheck source": source_hash(),
           **{k: versions[k] for k in (*FINGERPRINT, backend) if k in versions}}
    compiler = COMPILERS.get(backend)
    if compiler is not None and sys.modules.get(compiler) is not None:
        out[compiler] = str(getattr(sys.modules[compiler], "__version__", "?"))
    out.update({name: os.environ.get(name, "unset") for name in SETTINGS})
    return out


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """One request's answer: this process's fingerprint, and the runs of its block as JSON."""
    block = [(str(v), int(s)) for v, s in request.get("block", [])]
    runs = []
    versions = fingerprint()
    if "spec" in request:  # your own experiment, by its reference: its module's source is part of the fingerprint
        from . import spec_fit  # noqa: PLC0415 -- only a spec's blocks need it

        ref = str(request["spec"])
        versions["spec source"] = spec_source(ref)
        runs = spec_fit.train_block(block, ref)
    elif block:
        experiment = Experiment.from_dict(request["experiment"])
        runs = [train(v, experiment, seed).to_json() for v, seed in block]
    return {"versions": versions, "runs": runs}


def spec_source(ref: str) -> str:
    """A hash of the source file of the module a spec reference names: workers must train the same spec code."""
    from . import spec  # noqa: PLC0415 -- only a spec's blocks need it

    path = spec.source_path(ref)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path is not None else "unknown"


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
