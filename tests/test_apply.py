"""`simplugin apply PLAN --move-to DEST` carries out a plan (from the report, or the
JSON of a scan) with the move machinery, and checks every photo again first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import simplugin
from conftest import SEAGULLS, run_simplugin
from simplugin import UsageError, human_size, load_plan
from simplugin.plan import PLAN_PHOTO_LIMIT, PLAN_SIZE_LIMIT, PLAN_VALUE_LIMIT

# A command run from another folder imports this checkout's simplugin too, not whichever
# is installed (which need not be the one under test).
THIS_CHECKOUT = {
    "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(simplugin.__file__).parents[1]), os.environ.get("PYTHONPATH")])
    )
}


def write_plan(path: Path, groups: list[tuple[Path, list[Path]]], **fields) -> Path:
    document = {
        "version": 1,
        "groups": [
            {"keep": str(keep), "duplicates": [str(d) for d in duplicates]}
            for keep, duplicates in groups
        ],
        **fields,
    }
    path.write_text(json.dumps(document))
    return path


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("simplugin-journal"))


def test_the_json_of_a_scan_is_a_plan(library, tmp_path):
    scanned = run_simplugin(
        "scan", "library", "--json", "plan.json", cwd=tmp_path, env=THIS_CHECKOUT
    )
    assert scanned.returncode == 0

    run = run_simplugin("apply", "plan.json", "--move-to", "dest", cwd=tmp_path, env=THIS_CHECKOUT)

    assert run.returncode == 0, run.stderr
    assert names(library) == ["seagull_1.jpeg", "seagull_2.jpeg", "seagull_6.jpeg"]
    assert names(tmp_path / "dest") == ["seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg"]


def test_an_applied_plan_is_journaled_and_can_be_undone(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json", [(library / "seagull_5.jpeg", [library / "seagull_6.jpeg"])]
    )
    run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))
    (journal,) = (tmp_path / "dest").glob("simplugin-journal-*.jsonl")

    undone = run_simplugin("undo", str(journal))

    assert undone.returncode == 0
    assert len(names(library)) == 6


def test_a_dry_run_moves_nothing(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json", [(library / "seagull_5.jpeg", [library / "seagull_6.jpeg"])]
    )

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"), "--dry-run")

    assert run.returncode == 0
    assert run.stdout.startswith(f"would move {library / 'seagull_6.jpeg'} -> ")
    assert len(names(library)) == 6
    assert not (tmp_path / "dest").exists()


def test_a_group_whose_keeper_is_gone_is_left_alone(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json",
        [
            (library / "seagull_1.jpeg", [library / "seagull_3.jpeg"]),
            (library / "seagull_5.jpeg", [library / "seagull_6.jpeg"]),
        ],
    )
    (library / "seagull_1.jpeg").unlink()

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 3
    assert f"skipped {library / 'seagull_1.jpeg'}: no longer exists; its group is left alone" in (
        run.stderr
    )
    assert (library / "seagull_3.jpeg").exists()  # its keeper is gone: it is not moved
    assert names(tmp_path / "dest") == ["seagull_6.jpeg"]


def test_a_duplicate_that_is_gone_is_reported_and_the_others_move(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json",
        [(library / "seagull_1.jpeg", [library / "seagull_3.jpeg", library / "seagull_4.jpeg"])],
    )
    (library / "seagull_3.jpeg").unlink()

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 3
    assert run.stderr.splitlines()[0] == (
        f"simplugin: skipped {library / 'seagull_3.jpeg'}: no longer exists"
    )
    assert names(tmp_path / "dest") == ["seagull_4.jpeg"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "not a plan (not JSON"),
        ('{"groups": "x"}', "not a plan (no list of groups)"),
        ('{"version": 9, "groups": []}', "a plan of version 9"),
        ('{"groups": [{"duplicates": []}]}', "group 1: expected an object with a 'keep' path"),
    ],
)
def test_a_file_that_is_not_a_plan_is_one_line_naming_it(tmp_path, content, reason):
    (tmp_path / "plan.json").write_text(content)

    run = run_simplugin("apply", str(tmp_path / "plan.json"), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 2
    assert run.stderr.startswith(f"simplugin: error: {tmp_path / 'plan.json'}: {reason}")
    assert len(run.stderr.splitlines()) == 1
    assert not (tmp_path / "dest").exists()


def test_a_photo_in_two_groups_makes_the_plan_ambiguous(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json",
        [
            (library / "seagull_1.jpeg", [library / "seagull_3.jpeg"]),
            (library / "seagull_3.jpeg", [library / "seagull_4.jpeg"]),
        ],
    )

    with pytest.raises(UsageError, match="seagull_3.jpeg is already in group 1"):
        load_plan(plan)


def test_a_loaded_plan_has_the_photos_as_they_are_now(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json",
        [(library / "seagull_5.jpeg", [library / "seagull_6.jpeg"])],
        roots=[str(library)],
        metric="avgdiff",
        threshold=0.07,
    )

    result = load_plan(plan)

    (group,) = result.groups
    assert (group.keep.width, group.keep.height, group.keep.format) == (768, 1024, "JPEG")
    assert group.duplicates[0].photo.size == (library / "seagull_6.jpeg").stat().st_size
    assert result.settings.roots == (str(library),)


def test_a_duplicate_changed_since_the_plan_was_made_stays(library, tmp_path):
    duplicate = library / "seagull_6.jpeg"
    seen = {"size": duplicate.stat().st_size, "mtime_ns": str(duplicate.stat().st_mtime_ns)}
    plan = write_plan(
        tmp_path / "plan.json",
        [(library / "seagull_5.jpeg", [duplicate])],
        files={str(duplicate): seen},
    )
    os.utime(duplicate, ns=(0, duplicate.stat().st_mtime_ns + 1_000_000_000))  # edited since

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 3
    assert f"skipped {duplicate}: changed since the plan was made" in run.stderr
    assert duplicate.exists()
    assert not (tmp_path / "dest").exists()


def test_a_json_plan_applies_from_any_folder(library, tmp_path):
    run_simplugin("scan", "library", "--json", "plan.json", cwd=tmp_path, env=THIS_CHECKOUT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    run = run_simplugin(
        "apply", "../plan.json", "--move-to", "../dest", cwd=elsewhere, env=THIS_CHECKOUT
    )

    assert run.returncode == 0, run.stderr
    assert names(library) == ["seagull_1.jpeg", "seagull_2.jpeg", "seagull_6.jpeg"]
    assert names(tmp_path / "dest") == ["seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg"]


@pytest.mark.parametrize("change", ["rewritten with other bytes", "touched"])
def test_a_duplicate_changed_since_scan_json_stays(library, tmp_path, change):
    run_simplugin("scan", "library", "--json", "plan.json", cwd=tmp_path, env=THIS_CHECKOUT)
    duplicate = library / "seagull_5.jpeg"
    if change == "touched":
        os.utime(duplicate, ns=(0, duplicate.stat().st_mtime_ns + 1_000_000_000))
    else:
        duplicate.write_bytes((SEAGULLS / "seagull_2.jpeg").read_bytes())

    run = run_simplugin("apply", "plan.json", "--move-to", "dest", cwd=tmp_path, env=THIS_CHECKOUT)

    assert run.returncode == 3
    assert run.stderr.splitlines()[0] == (
        f"simplugin: skipped {duplicate}: changed since the plan was made"
    )
    assert names(library) == [
        "seagull_1.jpeg",
        "seagull_2.jpeg",
        "seagull_5.jpeg",
        "seagull_6.jpeg",
    ]
    assert names(tmp_path / "dest") == ["seagull_3.jpeg", "seagull_4.jpeg"]


@pytest.mark.parametrize("spelling", ["through a linked folder", "as itself"])
def test_a_keeper_named_again_as_its_own_duplicate_stays(library, tmp_path, spelling):
    (tmp_path / "alias").symlink_to(library)
    keeper = library / "seagull_5.jpeg"
    again = keeper if spelling == "as itself" else tmp_path / "alias" / "seagull_5.jpeg"
    plan = write_plan(tmp_path / "plan.json", [(keeper, [again, library / "seagull_6.jpeg"])])

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 3
    assert run.stderr.splitlines()[0] == (
        f"simplugin: skipped {again}: the same photo as its group's keeper, {keeper}: not moved"
    )
    assert keeper.exists()
    assert names(tmp_path / "dest") == ["seagull_6.jpeg"]


def test_the_same_duplicate_named_twice_moves_once(library, tmp_path):
    duplicate = library / "seagull_6.jpeg"
    other_spelling = library / ".." / "library" / "seagull_6.jpeg"
    plan = write_plan(
        tmp_path / "plan.json", [(library / "seagull_5.jpeg", [duplicate, other_spelling])]
    )

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 0, run.stderr
    assert names(tmp_path / "dest") == ["seagull_6.jpeg"]


def test_a_photo_in_two_groups_is_refused_however_it_is_spelled(library, tmp_path):
    (tmp_path / "alias").symlink_to(library)
    plan = write_plan(
        tmp_path / "plan.json",
        [
            (library / "seagull_1.jpeg", [library / "seagull_3.jpeg"]),
            (tmp_path / "alias" / "seagull_3.jpeg", [library / "seagull_4.jpeg"]),
        ],
    )

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {plan}: group 2: {tmp_path / 'alias' / 'seagull_3.jpeg'} is already"
        f" in group 1 (as {library / 'seagull_3.jpeg'})\n"
    )
    assert len(names(library)) == 6
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(
    ("roots", "through_a_link"),
    [(True, False), (True, True), (False, True)],
    ids=["outside-the-roots", "linked-folder-leading-out", "linked-folder-leading-out-no-roots"],
)
def test_a_duplicate_outside_the_plans_roots_stays(library, tmp_path, roots, through_a_link):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "seagull_6.jpeg").write_bytes((SEAGULLS / "seagull_6.jpeg").read_bytes())
    if through_a_link:
        (library / "link").symlink_to(elsewhere)
    named = (library / "link" if through_a_link else elsewhere) / "seagull_6.jpeg"
    plan = write_plan(
        tmp_path / "plan.json",
        [(library / "seagull_5.jpeg", [named, library / "seagull_6.jpeg"])],
        **({"roots": [str(library)]} if roots else {}),
    )

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 3
    # The last lines: the total moved, and where the moves are journaled.
    (line,) = run.stderr.splitlines()[:-2]
    assert line.startswith(f"simplugin: skipped {named}: outside the plan's roots")
    assert line.endswith(": left alone")
    assert (elsewhere / "seagull_6.jpeg").exists()
    assert names(tmp_path / "dest") == ["seagull_6.jpeg"]


def test_a_duplicate_that_is_a_symbolic_link_stays_a_link(library, tmp_path):
    link = library / "link.jpeg"
    link.symlink_to(library / "seagull_6.jpeg")
    plan = write_plan(tmp_path / "plan.json", [(library / "seagull_5.jpeg", [link])])

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 3
    assert run.stderr == (
        f"simplugin: skipped {link}: a symbolic link (moving it would not move the photo):"
        " left alone\n"
        "simplugin: moved no files\n"
    )
    assert link.is_symlink()
    assert not (tmp_path / "dest").exists()


def test_a_duplicate_that_is_a_fifo_is_skipped_without_waiting_on_it(library, tmp_path):
    fifo = library / "seagull_7.jpeg"
    os.mkfifo(fifo)
    plan = write_plan(
        tmp_path / "plan.json", [(library / "seagull_5.jpeg", [fifo, library / "seagull_6.jpeg"])]
    )

    # A process of its own, which has a timeout: waiting on the FIFO would hang.
    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"), process=True)

    assert run.returncode == 3
    assert run.stderr.splitlines()[0] == (
        f"simplugin: skipped {fifo}: not a regular file: a FIFO (named pipe)"
    )
    assert fifo.exists()
    assert names(tmp_path / "dest") == ["seagull_6.jpeg"]


@pytest.mark.parametrize("kind", ["a FIFO (named pipe)", "a folder"])
def test_a_plan_that_is_not_a_regular_file_is_one_line_without_waiting(tmp_path, kind):
    plan = tmp_path / "plan.json"
    os.mkfifo(plan) if kind.startswith("a FIFO") else plan.mkdir()

    # A process of its own, which has a timeout: waiting on a FIFO would hang.
    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"), process=True)

    assert run.returncode == 2
    assert run.stderr == f"simplugin: error: {plan}: not a plan ({kind}, not a regular file)\n"


@pytest.mark.parametrize("limit", ["size", "values", "photos"])
def test_a_plan_over_the_limits_is_refused_unread(tmp_path, limit):
    plan = tmp_path / "plan.json"
    if limit == "photos":  # each named photo costs far more than its bytes
        names = [f"/photos/{number}.jpg" for number in range(PLAN_PHOTO_LIMIT)]
        plan.write_text(json.dumps({"groups": [{"keep": "/photos/k.jpg", "duplicates": names}]}))
        reason = f"it names more than {PLAN_PHOTO_LIMIT:,} photos"
    elif limit == "size":
        with open(plan, "wb") as file:
            file.truncate(PLAN_SIZE_LIMIT + 1)  # sparse: it takes no room on the disk
        reason = "larger than a plan can be (64.0 MiB)"
    else:  # a small file that would take hundreds of megabytes to parse
        plan.write_text('{"groups": [], "x": [' + "[]," * (PLAN_VALUE_LIMIT // 2) + "[]]}")
        reason = f"more values than a plan can have ({PLAN_VALUE_LIMIT:,})"

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 2
    assert run.stderr == f"simplugin: error: {plan}: not read: {reason}\n"


DEEP = "[" * 100_000 + "]" * 100_000
MALFORMED_PLANS = {
    "roots-a-number": '{"groups": [], "roots": 7}',
    "roots-a-path": '{"groups": [], "roots": "/photos"}',
    "roots-not-paths": '{"groups": [], "roots": [7]}',
    "roots-empty": '{"groups": [], "roots": []}',
    "base-a-number": '{"groups": [], "base": 7}',
    "base-relative": '{"groups": [], "base": "photos"}',
    "files-a-list": '{"groups": [], "files": []}',
    "files-without-size": '{"groups": [], "files": {"/a.jpg": {"mtime_ns": "1"}}}',
    "mtime-not-a-number": '{"groups": [], "files": {"/a.jpg": {"size": 1, "mtime_ns": "x"}}}',
    "threshold-a-string": '{"groups": [], "threshold": "x"}',
    "metric-an-object": '{"groups": [], "metric": {}}',
    "bucketer-a-list": '{"groups": [], "bucketer": []}',
    "version-a-string": '{"groups": [], "version": "1"}',
    "version-true": '{"groups": [], "version": true}',
    "format-another": '{"groups": [], "format": "simplugin-journal"}',
    "groups-an-object": '{"groups": {}}',
    "group-a-number": '{"groups": [7]}',
    "keep-a-number": '{"groups": [{"keep": 5}]}',
    "duplicates-missing": '{"groups": [{"keep": "/a.jpg"}]}',
    "distances-a-string": '{"groups": [{"keep": "/a", "duplicates": ["/b"], "distances": "x"}]}',
    "distance-a-string": '{"groups": [{"keep": "/a", "duplicates": ["/b"], "distances": ["x"]}]}',
    "path-with-nul": '{"groups": [{"keep": "/a.jpg", "duplicates": ["/b\\u0000.jpg"]}]}',
    "path-not-encodable": '{"groups": [{"keep": "/a\\ud800.jpg", "duplicates": []}]}',
    "a-list": "[]",
    "nested-100000-deep": DEEP,
    "nested-deep-in-a-field": '{"groups": [], "pairs": ' + DEEP + "}",
    "not-utf8": b'{"groups": [], "metric": "\xff"}',
}


@pytest.mark.parametrize("content", MALFORMED_PLANS.values(), ids=MALFORMED_PLANS.keys())
def test_a_malformed_plan_is_one_line_naming_it_never_a_traceback(tmp_path, content):
    plan = tmp_path / "plan.json"
    plan.write_bytes(content if isinstance(content, bytes) else content.encode())

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"simplugin: error: {plan}: ")
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry run", "apply"])
def test_apply_ends_with_the_files_the_bytes_and_the_groups_it_moves(library, tmp_path, dry_run):
    plan = write_plan(
        tmp_path / "plan.json",
        [
            (library / "seagull_5.jpeg", [library / "seagull_6.jpeg"]),
            (library / "seagull_1.jpeg", [library / "seagull_3.jpeg", library / "seagull_4.jpeg"]),
        ],
    )
    moving = ["seagull_6.jpeg", "seagull_3.jpeg", "seagull_4.jpeg"]
    size = human_size(sum((library / name).stat().st_size for name in moving))

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"), *dry_run)

    assert run.returncode == 0, run.stderr
    verb = "would move" if dry_run else "moved"
    assert f"simplugin: {verb} 3 files ({size}) in 2 groups\n" in run.stderr


def test_a_plan_keeps_the_protection_of_the_scan_that_made_it(tmp_path):
    library = tmp_path / "library"
    (library / "originals").mkdir(parents=True)
    (library / "exports").mkdir()
    for name in ("seagull_1.jpeg", "seagull_3.jpeg"):
        (library / "originals" / name).write_bytes((SEAGULLS / name).read_bytes())
    (library / "exports" / "seagull_4.jpeg").write_bytes((SEAGULLS / "seagull_4.jpeg").read_bytes())
    plan = tmp_path / "plan.json"
    scanned = run_simplugin(
        "scan", str(library), "--protect", str(library / "originals"), "--json", str(plan)
    )
    assert scanned.returncode == 0
    # The user's review made a protected photo a duplicate: the plan says to move it.
    document = json.loads(plan.read_text())
    everyone = [p for g in document["groups"] for p in [g["keep"], *g["duplicates"]]]
    exported = next(p for p in everyone if "exports" in p)
    document["groups"] = [{"keep": exported, "duplicates": [p for p in everyone if p != exported]}]
    plan.write_text(json.dumps(document))

    run = run_simplugin("apply", str(plan), "--move-to", str(tmp_path / "dest"))

    assert names(library / "originals") == ["seagull_1.jpeg", "seagull_3.jpeg"]
    assert "it is protected" in run.stderr


def test_apply_protects_the_folders_it_is_told_to(library, tmp_path):
    plan = write_plan(
        tmp_path / "plan.json", [(library / "seagull_6.jpeg", [library / "seagull_5.jpeg"])]
    )

    run = run_simplugin(
        "apply", str(plan), "--move-to", str(tmp_path / "dest"), "--protect", str(library)
    )

    assert "seagull_5.jpeg" in names(library)
    assert "it is protected" in run.stderr


@pytest.mark.parametrize("sink", ["--move-to", "--trash"])
@pytest.mark.parametrize("trash", ["home trash", "volume trash", "thumbnail cache"])
def test_a_plan_naming_a_file_in_a_trash_or_a_cache_leaves_it_alone(
    library, tmp_path, monkeypatch, sink, trash
):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg" / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg" / "state"))
    folder = {
        "home trash": tmp_path / "xdg" / "data" / "Trash",
        "volume trash": library / f".Trash-{os.getuid()}",
        "thumbnail cache": library / "@eaDir",
    }[trash]
    (folder / "files").mkdir(parents=True)
    trashed = folder / "files" / "holiday.jpeg"
    trashed.write_bytes((SEAGULLS / "seagull_6.jpeg").read_bytes())
    plan = write_plan(
        tmp_path / "plan.json",
        [(library / "seagull_5.jpeg", [trashed, library / "seagull_6.jpeg"])],
        roots=[str(tmp_path)],
    )
    destination = [str(tmp_path / "dest")] if sink == "--move-to" else []

    run = run_simplugin("apply", str(plan), sink, *destination)

    assert run.returncode == 3
    line = next(line for line in run.stderr.splitlines() if "holiday.jpeg" in line)
    assert line == (
        f"simplugin: skipped {trashed}: in {folder}, a folder a scan never reads"
        " (a trash or a thumbnail cache): left alone"
    )
    assert trashed.exists()
    assert not (library / "seagull_6.jpeg").exists()  # the others leave
