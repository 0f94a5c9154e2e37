"""`--trash` sends duplicates to the desktop's trash as a file manager does (the
freedesktop.org Trash specification), and `simplugin undo` puts them back byte for byte,
trusting only what a file manager's "Restore" would do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from test_move import snapshot
from test_nothing_unasked import NOT_RUN, write_config

from conftest import run_simplugin
from simplugin import OutputIncomplete, scan, write
from simplugin.xdg import base_folder

DUPLICATES = ("seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg")


@pytest.fixture
def desktop(tmp_path, monkeypatch) -> Path:
    """A home of its own: XDG_DATA_HOME (where the home trash is) and XDG_STATE_HOME
    (where trash runs keep their journals) in temporary folders."""
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    return home


def trash_of(desktop: Path) -> Path:
    return desktop / "share" / "Trash"


def journal_of(desktop: Path) -> Path:
    (journal,) = (desktop / "state" / "simplugin" / "journals").glob("simplugin-journal-*.jsonl")
    return journal


def trash_info(info: Path) -> dict[str, str]:
    """A .trashinfo's keys, its Path decoded."""
    lines = info.read_text().splitlines()
    assert lines[0] == "[Trash Info]"
    keys = dict(line.split("=", 1) for line in lines[1:])
    keys["Path"] = urllib.parse.unquote(keys["Path"])
    return keys


def test_duplicates_go_to_the_home_trash_with_a_trashinfo_naming_where_they_were(library, desktop):
    (library / "seagull_5.xmp").write_text("metadata of seagull 5")
    keepers = {name: (library / name).read_bytes() for name in ("seagull_1.jpeg", "seagull_6.jpeg")}

    run = run_simplugin("scan", str(library), "--trash")

    assert run.returncode == 0, run.stderr
    trash = trash_of(desktop)
    assert sorted(os.listdir(trash / "files")) == sorted([*DUPLICATES, "seagull_5.xmp"])
    for name in [*DUPLICATES, "seagull_5.xmp"]:
        assert not (library / name).exists()
        info = trash_info(trash / "info" / f"{name}.trashinfo")
        assert info["Path"] == str(library / name)
        assert len(info["DeletionDate"]) == len("2024-05-01T12:00:00")
    assert {name: (library / name).read_bytes() for name in keepers} == keepers
    assert "trashed 4 files" in run.stderr
    assert f"simplugin undo {journal_of(desktop)}" in run.stderr


def test_undo_puts_every_trashed_file_back_byte_for_byte_and_removes_its_trashinfo(
    library, desktop
):
    (library / "seagull_3.jpeg.xmp").write_text("metadata of seagull 3")
    before = snapshot(library)
    run_simplugin("scan", str(library), "--trash")

    run = run_simplugin("undo", str(journal_of(desktop)))

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before
    assert os.listdir(trash_of(desktop) / "files") == []
    assert os.listdir(trash_of(desktop) / "info") == []
    again = run_simplugin("undo", str(journal_of(desktop)))
    assert again.returncode == 0
    assert "nothing to put back" in again.stderr


def test_a_protected_photo_is_never_trashed(library, desktop):
    protected = library / "seagull_4.jpeg"
    before = protected.read_bytes()

    run = run_simplugin("scan", str(library), "--trash", "--protect", str(protected))

    assert run.returncode == 0, run.stderr
    assert protected.read_bytes() == before
    # The protected photo is its group's keeper now: seagull_1 leaves in its place.
    assert sorted(os.listdir(trash_of(desktop) / "files")) == [
        "seagull_1.jpeg",
        "seagull_3.jpeg",
        "seagull_5.jpeg",
    ]


def test_a_name_already_in_the_trash_gets_another_and_undo_restores_both(library, desktop):
    trash = trash_of(desktop)
    (trash / "files").mkdir(parents=True)
    (trash / "info").mkdir()
    (trash / "files" / "seagull_5.jpeg").write_bytes(b"a file the user trashed before")
    (trash / "info" / "seagull_5.jpeg.trashinfo").write_text(
        "[Trash Info]\nPath=/elsewhere/seagull_5.jpeg\nDeletionDate=2024-01-01T00:00:00\n"
    )
    before = snapshot(library)

    run_simplugin("scan", str(library), "--trash")

    assert (trash / "files" / "seagull_5.2.jpeg").read_bytes() == before["seagull_5.jpeg"]
    assert trash_info(trash / "info" / "seagull_5.2.jpeg.trashinfo")["Path"] == str(
        library / "seagull_5.jpeg"
    )
    run = run_simplugin("undo", str(journal_of(desktop)))
    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before
    assert (trash / "files" / "seagull_5.jpeg").read_bytes() == b"a file the user trashed before"
    assert (trash / "info" / "seagull_5.jpeg.trashinfo").exists()


@pytest.mark.parametrize("in_the_way", ["file", "link", "folder"])
def test_something_at_the_original_path_keeps_the_file_in_the_trash(library, desktop, in_the_way):
    run_simplugin("scan", str(library), "--trash")
    original = library / "seagull_3.jpeg"
    if in_the_way == "file":
        original.write_bytes(b"a new photo")
    elif in_the_way == "link":
        original.symlink_to(library / "nowhere")
    else:
        original.mkdir()

    run = run_simplugin("undo", str(journal_of(desktop)))

    assert run.returncode == 3
    assert f"left {trash_of(desktop)}/files/seagull_3.jpeg" in run.stderr
    assert (trash_of(desktop) / "files" / "seagull_3.jpeg").exists()
    assert (trash_of(desktop) / "info" / "seagull_3.jpeg.trashinfo").exists()
    assert (library / "seagull_4.jpeg").exists()  # the others come back


def test_a_journal_edited_to_name_a_file_outside_the_trash_changes_nothing(
    library, desktop, tmp_path
):
    run_simplugin("scan", str(library), "--trash")
    journal = journal_of(desktop)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("the user's file")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    for entry in lines[1:]:
        if entry["source"].endswith("seagull_3.jpeg"):
            entry["target"] = str(elsewhere / "secret.txt")
    journal.write_text("".join(json.dumps(entry) + "\n" for entry in lines))
    trashed = sorted(os.listdir(trash_of(desktop) / "files"))

    run = run_simplugin("undo", str(journal))

    assert run.returncode == 3
    assert "is not in the files of a trash folder of this user's" in run.stderr
    assert "nothing was put back" in run.stderr
    assert sorted(os.listdir(trash_of(desktop) / "files")) == trashed
    assert (elsewhere / "secret.txt").read_text() == "the user's file"
    assert not (library / "seagull_3.jpeg").exists()


def test_a_trashinfo_naming_another_path_changes_nothing(library, desktop, tmp_path):
    run_simplugin("scan", str(library), "--trash")
    info = trash_of(desktop) / "info" / "seagull_4.jpeg.trashinfo"
    info.write_text(f"[Trash Info]\nPath={tmp_path}/other.jpeg\nDeletionDate=2024-01-01T00:00:00\n")
    trashed = sorted(os.listdir(trash_of(desktop) / "files"))

    run = run_simplugin("undo", str(journal_of(desktop)))

    assert run.returncode == 3
    assert f"names {tmp_path}/other.jpeg, not {library}/seagull_4.jpeg" in run.stderr
    assert sorted(os.listdir(trash_of(desktop) / "files")) == trashed
    assert not any((library / name).exists() for name in DUPLICATES)


def test_a_file_the_user_restored_from_the_file_manager_is_left_alone(library, desktop):
    before = snapshot(library)
    run_simplugin("scan", str(library), "--trash")
    trash = trash_of(desktop)
    os.rename(trash / "files" / "seagull_4.jpeg", library / "seagull_4.jpeg")  # "Restore"
    os.unlink(trash / "info" / "seagull_4.jpeg.trashinfo")

    run = run_simplugin("undo", str(journal_of(desktop)))

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before


def test_undo_of_a_run_killed_before_its_rename_removes_only_its_own_trashinfo(library, desktop):
    before = snapshot(library)
    run_simplugin("scan", str(library), "--trash")
    trash = trash_of(desktop)
    # As if the run had died after the .trashinfo of seagull_3 and before its rename.
    os.rename(trash / "files" / "seagull_3.jpeg", library / "seagull_3.jpeg")
    journal = journal_of(desktop)
    lines = journal.read_text().splitlines()
    journal.write_text(
        "".join(line + "\n" for line in lines if '"trashed"' not in line or "seagull_3" not in line)
    )

    run = run_simplugin("undo", str(journal))

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before
    assert os.listdir(trash / "info") == []


def test_a_dry_run_prints_what_would_go_to_the_trash_and_changes_nothing(library, desktop):
    before = snapshot(library)

    run = run_simplugin("scan", str(library), "--trash", "--dry-run")

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before
    assert not desktop.exists()
    assert sorted(line for line in run.stdout.splitlines() if line.startswith("would")) == [
        f"would trash {library}/{name}" for name in DUPLICATES
    ]
    assert "would trash 3 files" in run.stderr


def test_move_to_and_trash_together_is_a_usage_error(library, desktop, tmp_path):
    run = run_simplugin("scan", str(library), "--trash", "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 2
    assert "--move-to and --trash" in run.stderr


def test_a_trash_sink_in_the_configuration_file_runs_only_with_apply(library, desktop, tmp_path):
    write_config(tmp_path, 'name = "trash"')
    before = snapshot(library)

    plain = run_simplugin("scan", str(library), cwd=tmp_path)

    assert plain.returncode == 0
    assert snapshot(library) == before
    assert f"the sink 'trash' of simplugin.toml {NOT_RUN}" in plain.stderr
    applied = run_simplugin("scan", str(library), "--apply", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert sorted(os.listdir(trash_of(desktop) / "files")) == sorted(DUPLICATES)


def test_apply_sends_a_plans_duplicates_to_the_trash(library, desktop, tmp_path):
    plan = tmp_path / "plan.json"
    run_simplugin("scan", str(library), "--json", str(plan))

    run = run_simplugin("apply", str(plan), "--trash")

    assert run.returncode == 0, run.stderr
    assert sorted(os.listdir(trash_of(desktop) / "files")) == sorted(DUPLICATES)


@pytest.fixture
def volume(tmp_path) -> Path:
    """A tmpfs of its own mounted in a temporary folder: another filesystem than the
    home trash's, as a USB disk or a NAS share is."""
    mount_point = tmp_path / "volume"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_file_on_another_filesystem_goes_to_its_trash_and_back(library, desktop, volume):
    on_volume = volume / "library"
    shutil.copytree(library, on_volume)
    before = snapshot(on_volume)

    run = run_simplugin("scan", str(on_volume), "--trash")

    assert run.returncode == 0, run.stderr
    trash = volume / f".Trash-{os.getuid()}"
    assert sorted(os.listdir(trash / "files")) == sorted(DUPLICATES)
    assert oct(os.stat(trash).st_mode & 0o777) == "0o700"
    info = trash_info(trash / "info" / "seagull_3.jpeg.trashinfo")
    assert info["Path"] == "library/seagull_3.jpeg"  # relative to the top of its filesystem
    assert not (trash_of(desktop) / "files").exists() or not os.listdir(trash_of(desktop) / "files")
    undone = run_simplugin("undo", str(journal_of(desktop)))
    assert undone.returncode == 0, undone.stderr
    assert snapshot(on_volume) == before
    assert os.listdir(trash / "info") == []


def test_a_file_no_trash_can_take_stays_where_it_was_with_one_line(library, desktop, volume):
    on_volume = volume / "library"
    shutil.copytree(library, on_volume)
    elsewhere = volume / "elsewhere"
    elsewhere.mkdir()
    (volume / f".Trash-{os.getuid()}").symlink_to(elsewhere)  # never followed
    before = snapshot(on_volume)

    run = run_simplugin("scan", str(on_volume), "--trash")

    assert run.returncode == 3
    assert snapshot(on_volume) == before
    assert os.listdir(elsewhere) == []
    line = next(line for line in run.stderr.splitlines() if "seagull_3.jpeg" in line)
    assert line.startswith(f"simplugin: could not trash {on_volume}/seagull_3.jpeg: ")
    assert "a symbolic link, not a folder" in line


def test_a_volume_with_a_shared_sticky_trash_gets_the_users_folder_in_it(library, desktop, volume):
    on_volume = volume / "library"
    shutil.copytree(library, on_volume)
    (volume / ".Trash").mkdir()
    os.chmod(volume / ".Trash", 0o1777)  # as an administrator makes it
    before = snapshot(on_volume)

    run_simplugin("scan", str(on_volume), "--trash")

    trash = volume / ".Trash" / str(os.getuid())
    assert sorted(os.listdir(trash / "files")) == sorted(DUPLICATES)
    assert not (volume / f".Trash-{os.getuid()}").exists()
    undone = run_simplugin("undo", str(journal_of(desktop)))
    assert undone.returncode == 0, undone.stderr
    assert snapshot(on_volume) == before


def trash_as_a_file_manager_does(path: Path, trash: Path) -> None:
    """Send `path` to the home trash as a file manager would, under its own name."""
    (trash / "info" / f"{path.name}.trashinfo").write_text(
        f"[Trash Info]\nPath={urllib.parse.quote(str(path))}\nDeletionDate=2024-01-01T00:00:00\n"
    )
    os.rename(path, trash / "files" / path.name)


def test_a_file_the_user_trashed_again_from_the_file_manager_is_not_restored(library, desktop):
    run_simplugin("scan", str(library), "--trash")
    trash = trash_of(desktop)
    os.rename(trash / "files" / "seagull_4.jpeg", library / "seagull_4.jpeg")  # "Restore"
    os.unlink(trash / "info" / "seagull_4.jpeg.trashinfo")
    (library / "seagull_4.jpeg").write_bytes(b"the user's edit")
    trash_as_a_file_manager_does(library / "seagull_4.jpeg", trash)

    run = run_simplugin("undo", str(journal_of(desktop)))

    assert run.returncode == 3
    assert "seagull_4.jpeg is not the file the run trashed" in run.stderr
    assert (trash / "files" / "seagull_4.jpeg").read_bytes() == b"the user's edit"
    assert (trash / "info" / "seagull_4.jpeg.trashinfo").exists()
    assert not (library / "seagull_4.jpeg").exists()
    assert (library / "seagull_3.jpeg").exists()  # the others come back


def test_undo_run_twice_never_restores_what_the_user_trashed_after_the_first(library, desktop):
    run_simplugin("scan", str(library), "--trash")
    journal = journal_of(desktop)
    run_simplugin("undo", str(journal))
    (library / "seagull_5.jpeg").write_bytes(b"the user's edit")
    trash_as_a_file_manager_does(library / "seagull_5.jpeg", trash_of(desktop))

    run = run_simplugin("undo", str(journal))

    assert run.returncode == 0, run.stderr
    assert "nothing to put back" in run.stderr
    assert (trash_of(desktop) / "files" / "seagull_5.jpeg").read_bytes() == b"the user's edit"
    assert not (library / "seagull_5.jpeg").exists()


def test_a_folder_replaced_by_a_symbolic_link_is_never_followed_by_undo(library, desktop, tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    library.rename(top / "sub")
    run_simplugin("scan", str(top), "--trash")
    (top / "sub").rename(top / "sub.old")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (top / "sub").symlink_to(elsewhere)

    run = run_simplugin("undo", str(journal_of(desktop)))

    assert run.returncode == 3
    assert f"{top}/sub leads elsewhere now (through a symbolic link)" in run.stderr
    assert os.listdir(elsewhere) == []
    assert sorted(os.listdir(trash_of(desktop) / "files")) == sorted(DUPLICATES)


def test_a_name_too_long_for_its_trashinfo_is_shortened_and_restored_exactly(library, desktop):
    long_name = "S" * 239 + ".jpeg"  # 244 bytes: NAME.trashinfo would be 254 + 10
    (library / "seagull_5.jpeg").rename(library / long_name)
    (library / f"{long_name}.xmp").write_text("metadata")
    before = snapshot(library)

    run = run_simplugin("scan", str(library), "--trash")

    assert run.returncode == 0, run.stderr
    assert not (library / long_name).exists()
    assert not (library / f"{long_name}.xmp").exists()
    infos = [trash_info(info) for info in (trash_of(desktop) / "info").iterdir()]
    assert all(
        len(os.fsencode(info.name)) <= 255 for info in (trash_of(desktop) / "info").iterdir()
    )
    assert {info["Path"] for info in infos} >= {
        str(library / long_name),
        str(library / f"{long_name}.xmp"),
    }
    undone = run_simplugin("undo", str(journal_of(desktop)))
    assert undone.returncode == 0, undone.stderr
    assert snapshot(library) == before


def test_a_journal_naming_a_path_outside_the_volume_of_its_trash_creates_nothing(
    library, desktop, volume
):
    on_volume = volume / "library"
    shutil.copytree(library, on_volume)
    run_simplugin("scan", str(on_volume), "--trash")
    trash = volume / f".Trash-{os.getuid()}"
    outside = volume.parent / "newdir" / "sub" / "esc.jpeg"
    (trash / "info" / "seagull_3.jpeg.trashinfo").write_text(
        "[Trash Info]\nPath=..%2Fnewdir%2Fsub%2Fesc.jpeg\nDeletionDate=2024-01-01T00:00:00\n"
    )
    journal = journal_of(desktop)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    for entry in lines[1:]:
        if entry["source"].endswith("seagull_3.jpeg"):
            entry["source"] = str(outside)
    journal.write_text("".join(json.dumps(entry) + "\n" for entry in lines))

    run = run_simplugin("undo", str(journal))

    assert run.returncode == 3
    assert "nothing was put back" in run.stderr
    assert not (volume.parent / "newdir").exists()
    assert (trash / "files" / "seagull_3.jpeg").exists()


@pytest.mark.parametrize("kind", ["config", "cache", "data", "state"])
def test_a_relative_xdg_folder_is_ignored_as_the_specification_says(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(variable, "reldata")

    assert base_folder(kind) == os.path.join(tmp_path, DEFAULT_UNDER_HOME[kind])


DEFAULT_UNDER_HOME = {
    "config": ".config",
    "cache": ".cache",
    "data": ".local/share",
    "state": ".local/state",
}


def test_with_a_relative_xdg_data_home_the_home_trash_is_under_the_home_folder(
    library, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", "reldata")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    run = run_simplugin("scan", str(library), "--trash", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    trash = tmp_path / "home" / ".local" / "share" / "Trash"
    assert sorted(os.listdir(trash / "files")) == sorted(DUPLICATES)


@pytest.mark.parametrize("sink", ["trash", "move"])
@pytest.mark.parametrize("replaced_by", ["another file", "a symbolic link"])
def test_a_duplicate_replaced_after_the_scan_stays_with_its_sidecar(
    library, desktop, tmp_path, capsys, sink, replaced_by
):
    (library / "seagull_5.xmp").write_text("metadata of seagull 5")
    result = scan(library)
    duplicate = library / "seagull_5.jpeg"
    duplicate.unlink()
    if replaced_by == "another file":
        duplicate.write_bytes(b"not the photo the scan read, at all")
    else:
        duplicate.symlink_to(library / "seagull_1.jpeg")
    options = {"to": str(tmp_path / "moved")} if sink == "move" else {}

    with pytest.raises(OutputIncomplete):
        write(result, sink, **options)

    assert f"{duplicate}: changed since the scan; left where it was" in capsys.readouterr().err
    assert os.path.lexists(duplicate)
    assert (library / "seagull_5.xmp").read_text() == "metadata of seagull 5"
    assert not (library / "seagull_3.jpeg").exists()  # the others leave


@pytest.fixture
def immutable(tmp_path):
    """Makes a file immutable (chattr +i: even root cannot rename it), and mutable again
    after the test."""
    made: list[Path] = []

    def make(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("sink", ["--trash", "--move-to"])
def test_a_photo_that_cannot_leave_keeps_its_sidecars_with_it(
    library, desktop, tmp_path, immutable, sink
):
    (library / "seagull_5.xmp").write_text("metadata of seagull 5")
    immutable(library / "seagull_5.jpeg")
    destination = [str(tmp_path / "moved")] if sink == "--move-to" else []

    run = run_simplugin("scan", str(library), sink, *destination)

    assert run.returncode == 3
    assert f"{library}/seagull_5.xmp: it stays with its photo" in run.stderr
    assert (library / "seagull_5.xmp").read_text() == "metadata of seagull 5"
    assert not (library / "seagull_3.jpeg").exists()  # the others leave


def test_a_run_that_trashed_nothing_leaves_no_journal_and_speaks_of_none(library, desktop):
    (desktop / "share").mkdir(parents=True)
    trash_of(desktop).write_text("not a folder: no file can go to this trash")

    run = run_simplugin("scan", str(library), "--trash")

    assert run.returncode == 3
    assert "trashed no files" in run.stderr
    assert "journal" not in run.stderr
    assert list((desktop / "state").rglob("simplugin-journal-*")) == []
