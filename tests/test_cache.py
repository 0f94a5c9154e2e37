"""The signature cache: a re-scan of an unchanged library reads no photo, a changed
photo is read again, and a cache file that is broken or not ours never stops a scan."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import warnings

import pytest

from conftest import SEAGULLS, run_simplugin
from simplugin import explain, folder_records, scan
from simplugin.cache import SignatureCache, default_path


def test_a_rescan_of_an_unchanged_library_reads_every_photo_from_the_cache(library):
    first = scan(library)
    second = scan(library)

    assert (first.from_cache, second.from_cache) == (0, 6)
    assert [(p.a.path, p.b.path, p.distance) for p in second.pairs] == [
        (p.a.path, p.b.path, p.distance) for p in first.pairs
    ]
    assert second.photos == first.photos


FORKS: list[int] = []  # a fork of this process, each time: appended to from here on
os.register_at_fork(before=lambda: FORKS.append(os.getpid()))


def test_an_unchanged_rescan_starts_no_process(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    FORKS.clear()
    scan(library, cache=cache, jobs=2)  # reads on two processes
    assert FORKS
    FORKS.clear()

    again = scan(library, cache=cache, jobs=2)

    assert again.from_cache == 6
    assert FORKS == []


def test_a_changed_photo_is_read_again(library):
    scan(library)
    shutil.copy(SEAGULLS / "seagull_2.jpeg", library / "seagull_4.jpeg")  # replaced by another

    result = scan(library)

    assert result.from_cache == 5
    pairs_of_4 = [p for p in result.pairs if "seagull_4" in p.a.path + p.b.path]
    assert [(os.path.basename(p.a.path), p.distance) for p in pairs_of_4] == [
        ("seagull_2.jpeg", 0.0)  # now a copy of seagull_2, and no longer near 1 and 3
    ]


def test_the_summary_says_how_many_photos_came_from_the_cache(library):
    run_simplugin("scan", str(library))

    run = run_simplugin("scan", str(library))

    assert run.stderr.rstrip().endswith("0 skipped; 6 read from the cache")


def test_no_cache_neither_reads_nor_writes_one(library):
    run_simplugin("scan", str(library), "--no-cache")

    assert not os.path.exists(default_path())


def test_a_cache_file_that_is_not_a_database_is_set_aside_and_rebuilt(library):
    os.makedirs(os.path.dirname(default_path()))
    with open(default_path(), "wb") as garbage:
        garbage.write(b"\x00 this is not SQLite " * 100)

    run = run_simplugin("scan", str(library), "--json", "-")

    assert run.returncode == 0
    assert len(json.loads(run.stdout)["pairs"]) == 4
    assert "simplugin: warning: the cache" in run.stderr and "is not a database" in run.stderr
    aside = [n for n in os.listdir(os.path.dirname(default_path())) if ".unusable-" in n]
    assert len(aside) == 1  # the old bytes are kept, not deleted
    assert run_simplugin("scan", str(library)).stderr.rstrip().endswith("6 read from the cache")


def test_another_programs_database_is_left_untouched(library, tmp_path):
    theirs = tmp_path / "photos.db"
    with sqlite3.connect(theirs) as connection:
        connection.execute("CREATE TABLE albums (name TEXT)")
        connection.execute("INSERT INTO albums VALUES ('holidays')")
    before = theirs.read_bytes()

    run = run_simplugin("scan", str(library), "--cache", str(theirs), "--json", "-")

    assert run.returncode == 0
    assert len(json.loads(run.stdout)["pairs"]) == 4
    assert f"not using the cache {theirs}: {theirs} is a database of another program" in run.stderr
    assert theirs.read_bytes() == before


def test_a_file_given_as_cache_that_is_not_a_database_is_left_untouched(library):
    photo = library / "seagull_2.jpeg"
    before = photo.read_bytes()

    run = run_simplugin("scan", str(library), "--cache", str(photo))

    assert run.returncode == 0
    assert photo.read_bytes() == before
    assert "is not a database; leaving it as it is" in run.stderr


@pytest.mark.parametrize("command", [["scan", "LIBRARY"], ["cache", "info"], ["cache", "clear"]])
def test_a_fifo_given_as_cache_is_left_alone_and_not_waited_on(library, tmp_path, command):
    fifo = tmp_path / "cache.sqlite"
    os.mkfifo(fifo)
    arguments = [str(library) if word == "LIBRARY" else word for word in command]

    run = run_simplugin(*arguments, "--cache", str(fifo), process=True)  # a hang needs a timeout

    assert f"not using the cache {fifo}: {fifo} is a FIFO (named pipe), not a cache" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.returncode == (0 if command[0] == "scan" else 3)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_two_scans_can_share_the_cache_at_once(library):
    command = [sys.executable, "-m", "simplugin", "scan", str(library), "--json", "-"]
    scans = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in scans]

    assert [process.returncode for process in scans] == [0, 0, 0]
    assert all("warning" not in err for _, err in outputs)
    assert len({json.dumps(json.loads(out)["pairs"]) for out, _ in outputs}) == 1


def test_cache_info_and_clear(library):
    run_simplugin("scan", str(library))

    info = run_simplugin("cache", "info")
    cleared = run_simplugin("cache", "clear")
    after = run_simplugin("cache", "info")

    assert "metric:avgdiff:1: 6 photos" in info.stdout
    assert "exif:camera-facts:1: 5 photos" in info.stdout  # the grouped ones, for the keeper
    assert "folder records (re-scans look up a folder at once): 1" in info.stdout
    assert cleared.stdout.startswith("removed 17 entries")
    assert "metric:avgdiff" not in after.stdout
    assert "folder records (re-scans look up a folder at once): 0" in after.stdout


def test_a_cached_signature_of_the_wrong_size_is_read_again(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache)
    with sqlite3.connect(cache) as connection:  # one entry cut short, one grown
        connection.execute("DELETE FROM folder_records")  # (see the next test for those)
        for path, change in (
            ("seagull_1", "substr(value, 2)"),
            ("seagull_2", "CAST(value || x'00' AS BLOB)"),
        ):
            connection.execute(
                f"UPDATE summaries SET value = {change}"
                " WHERE kind LIKE 'metric:%' AND CAST(path AS TEXT) LIKE ?",
                (f"%{path}%",),
            )

    again = scan(library, cache=cache)

    assert again.from_cache == 4
    assert again.photos == first.photos
    assert [(p.a.path, p.b.path, p.distance) for p in again.pairs] == [
        (p.a.path, p.b.path, p.distance) for p in first.pairs
    ]


@pytest.mark.parametrize(
    "change",
    [
        "signatures = substr(signatures, 2)",  # a byte short: no whole signatures
        "stamps = substr(stamps, 9)",  # one stamp short of the photos it names
        "formats = '[\"JPEG\"'",  # not JSON
        "photos = photos + 1",
        "digests = substr(digests, 2)",
        "formats = '[1, 1, 1, 1, 1, 1]'",  # as many as photos, but no formats
    ],
)
def test_a_folder_record_that_does_not_add_up_is_not_used_and_is_rewritten(
    library, tmp_path, change
):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache)
    with sqlite3.connect(cache) as connection:
        connection.execute(f"UPDATE folder_records SET {change}")

    again = scan(library, cache=cache)  # from the photos' rows, one by one
    with sqlite3.connect(cache) as connection:
        record = connection.execute("SELECT photos, length(signatures) FROM folder_records")
        rewritten = record.fetchall()

    assert again.from_cache == 6
    assert again.photos == first.photos
    assert again.pairs == first.pairs
    assert rewritten == [(6, 6 * 16 * 16 * 3)]


def test_a_folder_record_answers_only_for_the_photos_as_they_were(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    scan(library, cache=cache)
    with sqlite3.connect(cache) as connection:  # only the record can answer now
        connection.execute("DELETE FROM summaries")
    os.utime(library / "seagull_1.jpeg", ns=(1, 1))  # touched: its record entry is stale
    shutil.copy(SEAGULLS / "seagull_2.jpeg", library / "seagull_4.jpeg")  # replaced
    (library / "seagull_5.jpeg").rename(library / "seagull_9.jpeg")  # renamed

    again = scan(library, cache=cache)

    assert again.from_cache == 3  # seagull_2, 3 and 6
    assert again.photos == scan(library, cache=False).photos
    assert again.pairs == scan(library, cache=False).pairs


def test_a_folder_records_table_of_another_shape_is_made_anew(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache)
    with sqlite3.connect(cache) as connection:  # as another version might have left it
        connection.execute("DROP TABLE folder_records")
        connection.execute("CREATE TABLE folder_records (folder BLOB, names BLOB)")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a warning per folder, per scan
        again = scan(library, cache=cache)
        then = scan(library, cache=cache)

    assert (again.from_cache, then.from_cache) == (6, 6)
    assert then.pairs == first.pairs


def test_a_bucket_key_changed_by_hand_in_the_cache_is_read_again(library, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = scan(library, cache=cache, bucketer="exif-time")
    with sqlite3.connect(cache) as connection:
        connection.execute("DELETE FROM folder_records")  # the photos' rows answer
        for name, value in (("seagull_1", "'\"x\"'"), ("seagull_2", "CAST('1, 2' AS BLOB)")):
            connection.execute(
                f"UPDATE summaries SET value = {value}"
                " WHERE kind LIKE 'bucketer:%' AND CAST(path AS TEXT) LIKE ?",
                (f"%{name}%",),
            )

    again = scan(library, cache=cache, bucketer="exif-time")

    assert again.from_cache == 4  # those two are read again
    assert again.photos == first.photos
    assert again.pairs == first.pairs


def test_a_photo_added_to_a_folder_rewrites_only_the_part_of_its_record_it_joins(
    library, tmp_path, monkeypatch
):
    monkeypatch.setattr(folder_records, "PART_SPAN", 2)  # parts of 2 photos, about
    cache = tmp_path / "cache.sqlite"
    scan(library, cache=cache)
    before = _record_parts(cache)
    shutil.copy(SEAGULLS / "seagull_2.jpeg", library / "seagull_55.jpeg")  # after 5, before 6

    again = scan(library, cache=cache)
    after = _record_parts(cache)

    assert len(before) > 1 and again.photos == scan(library, cache=False).photos
    changed = {part: names for part, names in after.items() if before.get(part) != names}
    assert [names for names, _ in changed.values()] == [
        next(names for names, _ in after.values() if b"seagull_55.jpeg" in names)
    ]


def _record_parts(cache) -> dict[bytes, tuple[bytes, bytes]]:
    """The parts of the folder records: their photos' names and stamps, by first name."""
    with sqlite3.connect(cache) as connection:
        rows = connection.execute("SELECT part, names, stamps FROM folder_records")
        return {part: (names, stamps) for part, names, stamps in rows}


@pytest.mark.parametrize("named", [["seagull_1.jpeg"], ["seagull_1.jpeg", "seagull_4.jpeg"]])
def test_photos_named_alone_leave_their_folders_record_whole(library, tmp_path, named):
    cache = tmp_path / "cache.sqlite"
    scan(library, cache=cache)
    os.utime(library / "seagull_1.jpeg", ns=(1, 1))  # changed: looked at again, below
    scan([library / name for name in named], cache=cache)
    if len(named) == 2:
        explain(*[library / name for name in named], cache=cache)
    with sqlite3.connect(cache) as connection:  # only the record can answer now
        connection.execute("DELETE FROM summaries")

    again = scan(library, cache=cache)

    assert again.from_cache == 5  # all but seagull_1, from the folder's record
    assert again.photos == scan(library, cache=False).photos


@pytest.mark.parametrize(
    "written",
    [
        "seagull_1.jpeg",
        "./seagull_1.jpeg",
        "photos/../seagull_1.jpeg",
        "photos//x.jpeg",
        "photos/./x.jpeg",
        "photos/",
        "photos/.",
        "photos/..",
        ".",
        "..",
        "",
        "/",
        "/x.jpeg",
        "//x.jpeg",
        "///x.jpeg",
        "/photos/x.jpeg",
        "photos/caf\u00e9.jpeg",
        "photos/\udcff.jpeg",
    ],
)
def test_a_photo_has_one_key_in_the_cache_however_its_path_is_written(
    written, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # where relative paths start
    signature_cache = SignatureCache.open(str(tmp_path / "cache.sqlite"))

    expected = os.fsencode(os.path.abspath(written))
    try:
        assert signature_cache.key(written) == expected
        # as asked for many at once: a folder's run of paths at a time
        assert signature_cache.keys([written, "other.jpeg", written]) == [
            expected,
            os.fsencode(os.path.abspath("other.jpeg")),
            expected,
        ]
    finally:
        signature_cache.close()
