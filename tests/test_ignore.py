"""`simplugin ignore`: photos the user marked as not near-duplicates of each other stay
apart in every later scan, wherever they are moved, and the mark survives `cache clear`.

The sample's near-duplicate pairs are 1-3, 1-4, 3-4 and 5-6. Each test has its own
`XDG_DATA_HOME` (conftest), so the list is its own.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import simplugin
from conftest import run_simplugin
from simplugin.ignored import MOST_BYTES
from simplugin.xdg import simplugin_folder


def the_list() -> Path:
    return Path(simplugin_folder("data")) / "ignored.json"


def groups_of(library: Path, *flags: str) -> list[set[str]]:
    run = run_simplugin("scan", str(library), "--json", "-", *flags)
    assert run.returncode == 0, run.stderr
    return [
        {Path(p).name for p in (g["keep"], *g["duplicates"])}
        for g in json.loads(run.stdout)["groups"]
    ]


def photo(library: Path, number: int) -> str:
    return str(library / f"seagull_{number}.jpeg")


def ignore(*args: str):
    run = run_simplugin("ignore", *args)
    assert run.returncode == 0, run.stderr
    return run


def test_photos_marked_as_not_duplicates_are_no_longer_grouped(library):
    marked = ignore(photo(library, 5), photo(library, 6))

    run = run_simplugin("scan", str(library), "--json", "-")

    assert marked.stdout == f"marked 1 pair as not duplicates in {the_list()}\n"
    document = json.loads(run.stdout)
    groups = [{Path(p).name for p in (g["keep"], *g["duplicates"])} for g in document["groups"]]
    assert groups == [{"seagull_1.jpeg", "seagull_3.jpeg", "seagull_4.jpeg"}]
    assert document["ignored"] == 1
    assert (
        "simplugin: left out 1 pair you marked as not duplicates (simplugin ignore --list)\n"
        in run.stderr
    )


def test_a_group_is_recomputed_without_the_ignored_pair_and_stays_joined_through_others(library):
    ignore(photo(library, 1), photo(library, 3))

    result = simplugin.scan(library)

    pairs = {frozenset(Path(p.path).name[8] for p in (pair.a, pair.b)) for pair in result.pairs}
    assert pairs == {frozenset("14"), frozenset("34"), frozenset("56")}
    assert result.ignored == 1
    names = [{Path(p.path).name[8] for p in g.photos} for g in result.groups]
    assert sorted(names, key=len) == [set("56"), set("134")]  # 1 and 3 still meet through 4


def test_every_pair_among_the_photos_given_is_marked(library):
    marked = ignore(photo(library, 1), photo(library, 3), photo(library, 4))

    assert marked.stdout.startswith("marked 3 pairs as not duplicates")
    assert groups_of(library) == [{"seagull_5.jpeg", "seagull_6.jpeg"}]


def test_a_photo_renamed_and_moved_after_it_was_marked_stays_apart(library):
    ignore(photo(library, 5), photo(library, 6))
    (library / "elsewhere").mkdir()
    os.rename(photo(library, 5), library / "elsewhere" / "renamed.jpeg")

    assert groups_of(library) == [{"seagull_1.jpeg", "seagull_3.jpeg", "seagull_4.jpeg"}]


def test_a_byte_copy_of_a_marked_photo_is_marked_too_but_still_a_copy_of_it(library):
    ignore(photo(library, 5), photo(library, 6))
    shutil.copyfile(photo(library, 6), library / "copy of six.jpeg")

    groups = groups_of(library)

    # The copy is the same photo as seagull_6: not a duplicate of 5, but of 6 it is.
    assert not any("seagull_5.jpeg" in g for g in groups)
    assert {"seagull_6.jpeg", "copy of six.jpeg"} in groups


def test_the_list_shows_each_pair_with_the_paths_the_photos_had(library):
    ignore(photo(library, 5), photo(library, 6))
    ignore(photo(library, 1), photo(library, 3))

    run = ignore("--list")

    assert run.stdout.splitlines() == [
        f"{photo(library, 1)}\t{photo(library, 3)}",
        f"{photo(library, 5)}\t{photo(library, 6)}",
    ]


def test_an_empty_list_says_so_and_prints_no_data(library):
    run = ignore("--list")

    assert run.stdout == ""
    assert run.stderr == f"simplugin: no pair is ignored ({the_list()})\n"


def test_forgetting_a_photo_brings_its_pairs_back_and_says_which(library):
    ignore(photo(library, 5), photo(library, 6))
    ignore(photo(library, 1), photo(library, 3))

    run = ignore("--forget", photo(library, 6))

    assert run.stdout == f"forgot\t{photo(library, 5)}\t{photo(library, 6)}\n"
    assert ignore("--list").stdout == f"{photo(library, 1)}\t{photo(library, 3)}\n"
    assert {"seagull_5.jpeg", "seagull_6.jpeg"} in groups_of(library)


def test_a_photo_deleted_since_it_was_marked_is_forgotten_by_the_path_the_list_shows(library):
    ignore(photo(library, 5), photo(library, 6))
    os.remove(photo(library, 5))

    run = ignore("--forget", photo(library, 5))

    assert run.stdout.startswith("forgot\t")
    assert ignore("--list").stdout == ""


def test_forgetting_what_is_not_marked_says_there_is_nothing_to_forget(library):
    ignore(photo(library, 5), photo(library, 6))

    run = ignore("--forget", photo(library, 1))

    assert run.stdout == ""
    assert "nothing to forget" in run.stderr
    assert ignore("--list").stdout.count("\n") == 1


def test_forget_all_empties_the_list(library):
    ignore(photo(library, 1), photo(library, 3), photo(library, 4))

    run = ignore("--forget", "--all")

    assert run.stdout.count("forgot\t") == 3
    assert ignore("--list").stdout == ""
    assert "nothing to forget: the list is empty" in ignore("--forget", "--all").stderr


def test_the_list_survives_cache_clear(library):
    ignore(photo(library, 5), photo(library, 6))
    before = the_list().read_bytes()

    cleared = run_simplugin("cache", "clear")

    assert cleared.returncode == 0, cleared.stderr
    assert the_list().read_bytes() == before
    assert not any("seagull_5.jpeg" in g for g in groups_of(library))


def test_fewer_than_two_photos_is_a_usage_error(library):
    run = run_simplugin("ignore", photo(library, 5))

    assert run.returncode == 2
    assert "two photos or more" in run.stderr
    assert not the_list().exists()


def test_a_photo_that_cannot_be_read_gets_one_line_and_the_others_are_marked(library):
    os.mkfifo(library / "pipe.jpeg")  # never opened: reading it would wait forever
    missing = str(library / "gone.jpeg")

    run = run_simplugin(
        "ignore", photo(library, 5), str(library / "pipe.jpeg"), missing, photo(library, 6)
    )

    assert run.returncode == 3
    assert run.stderr.splitlines() == [
        f"simplugin: could not read {library / 'pipe.jpeg'}: not a regular file",
        f"simplugin: could not read {missing}: No such file or directory",
    ]
    assert run.stdout.startswith("marked 1 pair")
    assert ignore("--list").stdout == f"{photo(library, 5)}\t{photo(library, 6)}\n"


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"format": "something else"}',
        b'{"format": "\xff"}',
        b'{"format": "simplugin ignore list", "version": 2}',
        b'{"format": "simplugin ignore list", "version": 1, "photos": {}, "pairs": [[1, 2]]}',
        b"[" * 100_000,
        "too big",
    ],
    ids=["not JSON", "not an ignore list", "not UTF-8", "newer", "bad pair", "deep", "too big"],
)
def test_a_list_that_cannot_be_read_is_named_once_and_the_scan_goes_on(library, content):
    the_list().parent.mkdir(parents=True)
    with open(the_list(), "wb") as file:
        if content == "too big":
            file.truncate(MOST_BYTES + 1)
        else:
            file.write(content)

    run = run_simplugin("scan", str(library), "--json", "-")

    assert run.returncode == 0, run.stderr
    complaints = [line for line in run.stderr.splitlines() if "ignore list" in line]
    assert len(complaints) == 1
    assert complaints[0].startswith(f"simplugin: could not read the ignore list {the_list()}: ")
    assert len(json.loads(run.stdout)["groups"]) == 2


def test_ignore_refuses_to_write_over_a_list_it_cannot_read(library):
    the_list().parent.mkdir(parents=True)
    the_list().write_text("{not json")

    run = run_simplugin("ignore", photo(library, 5), photo(library, 6))

    assert run.returncode == 3
    assert "not writing over it" in run.stderr and str(the_list()) in run.stderr
    assert the_list().read_text() == "{not json"


def test_another_list_or_none_from_the_command_line(library, tmp_path):
    elsewhere = tmp_path / "my list.json"
    ignore("--ignore-list", str(elsewhere), photo(library, 5), photo(library, 6))

    assert len(groups_of(library)) == 2  # the default list is empty
    assert len(groups_of(library, "--ignore-list", str(elsewhere))) == 1
    ignore(photo(library, 5), photo(library, 6))
    assert len(groups_of(library, "--no-ignore-list")) == 2


def test_a_list_named_that_is_not_there_is_said_once(library, tmp_path):
    missing = tmp_path / "typo.json"

    run = run_simplugin("scan", str(library), "--ignore-list", str(missing))

    assert run.returncode == 0, run.stderr
    assert f"simplugin: there is no ignore list {missing}; no pair is left out\n" in run.stderr
    assert "ignore list" not in run_simplugin("scan", str(library)).stderr  # the default


def test_the_api_takes_a_list_or_false(library, tmp_path):
    elsewhere = tmp_path / "list.json"
    ignore("--ignore-list", str(elsewhere), photo(library, 5), photo(library, 6))

    with_list = simplugin.scan(library, ignore_list=elsewhere)
    without = simplugin.scan(library, ignore_list=False)

    assert (len(with_list.groups), with_list.ignored) == (1, 1)
    assert (len(without.groups), without.ignored) == (2, 0)


def test_the_configuration_file_names_the_list(library, tmp_path):
    elsewhere = tmp_path / "list.json"
    ignore("--ignore-list", str(elsewhere), photo(library, 5), photo(library, 6))
    config = tmp_path / "simplugin.toml"
    config.write_text(f"ignore_list = {json.dumps(str(elsewhere))}\n")

    assert len(groups_of(library, "--config", str(config))) == 1
    config.write_text("ignore_list = false\n")
    ignore(photo(library, 5), photo(library, 6))  # in the default list, switched off
    assert len(groups_of(library, "--config", str(config))) == 2


# The photos a second scan opens (the first filled the cache), by Python's audit events:
# what the process really opened, in a process of its own (a hook stays for life). The
# keeper rule is one that reads no EXIF.
COUNT_OPENED = """
import sys
import simplugin
library = sys.argv[1]
simplugin.scan(library, jobs=1, keep="largest")
opened = []
sys.addaudithook(
    lambda event, args: event == "open" and str(args[0]).startswith(library)
    and opened.append(str(args[0]))
)
simplugin.scan(library, jobs=1, keep="largest")
print(sorted(opened))
"""


def opened_by_a_rescan(library: Path) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", COUNT_OPENED, str(library)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return [Path(path).name for path in ast.literal_eval(run.stdout)]


def test_a_list_of_other_photos_reads_no_photo_again(library, tmp_path):
    (tmp_path / "a.jpeg").write_bytes(b"a")
    (tmp_path / "b.jpeg").write_bytes(b"bb")
    ignore(str(tmp_path / "a.jpeg"), str(tmp_path / "b.jpeg"))

    assert opened_by_a_rescan(library) == []


def test_only_the_photos_of_a_pair_the_list_may_hold_are_read_again(library):
    ignore(photo(library, 5), photo(library, 6))

    assert opened_by_a_rescan(library) == ["seagull_5.jpeg", "seagull_6.jpeg"]


def test_a_photo_the_identical_marker_and_the_list_both_need_is_read_once(library):
    ignore(photo(library, 5), photo(library, 6))
    shutil.copyfile(photo(library, 6), library / "copy of six.jpeg")

    opened = opened_by_a_rescan(library)

    assert opened == ["copy of six.jpeg", "seagull_5.jpeg", "seagull_6.jpeg"]


def test_marking_a_pair_again_says_it_was_marked_already(library):
    ignore(photo(library, 5), photo(library, 6))

    again = ignore(photo(library, 5), photo(library, 6))
    more = ignore(photo(library, 5), photo(library, 6), photo(library, 1))

    assert (
        again.stdout == f"marked 0 pairs as not duplicates (1 pair marked before) in {the_list()}\n"
    )
    assert more.stdout.startswith("marked 2 pairs as not duplicates (1 pair marked before) in ")
