"""Does splitting a large comparison into bands cost more CPU than searching it whole?

    python benchmarks/partition.py                      # 200,000 signatures, 2 slots
    python benchmarks/partition.py --signatures 50000 --slots 2 --no-baseline

Times, in one run and on the same photo-like signatures (benchmarks/bench.py's):
the search in this process alone (one core), the engine's partitioned search on forked
local processes (bands with halos, sent as tasks), and, as the baseline, avgdiff's own
process pool as it was before the engine owned parallelism (fd6460b, read with `git
show`). Wall time, and CPU time of this process plus its children (waited for, so
counted by getrusage). Every contender must find the same pairs: asserted.
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
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

from bench import photo_like_signatures  # noqa: E402  (the library maker of bench.py)

from simplugin import worker_pool  # noqa: E402
from simplugin.engine import (  # noqa: E402
    Comparison,
    NoProgress,
    ScanContext,
    default_host,
    run_comparisons,  # noqa: E402
)
from simplugin.reading import Reader  # noqa: E402
from simplugin.types import ScanSettings, Workers  # noqa: E402

THRESHOLD = 0.07
BASELINE_COMMIT = "fd6460b"  # avgdiff with its own forked pool

_context = None  # the reader a forked worker was started with


def _remember(context) -> None:
    global _context
    _context = context


def _run(task, args):
    return task(_context, *args)


class LocalProcesses(Workers):
    """Forked processes on simplugin's own worker pool, the context shared by the fork:
    what the local executor does, until it lands."""

    def __init__(self, context, slots: int):
        self.slots, self.spread_from = slots, 20_000**2
        self.pool = worker_pool(slots, _remember, (context,))

    def submit(self, task, *args):
        return self.pool.submit(_run, task, args)

    def worker_lost(self, error):
        return False

    def close(self, at_once=False):
        self.pool.shutdown(wait=True, cancel_futures=at_once)


def cpu_seconds() -> float:
    """This process's CPU time and its finished children's."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(name: str, search) -> tuple[str, float, float, list]:
    cpu, wall = cpu_seconds(), time.perf_counter()
    found = search()
    return name, time.perf_counter() - wall, cpu_seconds() - cpu, found


def in_process(signatures: np.ndarray) -> list:
    host = default_host()
    metric = host.metric("avgdiff")
    return sorted(metric.pairs_within(signatures, THRESHOLD))


def partitioned(signatures: np.ndarray, slots: int) -> list:
    host = default_host()
    metric = host.metric("avgdiff")
    settings = ScanSettings(roots=(), metric="avgdiff", threshold=THRESHOLD)
    with LocalProcesses(Reader(metric, host.provider_of(metric)), slots) as workers:
        context = ScanContext(host, settings, metric, None, NoProgress(), workers)
        found = run_comparisons(context, signatures, [Comparison(range(len(signatures)))])
    return sorted((i, j, d) for (i, j), d in found.items())


def old_pool(signatures: np.ndarray, module) -> list:
    return sorted(module.AverageDifference().pairs_within(signatures, THRESHOLD))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signatures", type=int, default=200_000)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true", help="skip the old avgdiff pool")
    arguments = parser.parse_args()
    count = arguments.signatures
    rng = np.random.default_rng(count)  # as bench.py's comparison alone makes them
    signatures = np.concatenate(
        [photo_like_signatures(min(5000, count - done), rng) for done in range(0, count, 5000)]
    )
    print(f"{count} signatures, threshold {THRESHOLD}, {os.cpu_count()} cores here")
    runs = [timed("in this process (one core)", lambda: in_process(signatures))]
    runs.append(
        timed(
            f"partitioned, local processes, {arguments.slots} slots",
            lambda: partitioned(signatures, arguments.slots),
        )
    )
    if not arguments.no_baseline:
        with tempfile.TemporaryDirectory() as folder:
            module = baseline_module(folder)
            runs.append(
                timed(
                    f"avgdiff's own pool ({BASELINE_COMMIT})", lambda: old_pool(signatures, module)
                )
            )
    expected = runs[0][3]
    for name, wall, cpu, found in runs:
        assert found == expected, f"{name} found other pairs"  # pairs and distances
        digest = hashlib.sha1(repr(found).encode()).hexdigest()[:12]
        print(f"{name:45} wall {wall:7.2f} s  CPU {cpu:7.2f} s  {len(found)} pairs ({digest})")
    first = runs[0]
    for name, wall, cpu, _ in runs[1:]:
        print(f"{name:45} / one core: wall {wall / first[1]:.2f}x, CPU {cpu / first[2]:.2f}x")


if __name__ == "__main__":
    main()
