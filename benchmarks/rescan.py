"""How much does a re-scan cost against a cold scan, with the pair cache, in one run?

    python benchmarks/rescan.py --photos 20000              # undated, every photo with every other
    python benchmarks/rescan.py --photos 100000 --dated --with-variants 0.03
        # capture-time buckets; mostly distinct photos, about 7% of them near-duplicates

Generates a library with `bench.py`'s maker (tiny JPEGs, about 32 pixels a side: a
re-scan reads none of them, so their size does not matter; the cold scan is then
cheaper than on real photos, which makes the ratios pessimistic), then times, in this
process, one after the other: a cold scan (empty cache), an unchanged re-scan, and a
re-scan after adding 20 photos. Prints each time, its ratio to the cold scan, where
an unchanged re-scan spends its time (another one, under cProfile, by stage; the
keeper's choice, within grouping, reads each grouped photo's EXIF), and the bytes the
pair cache's tables take. Machines are shared and noisy: read the ratios.

    python benchmarks/rescan.py --photos 100000 --dated --with-variants 0.03 --keep /tmp/lib

keeps the library and its cache in /tmp/lib; run again with the same --keep, it times
only unchanged re-scans of them (no cold scan, nothing added): to work on a re-scan.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import generate  # noqa: E402

from simplugin import scan  # noqa: E402

TINY = (0.001, 0.001)  # megapixels: about 36x27 pixels
ADDED = 20
# where a re-scan spends its time: the engine's stages and the pair cache's steps
STAGES = (
    "discover.py:.*(walk)",
    "cache.py:.*(lookup)",  # by the folder records, else by the photos' rows
    "engine.py:.*(summarise)",
    "pair_cache.py:.*(recall)",
    "pair_cache.py:.*(reused)",
    "pair_cache.py:.*(needed)",
    "engine.py:.*(run_comparisons)",
    "pair_cache.py:.*(remember)",
    "engine.py:.*(group)",
    "keeper.py:.*(choose_keeper)",
    "engine.py:.*(scan)",
)


def timed(library: Path, cache: Path, settings: dict, profile: Path | None = None):
    started = time.perf_counter()
    if profile is None:
        result = scan(library, cache=cache, **settings)
    else:
        profiler = cProfile.Profile()
        result = profiler.runcall(scan, library, cache=cache, **settings)
        profiler.dump_stats(profile)
    return time.perf_counter() - started, result


def table_bytes(cache: Path) -> dict[str, int]:
    with sqlite3.connect(cache) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return dict(
            connection.execute(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name IN"
                " ('pairs', 'pair_photos', 'summaries', 'sqlite_autoindex_pair_photos_2',"
                " 'folder_records')"
                " GROUP BY name"
            ).fetchall()
        )


def stage_times(profile: Path) -> list[tuple[str, float]]:
    stats = pstats.Stats(str(profile))
    times = []
    for pattern in STAGES:
        name = pattern.split("(")[1].rstrip(")")
        found = [
            cumulative
            for (file, _, function), (_, _, _, cumulative, _) in stats.stats.items()
            if function == name and file.endswith(pattern.split(":")[0])
        ]
        times.append((name, max(found, default=0.0)))
    return times


def warm_only(work: Path, settings: dict) -> None:
    """Unchanged re-scans of a kept library: one timed, one under cProfile."""
    library, cache = work / "library", work / "cache.sqlite"
    print(f"kept library {library}; load average {os.getloadavg()[0]:.1f}")
    unchanged, again = timed(library, cache, settings)
    print(
        f"unchanged re-scan:    {unchanged:7.2f} s  {len(again.photos)} photos,"
        f" {again.pairs_reused} pairs reused; load average {os.getloadavg()[0]:.1f}"
    )
    profiled, _ = timed(library, cache, settings, profile=work / "unchanged.prof")
    print(f"another unchanged re-scan under cProfile ({profiled:.2f} s), by stage:")
    for name, seconds in stage_times(work / "unchanged.prof"):
        print(f"  {name:16} {seconds:7.2f} s  {seconds / profiled:4.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--dated", action="store_true", help="capture times; exif-time buckets")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--with-variants",
        type=float,
        default=0.35,
        help="share of originals with 1 or 2 near-duplicate variants (0.35: about half the"
        " photos in groups, as in a folder of messenger images; 0.03: about 7%%, as in a"
        " camera library with some bursts and exports)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="directory to keep the library and cache in; if they are there already,"
        " time only unchanged re-scans of them",
    )
    arguments = parser.parse_args()
    settings = {} if arguments.dated else {"bucketer": None}
    if arguments.keep is not None and (arguments.keep / "cache.sqlite").exists():
        warm_only(arguments.keep, settings)
        return
    with tempfile.TemporaryDirectory() as temporary:
        work = arguments.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        library, cache = work / "library", work / "cache.sqlite"
        started = time.perf_counter()
        generate(
            library,
            arguments.photos,
            arguments.seed,
            TINY,
            arguments.dated,
            arguments.with_variants,
        )
        print(
            f"{arguments.photos} tiny JPEGs ({'dated' if arguments.dated else 'undated'},"
            f" bucketer {'exif-time' if arguments.dated else 'none'}) generated in"
            f" {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}"
        )
        cold, first = timed(library, cache, settings)
        unchanged, again = timed(library, cache, settings)
        profiled, _ = timed(library, cache, settings, profile=work / "unchanged.prof")
        generate(
            work / "more", ADDED, arguments.seed + 1, TINY, arguments.dated, arguments.with_variants
        )
        for photo in (work / "more").iterdir():
            shutil.move(photo, library / f"added_{photo.name}")
        added, grown = timed(library, cache, settings)
        assert [p.distance for p in again.pairs] == [p.distance for p in first.pairs]
        assert [g.keep.path for g in again.groups] == [g.keep.path for g in first.groups]
        grouped = sum(len(g.duplicates) + 1 for g in first.groups)
        print(
            f"cold scan:            {cold:7.2f} s  {len(first.pairs)} pairs,"
            f" {grouped} photos in {len(first.groups)} groups ({grouped / len(first.photos):.0%})"
        )
        print(
            f"unchanged re-scan:    {unchanged:7.2f} s  {unchanged / cold:.3f}x cold,"
            f" {again.pairs_reused} pairs reused"
        )
        print(
            f"+{ADDED} photos re-scan:   {added:7.2f} s  {added / cold:.3f}x cold,"
            f" {grown.pairs_reused} of {len(grown.pairs)} pairs reused"
        )
        print(f"load average after the timings: {os.getloadavg()[0]:.1f}; tiny JPEGs")
        print(f"another unchanged re-scan under cProfile ({profiled:.2f} s), by stage:")
        for name, seconds in stage_times(work / "unchanged.prof"):
            print(f"  {name:16} {seconds:7.2f} s  {seconds / profiled:4.0%}")
        sizes = table_bytes(cache)
        photos = len(grown.photos)
        for name, size in sorted(sizes.items()):
            print(f"table {name:32} {size / 1e6:8.2f} MB  {size / photos:6.1f} bytes per photo")


if __name__ == "__main__":
    main()
