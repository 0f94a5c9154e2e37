"""A re-scan compares only what changed, and finds exactly what a scan without a cache
finds: the pairs the last scan found among unchanged photos come from the cache."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import run_simplugin
from simplugin import folder_records, scan
from simplugin.cache import CacheWarning

EXIF_IFD, DATE_TIME_ORIGINAL = 0x8769, 0x9003
SCENES = 3  # few scenes, so that most libraries hold near-duplicates
# how a copy of a scene differs: none, brightened by 3%, re-encoded as a rougher JPEG
VARIANTS = ("original", "brightened", "rough")
CONFIGURATIONS = (
    {"bucketer": None},
    {"bucketer": None, "exclude": ["photo_2.jpg"]},  # a folder seen in part
    {"bucketer": "exif-time", "undated": "compare-all"},
    {"bucketer": "exif-time", "undated": "separate"},
)


def scene(number: int) -> Image.Image:
    """A small picture of its own: coarse blotches, so that copies stay near."""
    rng = np.random.default_rng(number)
    coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    return coarse.resize((32, 32), Image.BICUBIC)


def write_photo(path: Path, content: tuple, stamp: int) -> None:
    """A real JPEG of scene `number` as `variant`, taken at `seconds` (None: no capture
    time); its modification time is `stamp`, so that a rewrite is always noticed."""
    number, variant, seconds = content
    image = scene(number)
    if variant == "brightened":
        image = Image.eval(image, lambda v: min(255, int(v * 1.03)))
    exif = Image.Exif()
    if seconds is not None:
        minutes, second = divmod(seconds, 60)
        exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = f"2024:05:01 10:{minutes:02d}:{second:02d}"
    image.save(path, quality=60 if variant == "rough" else 92, exif=exif)
    os.utime(path, ns=(stamp, stamp))


def found(result) -> tuple:
    """What a scan found, as it must be whatever the cache: pairs with their exact
    distances, and the groups with their keepers."""
    pairs = sorted((p.a.path, p.b.path, p.distance) for p in result.pairs)
    groups = sorted(
        (
            g.keep.path,
            tuple((d.photo.path, d.distance, d.via and d.via.path) for d in g.duplicates),
        )
        for g in result.groups
    )
    return pairs, groups


# "a.jpg", then the folder "m", then the photo_ names: the library's own photos come in
# two runs, before and after those of "m" (each folder's cached photos are looked up by
# runs, see simplugin.folder_records)
names = st.sampled_from(
    [f"photo_{n}.jpg" for n in range(8)] + ["a.jpg", "m/photo_0.jpg", "m/photo_1.jpg"]
)
# capture times, in seconds, 60 s apart at most within a burst (exif-time's window):
# photos at 0 and 100 are two bursts, and one at 50 bridges them
contents = st.tuples(
    st.integers(0, SCENES - 1),
    st.sampled_from(VARIANTS),
    st.sampled_from([None, 0, 0, 50, 100, 100, 130, 200]),
)
steps = st.one_of(
    st.tuples(st.just("write"), names, contents),  # a new photo, or another in its place
    st.tuples(st.just("remove"), names),
    st.tuples(st.just("rename"), names, names),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    start=st.dictionaries(names, contents, min_size=3, max_size=8),
    changes=st.lists(
        st.tuples(st.lists(steps, min_size=1, max_size=3), st.sampled_from(CONFIGURATIONS)),
        min_size=1,
        max_size=4,
    ),
)
def test_a_cached_rescan_finds_what_a_scan_without_cache_finds(start, changes):
    # Records in parts of about 3 photos (see simplugin.folder_records), not 1,024: the
    # parts of a folder's record are then cut, joined and rewritten here too
    span, folder_records.PART_SPAN = folder_records.PART_SPAN, 3
    try:
        _rescan_after(start, changes)
    finally:
        folder_records.PART_SPAN = span


def _rescan_after(start: dict, changes: list) -> None:
    with tempfile.TemporaryDirectory() as folder:
        library, cache = Path(folder, "library"), Path(folder, "cache.sqlite")
        library.mkdir()
        stamp = 1_700_000_000 * 10**9
        for name, content in start.items():
            stamp += 10**9
            _apply(library, ("write", name, content), stamp)
        first = changes[0][1]
        scan(library, cache=cache, jobs=1, **first)
        for batch, chosen in changes:
            for step in batch:
                stamp += 10**9
                _apply(library, step, stamp)
            cached = scan(library, cache=cache, jobs=1, **chosen)
            uncached = scan(library, cache=False, jobs=1, **chosen)
            assert found(cached) == found(uncached)


def _apply(library: Path, step: tuple, stamp: int) -> None:
    kind, name, *rest = step
    if kind == "write":
        (library / name).parent.mkdir(exist_ok=True)
        write_photo(library / name, rest[0], stamp)
    elif kind == "remove":
        (library / name).unlink(missing_ok=True)
    elif (library / name).exists():
        (library / rest[0]).parent.mkdir(exist_ok=True)
        (library / name).rename(library / rest[0])


def test_an_unchanged_rescan_takes_every_pair_from_the_cache(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache, bucketer=None)
    again = scan(library, cache=cache, bucketer=None)

    assert first.pairs and first.pairs_reused == 0
    assert again.pairs_reused == len(again.pairs)
    assert found(again) == found(first)


def test_a_removed_photos_pairs_vanish_from_the_rescan(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache, bucketer=None)
    gone = first.pairs[0].a.path
    os.remove(gone)
    again = scan(library, cache=cache, bucketer=None)

    assert all(gone not in (p.a.path, p.b.path) for p in again.pairs)
    assert again.pairs_reused == sum(gone not in (p.a.path, p.b.path) for p in first.pairs)
    assert found(again) == found(scan(library, cache=False, bucketer=None))


def test_a_changed_threshold_compares_everything_again(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    scan(library, cache=cache, bucketer=None, threshold=0.07)
    looser = scan(library, cache=cache, bucketer=None, threshold=0.1)

    assert looser.pairs_reused == 0
    assert found(looser) == found(scan(library, cache=False, bucketer=None, threshold=0.1))


def test_a_photo_bridging_two_bursts_makes_their_photos_pairs(tmp_path):
    library, cache = tmp_path / "library", tmp_path / "cache.sqlite"
    library.mkdir()
    write_photo(library / "early.jpg", (0, "original", 0), 1_700_000_000 * 10**9)
    write_photo(library / "late.jpg", (0, "brightened", 100), 1_700_000_001 * 10**9)
    apart = scan(library, cache=cache)
    write_photo(library / "between.jpg", (1, "original", 50), 1_700_000_002 * 10**9)
    bridged = scan(library, cache=cache)

    assert apart.pairs == ()
    assert [(p.a.path, p.b.path) for p in bridged.pairs] == [
        (str(library / "early.jpg"), str(library / "late.jpg"))
    ]


def test_removing_the_photo_that_joined_two_bursts_parts_their_pairs(tmp_path):
    library, cache = tmp_path / "library", tmp_path / "cache.sqlite"
    library.mkdir()
    write_photo(library / "early.jpg", (0, "original", 0), 1_700_000_000 * 10**9)
    write_photo(library / "between.jpg", (1, "original", 50), 1_700_000_001 * 10**9)
    write_photo(library / "late.jpg", (0, "brightened", 100), 1_700_000_002 * 10**9)
    bridged = scan(library, cache=cache)
    os.remove(library / "between.jpg")
    apart = scan(library, cache=cache)

    assert len(bridged.pairs) == 1
    assert apart.pairs == ()


def test_cache_info_counts_the_pairs_and_clear_removes_them(library, tmp_path):
    cache = str(tmp_path / "cache.sqlite")
    result = scan(library, cache=cache, bucketer=None)

    info = run_simplugin("cache", "info", "--cache", cache)
    cleared = run_simplugin("cache", "clear", "--cache", cache)
    after = run_simplugin("cache", "info", "--cache", cache)

    assert f"pairs kept for re-scans: {len(result.pairs)}" in info.stdout
    assert f"and {len(result.pairs)} pairs" in cleared.stdout
    assert "pairs kept for re-scans: 0" in after.stdout
    assert scan(library, cache=cache, bucketer=None).pairs_reused == 0


def test_a_scan_without_a_cache_reuses_nothing(library):
    scan(library, cache=False, bucketer=None)
    assert scan(library, cache=False, bucketer=None).pairs_reused == 0


@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE pairs SET distance = -1",
        "UPDATE pairs SET distance = 'near'",
        "UPDATE pairs SET distance = 0.5",  # above the threshold: never stored
        "DELETE FROM pairs",
        "DROP TABLE pairs",
        "INSERT INTO pairs SELECT configuration, a, b + 1000, distance FROM pairs",
    ],
)
def test_pairs_changed_in_the_cache_by_hand_are_compared_again(library, tmp_path, tampering):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache, bucketer=None)
    with sqlite3.connect(cache) as connection:
        connection.execute(tampering)

    with pytest.warns(CacheWarning, match="do not add up.*comparing every photo again"):
        again = scan(library, cache=cache, bucketer=None)
    after = scan(library, cache=cache, bucketer=None)

    assert found(again) == found(after) == found(first)
    assert (again.pairs_reused, after.pairs_reused) == (0, len(first.pairs))
