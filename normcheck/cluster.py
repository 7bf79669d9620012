"""Seed blocks on a Dask distributed cluster: the local pool's runs, trained on other machines.

normcheck keeps no scheduler of its own. Given the address of a running Dask scheduler
(`--cluster tcp://HOST:8786`, or $NORMCHECK_CLUSTER), training hands each block of
(variant, seed) runs to one of its workers as a task, and takes the runs back as blocks
finish. A run depends only on (experiment, variant, seed, versions), so a block that ran
twice, or on another worker, gives the same numbers. Before a worker gets a block, its
fingerprint (worker.fingerprint) must equal this process's; a worker that differs is
refused by name. Workers are tracked by address: one that joins later, or comes back
after a restart (a new address), is checked first, and a block held for workers that are
gone is handed to the others. Why Dask and not Ray, and how to start a cluster:
docs/cluster.md.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import framework, worker
from .errors import ChildError, InputError, shown
from .experiment import Experiment

Block = list[tuple[str, int]]  # (variant, seed) runs handed out as one task
SETUP_SECONDS = 120.0  # a worker's first answer imports its framework: TensorFlow takes seconds, on a busy machine more
RETRIES = 2  # a block whose task failed (its training process died) runs again, on any accepted worker
POLL_SECONDS = 0.05  # how often finished blocks are looked for
REFRESH_SECONDS = 2.0  # how often the scheduler is asked which workers are alive
ALLOWED = "allowed: the address of a running Dask scheduler, tcp://HOST:PORT or tls://HOST:PORT (docs/cluster.md)"


class _Child:
    """A Dask worker's training process (`python -m normcheck.worker`) for one backend, started at its first request
    and again if it died; one request at a time."""

    def __init__(self, backend: str, legacy: str | None) -> None:
        self.backend, self.legacy = backend, legacy
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
                env.update({"KERAS_BACKEND": self.backend, **({"TF_USE_LEGACY_KERAS": self.legacy} if self.legacy else {})})
                self.process = subprocess.Popen([sys.executable, "-m", "normcheck.worker"], stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, text=True, env=env)
            process = self.process
            pipe_in, pipe_out = process.stdin, process.stdout
            if pipe_in is None or pipe_out is None:
                raise RuntimeError("normcheck's training process has no pipes")
            try:
                pipe_in.write(json.dumps(request) + "\n")
                pipe_in.flush()
                line = pipe_out.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                process.kill()
                raise RuntimeError(f"normcheck's training process on this worker ended (exit {process.wait()})")
        return json.loads(line)


_CHILDREN: dict[tuple[str, str | None], _Child] = {}
_CHILDREN_LOCK = threading.Lock()


def _child(backend: str, legacy: str | None) -> _Child:
    with _CHILDREN_LOCK:
        return _CHILDREN.setdefault((backend, legacy), _Child(backend, legacy))


def _here() -> tuple[str, str]:
    """This Dask worker's address, and its name for people."""
    from distributed import get_worker  # noqa: PLC0415 -- optional extra, present wherever a task runs

    w = get_worker()
    return w.address, str(w.name if w.name is not None else w.address)


def _versions_task(backend: str, legacy: str | None) -> tuple[str, str, dict[str, str]]:
    """A task: the worker's address, name and fingerprint, or why it cannot train this backend."""
    reply = _child(backend, legacy).ask({})
    return (*_here(), reply.get("versions") or {"setup": str(reply.get("error"))})


def _train_block(block: Block, experiment: Experiment | str, backend: str, legacy: str | None
                 ) -> tuple[str, str, dict[str, str], list[str]]:
    """A task: one block's runs as JSON, with the address, name and fingerprint of the worker that trained them.
    `experiment`: the question's, or a reference to your own (normcheck.spec), which the worker imports."""
    what = {"spec": experiment} if isinstance(experiment, str) else {"experiment": experiment.to_dict()}
    reply = _child(backend, legacy).ask({"block": block, **what})
    if "error" in reply:
        raise RuntimeError(f"worker {_here()[1]}: {reply['error']}")
    return (*_here(), reply["versions"], reply["runs"])


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415 -- optional extra: pip install 'normcheck[cluster]'
    except ImportError:
        raise InputError("--cluster needs Dask distributed: pip install 'normcheck[cluster]'") from None
    return distributed


def check_address(address: object, timeout: float = 30.0, what: str = "--cluster") -> None:
    """A scheduler address, checked before Dask sees it: Dask starts a cluster of its own for an empty one, and a
    client that never connected waits a minute to close. `what` names where the address came from."""
    _distributed()
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"{what} {shown(address)} is invalid; {ALLOWED}")
    scheme, _, location = address.rpartition("://")
    scheme = scheme or "tcp"
    if scheme not in ("tcp", "tls"):
        raise InputError(f"{what} {shown(address)}: scheme {shown(scheme)} is not one normcheck connects to; {ALLOWED}")
    host, _, port = location.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise InputError(f"{what} {shown(address)} has no HOST:PORT; {ALLOWED}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, UnicodeError) as exc:
        raise InputError(f"{what} {shown(address)}: no Dask scheduler answers there ({exc}); {ALLOWED}") from None
    found = _identity(address if "://" in address else f"tcp://{address}", min(timeout, HANDSHAKE_SECONDS))
    if found != "Scheduler":
        raise InputError(f"{what} {shown(address)}: something listens there, but no Dask scheduler answers ({found}); "
                         f"{ALLOWED}")


HANDSHAKE_SECONDS = 10.0  # a Dask scheduler answers its identity at once; anything else listening gets this long


def _identity(address: str, timeout: float) -> str:
    """What answers at `address`: "Scheduler" for a Dask scheduler, else why not. Dask's own client waits without end
    for a listener that never speaks its protocol, so this asks in a thread of its own, bounded by `timeout`."""
    import asyncio  # noqa: PLC0415 -- only a cluster address needs it

    from distributed.comm import connect  # noqa: PLC0415 -- optional extra, checked by _distributed

    answer: list[str] = []

    async def ask() -> None:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            reply = await comm.read()
        finally:
            comm.abort()
        answer.append(str(reply.get("type")) if isinstance(reply, dict) else f"a reply of {type(reply).__name__}")

    def run() -> None:
        try:
            asyncio.run(asyncio.wait_for(ask(), timeout))
        except BaseException as exc:
            answer.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    thread = threading.Thread(target=run, name="normcheck-dask-identity", daemon=True)
    thread.start()
    thread.join(timeout + 2)
    return answer[0] if answer else f"no answer within {timeout:g} s"


def differences(mine: dict[str, str], theirs: dict[str, str]) -> str:
    """The keys whose values differ, as 'key theirs (here mine)'."""
    if set(theirs) == {"setup"}:
        return theirs["setup"]
    keys = sorted(set(mine) | set(theirs))
    return ", ".join(f"{k} {theirs.get(k, 'missing')} (here {mine.get(k, 'missing')})" for k in keys
                     if mine.get(k) != theirs.get(k))


class Cluster:
    """The workers of a running Dask scheduler whose fingerprint matches this process's; `blocks` trains on them."""

    def __init__(self, address: str, log: Callable[[str], None] = print, timeout: float = 30.0, what: str = "--cluster"):
        distributed = _distributed()
        self.address, self.log, self.what = address, log, what
        self.backend = framework.default_backend()
        self.legacy = os.environ.get("TF_USE_LEGACY_KERAS")
        check_address(address, timeout, what)
        framework.select_backend(self.backend)  # the thread limits a worker's training process runs with, if not yet set
        self.mine = worker.fingerprint()
        try:
            self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError(f"{what} {shown(address)}: no Dask scheduler answers there ({exc}); {ALLOWED}") from None
        self.accepted: set[str] = set()  # addresses
        self.known: set[str] = set()  # addresses checked, accepted or refused
        self.checking: dict[Any, str] = {}  # a fingerprint task -> the address it asks
        self.names: dict[str, str] = {}
        try:
            self._first_check(timeout + SETUP_SECONDS)
        except BaseException:
            self.client.close()
            raise

    def _alive(self) -> dict[str, str]:
        """The scheduler's workers now: address -> name."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {a: str(w.get("name", a)) for a, w in info.items()}

    def _ask_newcomers(self, alive: dict[str, str]) -> None:
        asked = set(self.checking.values())
        for address, name in alive.items():
            if address not in self.known and address not in asked:
                self.names[address] = name
                future = self.client.submit(_versions_task, self.backend, self.legacy, pure=False, workers=[address],
                                            allow_other_workers=False)
                self.checking[future] = address

    def _settle_checks(self) -> None:
        """Accept or refuse each worker whose fingerprint has come back (a check that failed refuses it too)."""
        for future in [f for f in self.checking if f.done()]:
            address = self.checking.pop(future)
            self.known.add(address)
            if future.status != "finished":
                self.log(f"refused worker {self.names[address]} of {self.address}: its check failed "
                         f"({_reason(future)})")
                continue
            _, name, versions = future.result()
            if versions == self.mine:
                self.accepted.add(address)
            else:
                self.refuse(name, versions)

    def _first_check(self, seconds: float) -> None:
        alive = self._alive()
        if not alive:
            raise InputError(f"{self.what} {shown(self.address)}: the scheduler has no workers; start some with "
                             f"`dask worker {self.address} --nthreads 1` (docs/cluster.md)")
        self._ask_newcomers(alive)
        deadline = time.monotonic() + seconds
        while self.checking and time.monotonic() < deadline:
            self._settle_checks()
            time.sleep(POLL_SECONDS)
        self._settle_checks()
        for future, address in list(self.checking.items()):
            self.log(f"refused worker {self.names[address]} of {self.address}: no answer within {seconds:g} s")
            self.known.add(address)
            future.cancel()
        self.checking.clear()
        if not self.accepted:
            raise InputError(f"{self.what} {shown(self.address)}: every worker was refused (versions differ from this "
                             "process's, or no answer); install the same versions there (docs/cluster.md)")

    def refuse(self, name: object, versions: dict[str, str], expected: dict[str, str] | None = None) -> None:
        self.log(f"refused worker {name} of {self.address}: {differences(expected or self.mine, versions)}")

    def _expected(self, experiment: Experiment | str) -> dict[str, str]:
        """What a block's answer must carry: this process's fingerprint, and for your own experiment, its source's."""
        return self.mine if not isinstance(experiment, str) else {**self.mine,
                                                                    "spec source": worker.spec_source(experiment)}

    @property
    def workers(self) -> int:
        return len(self.accepted)

    def blocks(self, blocks: Sequence[Block], experiment: Experiment | str) -> Iterator[tuple[str, list[str]]]:
        """(worker name, runs as JSON) per block, as blocks finish.

        Every few seconds the scheduler is asked which workers are alive: newcomers are checked, and a block held for
        workers that are all gone is handed to the accepted ones alive. A block whose task failed is retried RETRIES
        times by Dask; one that still fails, or the loss of every accepted worker for longer than SETUP_SECONDS, ends
        the call with a ChildError (the runs already stored resume)."""
        allowed: dict[Any, frozenset[str]] = {}
        pending: dict[Any, Block] = {}

        def submit(block: Block, where: frozenset[str]) -> None:
            where = where or frozenset(self.accepted)  # none alive now: held for accepted ones (Dask reads [] as any)
            if not where:
                raise InputError(f"{self.what} {shown(self.address)}: every worker was refused (versions differ from "
                                 "this process's); install the same versions there (docs/cluster.md)")
            future = self.client.submit(_train_block, block, experiment, self.backend, self.legacy, pure=False,
                                        workers=sorted(where), allow_other_workers=False, retries=RETRIES)
            pending[future], allowed[future] = block, where

        alive = self._alive()
        for b in blocks:
            submit(b, frozenset(self.accepted & set(alive)))
        refreshed, alone_since = time.monotonic(), None
        try:
            while pending:
                ready = [f for f in pending if f.done()]
                for future in ready:
                    block, _ = pending.pop(future), allowed.pop(future)
                    if future.status != "finished":
                        raise ChildError(f"a block of {len(block)} runs failed on {self.address} after {RETRIES} "
                                         f"retries ({_reason(future)}); the runs stored so far resume with the same command")
                    address, name, versions, texts = future.result()
                    if versions != self._expected(experiment):
                        self.refuse(name, versions, self._expected(experiment))
                        self.accepted.discard(address)
                        submit(block, frozenset(self.accepted & set(alive)))
                        continue
                    yield name, texts
                if ready or time.monotonic() - refreshed < REFRESH_SECONDS:
                    time.sleep(0 if ready else POLL_SECONDS)
                    continue
                refreshed = time.monotonic()
                alive = self._alive()
                self._settle_checks()
                self._ask_newcomers(alive)
                here = frozenset(self.accepted & set(alive))
                for future in [f for f in pending if not allowed[f] & here]:
                    if here:
                        future.cancel()
                        submit(pending.pop(future), here)
                        allowed.pop(future)
                if here or self.checking:
                    alone_since = None
                elif alone_since is None:
                    alone_since = refreshed
                elif refreshed - alone_since > SETUP_SECONDS:
                    raise ChildError(f"no accepted worker of {self.address} has been alive for {SETUP_SECONDS:g} s; the "
                                     "runs stored so far resume with the same command")
        finally:
            self.client.cancel(list(pending) + list(self.checking))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(future: Any) -> str:
    try:
        exc = future.exception(timeout=1)
    except Exception as err:  # a cancelled future has no exception to give, only its state
        return f"{future.status}: {type(err).__name__}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else str(future.status)
