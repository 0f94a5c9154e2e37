"""`simplugin apply PLAN --move-to DEST` carries out a plan (from the report, or the
JSON of a scan) with the move machinery, and checks every photo again first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_simplugin
from simplugin import UsageError, load_plan


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
    scanned = run_simplugin("scan", "library", "--json", "plan.json", cwd=tmp_path)
    assert scanned.returncode == 0

    run = run_simplugin("apply", "plan.json", "--move-to", "dest", cwd=tmp_path)

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
