"""Real fit on a Dask cluster (normcheck/cluster.py) against local clusters of real worker processes.

Small on purpose: 2000 samples, 2 epochs, two variants. Each worker trains in its own
child process (normcheck/worker.py), so a cluster's runs are the local pool's to the bit
(timings apart); a worker killed mid-block and a worker of another normcheck are real events
here, not mocks; Ctrl-C is a KeyboardInterrupt raised between blocks, where the CLI's lands.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from normcheck import cluster, parallel, spec_fit
from normcheck.calibration import engine, store
from normcheck.errors import InputError
from normcheck.experiment import QUESTION_EXPERIMENT

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")  # Dask's own dependency: a worker's child processes

EXPERIMENT = QUESTION_EXPERIMENT.replace(n_samples=2000, epochs=2)
VARIANTS = ["none", "input_norm"]
SEEDS = [0, 1, 2, 3]
TIMINGS = ("seconds", "probe_seconds")


def _timeless(runs):
    """The runs without their timings, in (seed, variant) order (a store keeps them in the order they finished)."""
    return [{k: v for k, v in r.to_dict().items() if k not in TIMINGS} for r in sorted(runs, key=lambda r: (r.seed, r.variant))]


def _local_cluster(workers=2):
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")


@pytest.fixture(scope="module")
def local_pool_runs(normcheck_backend, tmp_path_factory):
    """What the local pool (the default executor) stores for these runs."""
    return engine.collect(SEEDS, tmp_path_factory.mktemp("pool") / "runs.jsonl", EXPERIMENT, VARIANTS,
                          log=lambda line: None, jobs=2)


def test_a_cluster_stores_the_runs_the_local_pool_does_and_says_where_they_ran(local_pool_runs, tmp_path):
    lines: list[str] = []
    with _local_cluster() as lc:
        runs = engine.collect(SEEDS, tmp_path / "runs.jsonl", EXPERIMENT, VARIANTS, log=lines.append,
                              cluster=lc.scheduler_address)
    assert _timeless(runs) == _timeless(local_pool_runs)
    assert _timeless(store.load_fit_runs(tmp_path / "runs.jsonl")) == _timeless(local_pool_runs)
    assert "left" in lines[-2]
    summary = lines[-1]
    assert summary.startswith(f"{len(SEEDS) * len(VARIANTS)} runs in ")
    assert "per worker: 0 " in summary
    assert ", 1 " in summary


def test_a_worker_killed_mid_block_loses_and_repeats_nothing(local_pool_runs, tmp_path):
    path = tmp_path / "runs.jsonl"
    killed: list[int] = []
    with _local_cluster() as lc, distributed.Client(lc.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)

        def kill_one_at_first_run(line: str) -> None:
            if line.startswith("[1/") and not killed:  # one block is back; the other worker is mid-block
                killed.append(next(iter(pids.values())))
                os.kill(killed[0], signal.SIGKILL)

        runs = engine.collect(SEEDS, path, EXPERIMENT, VARIANTS, log=kill_one_at_first_run, cluster=lc.scheduler_address)
        assert killed
        assert killed[0] not in client.run(os.getpid).values()
    stored = store.load_fit_runs(path)
    assert sorted((r.seed, r.variant) for r in stored) == sorted((s, v) for s in SEEDS for v in VARIANTS)
    assert _timeless(runs) == _timeless(local_pool_runs)


def _children() -> list[int]:
    """In a worker: the pids of its training processes."""
    return [c.pid for c in psutil.Process().children()]


def test_every_worker_killed_at_once_comes_back_under_new_addresses_and_finishes(local_pool_runs, tmp_path):
    killed: list[int] = []
    with _local_cluster() as lc, distributed.Client(lc.scheduler_address, set_as_default=False) as client:
        before = client.run(os.getpid)

        def kill_all_at_first_run(line: str) -> None:
            if line.startswith("[1/") and not killed:
                killed.extend(before.values())
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)

        runs = engine.collect(SEEDS, tmp_path / "runs.jsonl", EXPERIMENT, VARIANTS, log=kill_all_at_first_run,
                              cluster=lc.scheduler_address)
        assert not set(client.run(os.getpid)) & set(before)  # every worker has a new address
    assert _timeless(runs) == _timeless(local_pool_runs)


def test_a_training_process_that_dies_mid_block_has_its_block_trained_again(local_pool_runs, tmp_path):
    killed: list[int] = []
    with _local_cluster() as lc, distributed.Client(lc.scheduler_address, set_as_default=False) as client:

        def kill_children_at_first_run(line: str) -> None:
            if line.startswith("[1/") and not killed:
                killed.extend(pid for pids in client.run(_children).values() for pid in pids)
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)

        runs = engine.collect(SEEDS, tmp_path / "runs.jsonl", EXPERIMENT, VARIANTS, log=kill_children_at_first_run,
                              cluster=lc.scheduler_address)
    assert killed
    assert _timeless(runs) == _timeless(local_pool_runs)


def _other_normcheck(tmp_path: Path) -> Path:
    """A copy of the package that says it is another version, first on a worker's PYTHONPATH."""
    root = tmp_path / "other"
    package = Path(cluster.__file__).parent
    shutil.copytree(package, root / "normcheck", ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    init = root / "normcheck" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "0.0.0+other-'))
    return root


def test_a_worker_with_other_versions_is_refused_by_name_and_trains_nothing(local_pool_runs, tmp_path):
    lines: list[str] = []
    with _local_cluster(workers=1) as lc, distributed.Client(lc.scheduler_address, set_as_default=False) as client:
        root = _other_normcheck(tmp_path)
        other = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", lc.scheduler_address,
                                  "--name", "elsewhere", "--nthreads", "1", "--no-dashboard"], cwd=root,
                                 env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(2, timeout=120)
            runs = engine.collect(SEEDS, tmp_path / "runs.jsonl", EXPERIMENT, VARIANTS, log=lines.append,
                                  cluster=lc.scheduler_address, warn=lines.append)
        finally:
            other.terminate()
            other.wait(60)
    refused = [line for line in lines if line.startswith("refused worker elsewhere")]
    assert len(refused) == 1
    assert "normcheck 0.0.0+other-" in refused[0]
    assert "elsewhere" not in lines[-1]
    assert _timeless(runs) == _timeless(local_pool_runs)


def test_every_worker_refused_is_one_error_before_any_training(normcheck_backend, tmp_path, monkeypatch):
    real = cluster.worker.fingerprint
    monkeypatch.setattr(cluster.worker, "fingerprint", lambda: {**real(), "numpy": "0.0-here"})
    lines: list[str] = []
    with _local_cluster(workers=1) as lc, pytest.raises(InputError, match="every worker was refused"):
        engine.collect(SEEDS, tmp_path / "runs.jsonl", EXPERIMENT, VARIANTS, log=lambda line: None,
                       cluster=lc.scheduler_address, warn=lines.append)
    assert any("refused worker 0" in line and "(here 0.0-here)" in line for line in lines)
    assert list(tmp_path.iterdir()) == []  # nothing to resume, so no file


class Interrupt(KeyboardInterrupt):
    pass


def test_ctrl_c_leaves_a_store_that_resumes_to_the_same_runs(local_pool_runs, tmp_path):
    path = tmp_path / "runs.jsonl"

    def ctrl_c_after_first_run(line: str) -> None:
        if line.startswith("[1/"):
            raise Interrupt(line)

    with _local_cluster() as lc:
        with pytest.raises(Interrupt):
            engine.collect(SEEDS, path, EXPERIMENT, VARIANTS, log=ctrl_c_after_first_run, cluster=lc.scheduler_address)
        kept = store.load_fit_runs(path.with_name(path.name + ".partial"))
        assert len(kept) == 1
        lines: list[str] = []
        runs = engine.collect(SEEDS, path, EXPERIMENT, VARIANTS, log=lines.append, cluster=lc.scheduler_address)
    assert lines[0].startswith("[2/")
    assert _timeless(runs) == _timeless(local_pool_runs)


def test_an_address_where_no_scheduler_answers_is_one_error_naming_it(normcheck_backend):
    with pytest.raises(InputError, match=r"--cluster 'tcp://127.0.0.1:9': no Dask scheduler answers there"):
        cluster.Cluster("tcp://127.0.0.1:9", timeout=1)


def _silent_listener():
    """A port where something accepts connections and never speaks: what Dask's own client waits on without end."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def test_a_listener_that_is_not_a_dask_scheduler_is_one_error_not_a_hang(normcheck_backend):
    with _silent_listener() as listener:
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(InputError, match=r"something listens there, but no Dask scheduler answers"):
            cluster.check_address(address, timeout=2)


def test_a_run_that_arrives_twice_is_recorded_and_counted_once(local_pool_runs, monkeypatch):
    texts = [r.to_json() for r in local_pool_runs]

    class Twice:
        """An executor whose one block comes back twice, as a block Dask retried after its first answer was sent."""

        def __init__(self, jobs):
            self.workers = jobs

        def blocks(self, blocks, experiment):
            yield "w", texts
            yield "w", texts  # a retried block whose first attempt also came back

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(parallel, "LocalPool", Twice)
    seen, pace = [], parallel.Throughput()
    matrix = parallel.train_matrix(VARIANTS, SEEDS, EXPERIMENT, jobs=2, on_run=lambda r, i, n: seen.append(i),
                                   throughput=pace)
    assert seen == list(range(1, len(texts) + 1))
    assert pace.runs == {"w": len(texts)}
    assert _timeless([matrix[s][v] for s in SEEDS for v in VARIANTS]) == _timeless(local_pool_runs)


def test_your_own_experiment_trains_on_a_cluster_as_in_the_local_pool_and_checks_its_source(normcheck_backend,
                                                                                            monkeypatch):
    ref = str(Path(__file__).resolve().parents[1] / "specs" / "tiny_experiment.py") + ":TINY"
    local = spec_fit.train_matrix(ref, ["plain", "layer_norm"], [0, 1], jobs=2)
    lines: list[str] = []
    with _local_cluster() as lc:
        there = spec_fit.train_matrix(ref, ["plain", "layer_norm"], [0, 1], cluster=lc.scheduler_address, log=lines.append)
    drop = ("seconds",)
    assert [{k: v for k, v in there[s][v].to_dict().items() if k not in drop} for s in (0, 1) for v in ("plain", "layer_norm")] \
        == [{k: v for k, v in local[s][v].to_dict().items() if k not in drop} for s in (0, 1) for v in ("plain", "layer_norm")]
    assert not [line for line in lines if line.startswith("refused")]
    monkeypatch.setattr(cluster.worker, "spec_source", lambda ref: "edited here")  # the workers' file differs from ours
    with _local_cluster(workers=1) as lc, pytest.raises(InputError, match="every worker was refused"):
        spec_fit.train_matrix(ref, ["plain"], [5], cluster=lc.scheduler_address, log=lines.append)
    assert any("spec source" in line and "(here edited here)" in line for line in lines)


CLI_WITH_CTRL_C = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('normcheck', run_name='__main__', alter_sys=True)")


def test_a_real_ctrl_c_to_the_cli_leaves_a_store_the_same_command_resumes(normcheck_backend, tmp_path):
    """SIGINT to `calibrate --engine fit --cluster` after its first stored run: exit 130, the .partial store kept with
    the runs stored so far, and the same command trains only the rest."""
    argv = [sys.executable, "-c", CLI_WITH_CTRL_C, "calibrate", "--engine", "fit", "--backend", normcheck_backend,
            "--seeds", "0-7", "--epochs", "2", "--out", str(tmp_path)]
    with _local_cluster() as lc:
        proc = subprocess.Popen([*argv, "--cluster", lc.scheduler_address], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            if line.startswith("[1/"):
                proc.send_signal(signal.SIGINT)
                break
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == "normcheck: interrupted"
        partial = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
        assert len(partial) == 1
        kept = len(store.load_fit_runs(partial[0]))
        assert kept >= 1
        again = subprocess.run([*argv, "--cluster", lc.scheduler_address], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count(" seed=") == 8 * 5 - kept
