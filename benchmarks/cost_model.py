"""The figures behind README.md's cost model for 10^7 photos ("More than one machine"):
the CPU one photo's reading takes, and the CPU of the all-undated comparison.

    python benchmarks/cost_model.py --folder ../shared/data/real-dev --signatures 200000

Both are CPU seconds (user and system, of this process and of the comparison's
worker processes), which a loaded machine changes less than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench import photo_like_signatures  # noqa: E402 (the generated library's signatures)

from simplugin import load_plugins  # noqa: E402
from simplugin.builtin.avgdiff import AverageDifference  # noqa: E402
from simplugin.discover import Candidate  # noqa: E402
from simplugin.reading import Reader  # noqa: E402

PHOTOS = 10**7


def cpu_seconds() -> float:
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def reading(folder: Path) -> None:
    """Each JPEG's reading as a scan does it (reduced decode, signature, capture time),
    after a first read: the storage is not counted."""
    host = load_plugins()
    reader = Reader(host.metric("avgdiff"), "avgdiff", host.bucketer("exif-time"), "exif-time")
    measured = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")):
        status = os.stat(path)
        candidate = Candidate(str(path), status.st_size, status.st_mtime_ns, True)
        reader.read(candidate)
        times = []
        for _ in range(3):
            started = time.process_time()
            summary = reader.read(candidate)
            times.append(time.process_time() - started)
        measured.append((min(times), summary.width * summary.height / 1e6, status.st_size / 1e6))
    if not measured:
        sys.exit(f"no JPEG in {folder}")
    large = [m for m in measured if m[1] > 8] or measured
    ms = statistics.median(m[0] for m in large) * 1000
    mb = statistics.median(m[2] for m in large)
    print(
        f"reading {len(large)} JPEGs over 8 megapixels: median {ms:.1f} ms CPU for {mb:.2f} MB,"
        f" {ms / mb:.1f} ms per MB; {PHOTOS:.0e} photos of 4 MB:"
        f" {PHOTOS * 4 * ms / mb / 1000 / 3600:.0f} core-hours"
    )


def comparison(count: int) -> None:
    """avgdiff's exact search on `count` photo-like signatures, all compared."""
    rng = np.random.default_rng(count)
    signatures = np.concatenate(
        [photo_like_signatures(min(5000, count - done), rng) for done in range(0, count, 5000)]
    )
    before, started = cpu_seconds(), time.perf_counter()
    found = sum(1 for _ in AverageDifference().pairs_within(signatures, 0.07))
    cpu, wall = cpu_seconds() - before, time.perf_counter() - started
    scale = (PHOTOS / count) ** 2
    print(
        f"comparison of {count} signatures: {found} pairs, {cpu:.1f} s CPU ({wall:.1f} s wall);"
        f" {PHOTOS:.0e} undated photos at the same density: {cpu * scale / 3600:.0f} core-hours"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="time reading the JPEGs in this folder")
    parser.add_argument("--signatures", type=int, help="time the comparison on this many")
    arguments = parser.parse_args()
    if arguments.folder:
        reading(arguments.folder)
    if arguments.signatures:
        comparison(arguments.signatures)


if __name__ == "__main__":
    main()
