"""Seed blocks on a Dask distributed cluster: the local pool's runs, trained on other machines.

normcheck keeps no scheduler of its own. Given the address of a running Dask scheduler
(`--cluster tcp://HOST:8786`, or $NORMCHECK_CLUSTER), training hands each block of
(variant, seed) runs to one of its workers as a task, and takes the runs back as blocks
finish. A run depends only on (experiment, variant, seed, versions), so a block that ran
twice, or on another worker, gives the same numbers. Before any run of a worker is
accepted, the worker's versions must equal this process's; a worker that differs is
refused by name, and a block it returned is handed to another. Why Dask and not Ray, and
how to start a cluster: docs/cluster.md.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from . import framework, worker
from .errors import InputError, shown
from .experiment import Experiment

Block = list[tuple[str, int]]  # (variant, seed) runs handed out as one task
SETUP_SECONDS = 120.0  # a worker's first answer imports its framework: TensorFlow takes seconds, on a busy machine more


class _Child:
    """This Dask worker's training process (`python -m normcheck.worker`), started at its first request and again if
    it died; one request at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any], backend: str, legacy: str | None) -> dict[str, Any]:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                env = {**os.environ, "KERAS_BACKEND": backend}
                env.pop("TF_USE_LEGACY_KERAS", None)
                env.update({"TF_USE_LEGACY_KERAS": legacy} if legacy is not None else {})
                self.process = subprocess.Popen([sys.executable, "-m", "normcheck.worker"], stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, text=True, env=env)
            pipe_in, pipe_out = self.process.stdin, self.process.stdout
            if pipe_in is None or pipe_out is None:
                raise RuntimeError("normcheck's training process has no pipes")
            pipe_in.write(json.dumps(request) + "\n")
            pipe_in.flush()
            line = pipe_out.readline()
        if not line:
            raise RuntimeError(f"normcheck's training process on this worker ended (exit {self.process.wait()})")
        return json.loads(line)


_CHILD = _Child()


def _name() -> str:
    from distributed import get_worker  # noqa: PLC0415 -- optional extra, present wherever a task runs

    worker = get_worker()
    return str(worker.name if worker.name is not None else worker.address)


def _versions_task(backend: str, legacy: str | None) -> tuple[str, dict[str, str]]:
    """A task: the worker's name and fingerprint, or why it cannot train this backend."""
    reply = _CHILD.ask({}, backend, legacy)
    return _name(), reply.get("versions") or {"setup": str(reply.get("error"))}


def _train_block(block: Block, experiment: Experiment, backend: str, legacy: str | None
                 ) -> tuple[str, dict[str, str], list[str]]:
    """A task: one block's runs as JSON, with the name and fingerprint of the worker that trained them."""
    reply = _CHILD.ask({"block": block, "experiment": experiment.to_dict()}, backend, legacy)
    if "error" in reply:
        raise RuntimeError(f"worker {_name()}: {reply['error']}")
    return _name(), reply["versions"], reply["runs"]


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415 -- optional extra: pip install 'normcheck[cluster]'
    except ImportError:
        raise InputError("--cluster needs Dask distributed: pip install 'normcheck[cluster]'") from None
    return distributed


ALLOWED = "allowed: the address of a running Dask scheduler, tcp://HOST:PORT or tls://HOST:PORT (docs/cluster.md)"


def check_address(address: object, timeout: float = 30.0) -> None:
    """A scheduler address, checked before Dask sees it: Dask starts a cluster of its own for an empty one, and a
    client that never connected waits a minute to close."""
    _distributed()
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"--cluster {shown(address)} is invalid; {ALLOWED}")
    scheme, _, location = address.rpartition("://")
    scheme = scheme or "tcp"
    if scheme not in ("tcp", "tls"):
        raise InputError(f"--cluster {shown(address)}: scheme {scheme!r} is not one normcheck connects to; {ALLOWED}")
    host, _, port = location.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--cluster {shown(address)} has no HOST:PORT; {ALLOWED}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"--cluster {shown(address)}: no Dask scheduler answers there ({exc}); {ALLOWED}") from None


def differences(mine: dict[str, str], theirs: dict[str, str]) -> str:
    """The keys whose values differ, as 'key theirs (here mine)'."""
    keys = sorted(set(mine) | set(theirs))
    return ", ".join(f"{k} {theirs.get(k, 'missing')} (here {mine.get(k, 'missing')})" for k in keys
                     if mine.get(k) != theirs.get(k))


class Cluster:
    """The workers of a running Dask scheduler whose versions match this process's; `blocks` trains on them."""

    def __init__(self, address: str, log=print, timeout: float = 30.0):
        distributed = _distributed()
        self.address, self.log = address, log
        self.backend = framework.default_backend()
        self.legacy = os.environ.get("TF_USE_LEGACY_KERAS")
        check_address(address, timeout)
        self.mine = worker.fingerprint()
        try:
            self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError(f"--cluster {shown(address)}: no Dask scheduler answers there ({exc}); {ALLOWED}") from None
        try:
            self.accepted = self._check_workers(timeout)
        except BaseException:
            self.client.close()
            raise

    def _check_workers(self, timeout: float) -> list[Any]:
        """Every worker's fingerprint, asked as a task on it; those that differ from this process's, or do not answer
        within `timeout` seconds, are refused."""
        distributed = _distributed()
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        names = sorted({w.get("name", a) for a, w in info.items()}, key=str)
        if not names:
            raise InputError(f"--cluster {shown(self.address)}: the scheduler has no workers; start some with "
                             f"`dask worker {self.address} --nthreads 1` (docs/cluster.md)")
        futures = {self.client.submit(_versions_task, self.backend, self.legacy, pure=False, workers=[n],
                                      allow_other_workers=False): n for n in names}
        finished = []
        try:
            for future in distributed.as_completed(list(futures), timeout=timeout + SETUP_SECONDS,
                                                     loop=self.client.loop):
                finished.append(future)
        except TimeoutError:
            pass
        late = [f for f in futures if f not in finished]
        accepted = []
        for future in finished:
            _, versions = future.result()
            if versions == self.mine:
                accepted.append(futures[future])
            else:
                self.refuse(futures[future], versions)
        for future in late:
            self.log(f"refused worker {futures[future]} of {self.address}: no answer within {timeout + SETUP_SECONDS:g} s")
        self.client.cancel(list(late))
        if not accepted:
            raise InputError(f"--cluster {shown(self.address)}: every worker was refused (versions differ from this "
                             "process's, or no answer); install the same versions there (docs/cluster.md)")
        return sorted(accepted, key=str)

    def refuse(self, name: object, versions: dict[str, str]) -> None:
        why = versions["setup"] if set(versions) == {"setup"} else differences(self.mine, versions)
        self.log(f"refused worker {name} of {self.address}: {why}")

    @property
    def workers(self) -> int:
        return len(self.accepted)

    def blocks(self, blocks: Sequence[Block], experiment: Experiment) -> Iterator[tuple[str, list[str]]]:
        """(worker name, runs as JSON) per block, as blocks finish; a lost worker's block is retried by the scheduler,
        a block from a worker whose versions differ is refused and handed to the accepted others."""
        distributed = _distributed()

        def submit(block: Block):
            return self.client.submit(_train_block, block, experiment, self.backend, self.legacy, pure=False,
                                      workers=list(self.accepted), allow_other_workers=False)

        pending = {submit(b): b for b in blocks}
        done = distributed.as_completed(list(pending), loop=self.client.loop)
        try:
            for future in done:
                block = pending.pop(future)
                name, versions, texts = future.result()
                if versions != self.mine:
                    self.refuse(name, versions)
                    self.accepted = [n for n in self.accepted if str(n) != name]
                    if not self.accepted:
                        raise InputError(f"--cluster {shown(self.address)}: every worker was refused")
                    again = submit(block)
                    pending[again] = block
                    done.add(again)
                    continue
                yield name, texts
        finally:
            self.client.cancel(list(pending))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
