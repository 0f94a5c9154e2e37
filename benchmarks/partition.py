"""Does splitting a large comparison into bands cost more CPU than searching it whole?

    python benchmarks/partition.py --signatures 200000     # 2 slots; the default size
    python benchmarks/partition.py --signatures 50000 --slots 2 --old-pool
    python benchmarks/partition.py --contenders here,dask     # the search here, and Dask's

Times, in one run and on the same photo-like signatures (benchmarks/bench.py's), the
engine's `run_comparisons` with:
- no workers: the search in this process alone (one core), what a scan does below
  the workers' `spread_from`;
- the `local` executor's workers: forked processes, the comparison cut into sum
  bands with halos, sent as tasks;
- the `dask` executor's workers, on the cluster it embeds (started as `--executor dask`
  starts it: one worker process per slot, one thread each);
- optionally (--old-pool, it costs as much CPU as the others), avgdiff's own process
  pool as it was before the engine owned parallelism (fd6460b, read with `git show`).

Wall time, and CPU time of this process and of every process under it (the local
workers; Dask's nannies and workers), from the start of the search to its end: the
executors are started before and closed after. The processes still alive are read with
psutil (a Dask dependency), those that ended are counted by getrusage once waited for.
This process's share is shown apart: for Dask it holds the client and the scheduler.
Every contender must find the same pairs, with the same distances: asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

from bench import photo_like_signatures  # noqa: E402  (the library maker of bench.py)

from simplugin.engine import (  # noqa: E402
    Comparison,
    NoProgress,
    ScanContext,
    default_host,
    reader_of,
    run_comparisons,
)
from simplugin.types import ScanSettings, Workers  # noqa: E402

THRESHOLD = 0.07
BASELINE_COMMIT = "fd6460b"  # avgdiff with its own forked pool


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of this process, and of the processes under it."""

    here: float
    below: float


def cpu_now() -> Cpu:
    """This process's CPU time, and that of its descendants: those alive (psutil,
    with the children they waited for), and those it waited for (getrusage)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    below = waited.ru_utime + waited.ru_stime
    for process in psutil.Process().children(recursive=True):
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended meanwhile: counted by whoever waits for it
            continue
        below += times.user + times.system + times.children_user + times.children_system
    return Cpu(own.ru_utime + own.ru_stime, below)


@dataclass(frozen=True)
class Run:
    name: str
    wall: float
    cpu_here: float
    cpu_below: float
    found: list

    @property
    def cpu(self) -> float:
        return self.cpu_here + self.cpu_below


def timed(name: str, search: Callable[[], list]) -> Run:
    cpu, wall = cpu_now(), time.perf_counter()
    found = search()
    wall, after = time.perf_counter() - wall, cpu_now()
    return Run(name, wall, after.here - cpu.here, after.below - cpu.below, found)


def on_executor(
    name: str, executor: str | None, signatures: np.ndarray, slots: int
) -> tuple[Run, float]:
    """The engine's comparison of all `signatures` with each other on the workers of
    `executor` (None: in this process), and the seconds the workers took to start."""
    host = default_host()
    metric = host.metric("avgdiff")
    settings = ScanSettings(roots=(), metric="avgdiff", threshold=THRESHOLD)
    context = ScanContext(host, settings, metric, None, NoProgress())
    started = time.perf_counter()
    workers: AbstractContextManager[Workers | None] = nullcontext()
    if executor is not None:
        workers = host.executor(executor).start({}, slots, reader_of(context))
    start_seconds = time.perf_counter() - started
    with workers as running:
        context = ScanContext(host, settings, metric, None, NoProgress(), running)
        comparison = [Comparison(range(len(signatures)))]
        run = timed(name, lambda: pairs_of(run_comparisons(context, signatures, comparison)))
    return run, start_seconds


def pairs_of(found: dict[tuple[int, int], float]) -> list:
    return sorted((i, j, d) for (i, j), d in found.items())


def old_pool(signatures: np.ndarray) -> Run:
    with tempfile.TemporaryDirectory() as folder:
        module = baseline_module(folder)
        metric = module.AverageDifference()
        return timed(
            f"avgdiff's own pool ({BASELINE_COMMIT})",
            lambda: sorted(metric.pairs_within(signatures, THRESHOLD)),
        )


def baseline_module(folder: str):
    """avgdiff as it was at BASELINE_COMMIT, imported from a file of its own."""
    source = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:simplugin/builtin/avgdiff.py"],
        cwd=HERE.parent.parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(folder, "avgdiff_with_its_pool.py")
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("avgdiff_with_its_pool", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its pool pickles its functions by module name
    spec.loader.exec_module(module)
    return module


def load() -> str:
    return "load average " + " ".join(f"{n:.2f}" for n in os.getloadavg())


def report(runs: list[Run], starts: dict[str, float]) -> None:
    expected = runs[0].found
    print(f"{'':44} {'wall':>9} {'CPU all':>9} {'here':>8} {'below':>8}")
    for run in runs:
        assert run.found == expected, f"{run.name} found other pairs"  # pairs and distances
        digest = hashlib.sha1(repr(run.found).encode()).hexdigest()[:12]
        print(
            f"{run.name:44} {run.wall:7.1f} s {run.cpu:7.1f} s {run.cpu_here:6.1f} s"
            f" {run.cpu_below:6.1f} s  {len(run.found)} pairs ({digest})"
        )
    first = runs[0]
    for run in runs[1:]:
        print(
            f"{run.name:44} / one core: wall {run.wall / first.wall:.2f}x,"
            f" CPU {run.cpu / first.cpu:.2f}x"
        )
    for name, seconds in starts.items():
        print(f"{name}: workers started in {seconds:.1f} s (not counted above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signatures", type=int, default=200_000)
    parser.add_argument("--slots", type=int, default=2, help="workers of each executor")
    parser.add_argument(
        "--old-pool", action="store_true", help="also time avgdiff's own pool (fd6460b)"
    )
    parser.add_argument(
        "--contenders",
        default="here,local,dask",
        help="which to time, in this order: here (the search in this process), local, dask;"
        " the first is the one the others must equal, and their ratios' base",
    )
    arguments = parser.parse_args()
    count, slots = arguments.signatures, arguments.slots
    rng = np.random.default_rng(count)  # as bench.py's comparison alone makes them
    signatures = np.concatenate(
        [photo_like_signatures(min(5000, count - done), rng) for done in range(0, count, 5000)]
    )
    print(f"{count} signatures, threshold {THRESHOLD}, {os.cpu_count()} cores here, {load()}")
    contenders = {
        name: executor
        for name, executor in {
            "in this process (one core)": None,
            f"local executor, {slots} slots": "local",
            f"dask executor, LocalCluster of {slots} workers": "dask",
        }.items()
        if (executor or "here") in arguments.contenders.split(",")
    }
    runs, starts = [], {}
    for name, executor in contenders.items():
        run, starts[name] = on_executor(name, executor, signatures, slots)
        runs.append(run)
        digest = hashlib.sha1(repr(run.found).encode()).hexdigest()[:12]
        print(
            f"  {name}: wall {run.wall:.1f} s, CPU {run.cpu:.1f} s ({run.cpu_here:.1f} s here),"
            f" {len(run.found)} pairs ({digest}), {load()}",
            flush=True,
        )
    if arguments.old_pool:
        runs.append(old_pool(signatures))
    starts.pop("in this process (one core)", None)
    report(runs, starts)
    print(load())


if __name__ == "__main__":
    main()
