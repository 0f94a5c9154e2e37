"""`simplugin undo` acts only on what its run did: it never judges a file through a
symbolic link, never runs a journal it cannot trust, and a move never opens anything
but a regular file. Links and long names survive a move across filesystems and back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_apply import write_plan
from test_move import journal_of, other_filesystem, snapshot

from conftest import AS_A_USER, SEAGULLS, run_simplugin
from simplugin import moves

CHECKOUT = Path(__file__).parents[1]


def tree(folder: Path) -> dict[str, object]:
    """Everything under `folder`, links not followed: each path with its bytes, the text
    of a link, or what else it is."""
    found: dict[str, object] = {}
    for top, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(top, name)
            key = str(path.relative_to(folder))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = "folder"
            elif path.is_file():
                found[key] = path.read_bytes()
            else:
                found[key] = "special"
    return found


def elsewhere_folder(tmp_path: Path) -> Path:
    """A folder beside the library, on another filesystem (cleaned up by the caller)."""
    return other_filesystem() / f"simplugin-test-{os.getpid()}-{tmp_path.name}"


def move_duplicates(library: Path, destination: Path, how: str):
    """Move the duplicates of the sample library as `simplugin scan --move-to` does, or
    as `simplugin apply` does with a plan."""
    if how == "scan":
        return run_simplugin("scan", str(library), "--move-to", str(destination))
    plan = write_plan(
        library.parent / "plan.json",
        [
            (library / "seagull_1.jpeg", [library / "seagull_3.jpeg", library / "seagull_4.jpeg"]),
            (library / "seagull_6.jpeg", [library / "seagull_5.jpeg"]),
        ],
    )
    return run_simplugin("apply", str(plan), "--move-to", str(destination))


@pytest.fixture
def moved(library, tmp_path) -> tuple[Path, Path]:
    """The library after its duplicates (seagull 3, 4, 5) were moved into `dest`."""
    destination = tmp_path / "dest"
    assert move_duplicates(library, destination, "scan").returncode == 0
    return library, destination


@pytest.mark.parametrize("how", ["scan", "apply"])
def test_a_symlink_put_back_at_the_old_path_never_makes_undo_delete_the_moved_file(
    library, tmp_path, how
):
    destination = tmp_path / "dest"
    move_duplicates(library, destination, how)
    (library / "seagull_3.jpeg").symlink_to("../dest/seagull_3.jpeg")

    run = run_simplugin("undo", str(journal_of(destination)))

    assert run.returncode == 3
    moved_file = destination / "seagull_3.jpeg"
    assert moved_file.read_bytes() == (SEAGULLS / "seagull_3.jpeg").read_bytes()
    assert os.readlink(library / "seagull_3.jpeg") == "../dest/seagull_3.jpeg"
    assert (
        f"simplugin: left {moved_file}: a symbolic link is now at {library}/seagull_3.jpeg;"
        f" the moved file stays at {moved_file}\n" in run.stderr
    )
    assert (library / "seagull_4.jpeg").exists()  # the others were put back


# --- journals undo must not trust ----------------------------------------------------------


def moving(source, target, moved=True) -> list[dict]:
    """The entries a run writes for one move of a regular file."""
    paths = {"source": str(source), "target": str(target)}
    return [{"event": "moving", **paths, "link": False}] + ([{"event": "moved", **paths}] * moved)


def tampered(destination: Path, entries: list) -> Path:
    """A journal with the real header of the run into `destination`, and `entries`."""
    header = journal_of(destination).read_text().splitlines()[0]
    path = destination / "tampered.jsonl"
    path.write_text("\n".join([header, *map(json.dumps, entries)]) + "\n")
    return path


def target_outside_the_destination(library, destination, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "photo.jpeg").write_bytes(b"a photo of the user's")
    return tampered(destination, moving(library / "new.jpeg", tmp_path / "elsewhere/photo.jpeg")), 2


def source_equal_to_target(library, destination, tmp_path):
    moved_file = destination / "seagull_3.jpeg"
    return tampered(destination, moving(moved_file, moved_file)), 2


def identical_copy_at_the_source(library, destination, tmp_path):
    shutil.copy(destination / "seagull_3.jpeg", library / "a copy.jpeg")
    return tampered(destination, moving(library / "a copy.jpeg", destination / "seagull_3.jpeg")), 1


def partial_name_never_recorded(library, destination, tmp_path):
    # The user's own file, named as the copies of older versions were.
    (destination / "seagull_9.jpeg.simplugin-partial").write_bytes(b"the user's")
    return tampered(
        destination, moving(library / "seagull_9.jpeg", destination / "seagull_9.jpeg")
    ), 1


def folder_as_target(library, destination, tmp_path):
    (destination / "album").mkdir()
    (destination / "album" / "IMG_1.jpeg").write_bytes(b"a photo in a folder")
    return tampered(destination, moving(library / "album", destination / "album")), 2


def relative_paths(library, destination, tmp_path):
    return tampered(destination, moving("library/new.jpeg", "dest/seagull_3.jpeg")), 2


def malformed_entries(library, destination, tmp_path):
    entries = [
        {"event": "moving", "source": 7, "target": ["dest/seagull_3.jpeg"]},
        {"event": "moving", "source": str(library / "seagull_9.jpeg")},
        {"event": "delete", "source": str(library / "x"), "target": str(destination / "x")},
        "a string",
        {"format": "simplugin-journal", "version": 2},  # a second header
    ]
    return tampered(destination, entries), 5


def copied(source, target, moved_file: Path) -> dict:
    """The entry a run writes once its verified copy of `source` is at `target`."""
    info, data = moved_file.stat(), moved_file.read_bytes()
    fingerprint = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    where = {"device": info.st_dev, "inode": info.st_ino}
    return {"event": "copied", "source": str(source), "target": str(target), **where, **fingerprint}


def the_moved_file_as_its_own_leftover_through_two_slashes(library, destination, tmp_path):
    moved_file = destination / "seagull_3.jpeg"
    source = "/" + str(moved_file)  # the same file, spelled //tmp/...
    entries = moving(source, moved_file, moved=False) + [copied(source, moved_file, moved_file)]
    return tampered(destination, entries), 2


def the_moved_file_as_its_own_leftover_through_a_linked_folder(library, destination, tmp_path):
    (tmp_path / "door").symlink_to(destination)
    moved_file = destination / "seagull_3.jpeg"
    source = tmp_path / "door" / "seagull_3.jpeg"
    entries = moving(source, moved_file, moved=False) + [copied(source, moved_file, moved_file)]
    return tampered(destination, entries), 2


def journal_copied_into_another_folder(library, destination, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    return Path(shutil.copy(journal_of(destination), other / "journal.jsonl")), 1


@pytest.mark.parametrize(
    "attack",
    [
        target_outside_the_destination,
        source_equal_to_target,
        identical_copy_at_the_source,
        partial_name_never_recorded,
        folder_as_target,
        relative_paths,
        malformed_entries,
        journal_copied_into_another_folder,
        the_moved_file_as_its_own_leftover_through_two_slashes,
        the_moved_file_as_its_own_leftover_through_a_linked_folder,
    ],
    ids=lambda attack: attack.__name__,
)
def test_a_journal_that_was_not_written_by_the_run_changes_nothing(moved, tmp_path, attack):
    library, destination = moved
    journal, refused = attack(library, destination, tmp_path)
    before = tree(tmp_path)

    # Relative paths would be read from the current folder: run it from another one
    # (with this checkout's code, which `python -m` finds only from its own folder).
    run = run_simplugin("undo", str(journal), cwd=tmp_path, env={"PYTHONPATH": str(CHECKOUT)})

    assert run.returncode == 3
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == refused, run.stderr
    assert all(line.startswith("simplugin: ") for line in lines)
    assert run.stdout == ""
    assert tree(tmp_path) == before


def test_one_line_undo_cannot_trust_and_nothing_at_all_is_put_back(moved, tmp_path):
    library, destination = moved
    journal = journal_of(destination)
    with journal.open("a") as file:
        file.write(json.dumps(moving(library / "x.jpeg", "/etc/x.jpeg")[0]) + "\n")
    lines = len(journal.read_text().splitlines())
    before = tree(tmp_path)

    run = run_simplugin("undo", str(journal))

    assert run.returncode == 3
    assert run.stderr == (
        f"simplugin: {journal}, line {lines}: the moved file /etc/x.jpeg is not inside"
        f" {destination}; nothing was put back\n"
    )
    assert tree(tmp_path) == before


def sparse(size: int):
    def make(path: Path, header: str) -> None:
        path.write_text(header + "\n")
        os.truncate(path, size)

    return make


@pytest.mark.parametrize(
    "make, code, reason",
    [
        (lambda path, header: os.mkfifo(path), 2, "a FIFO (named pipe), not a simplugin journal"),
        (lambda path, header: path.mkdir(), 2, "a folder, not a simplugin journal"),
        (lambda path, header: path.write_bytes(b"\xff\xfe\x00garbage\n"), 2, "not a simplugin"),
        (lambda path, header: path.write_text('{"format": "simpl'), 2, "not a simplugin journal"),
        (
            lambda path, header: path.write_text(f"{header}\n{'[' * 100_000}{']' * 100_000}\n"),
            3,
            "line 2: it is not a journal entry",
        ),
        (
            lambda path, header: path.write_text(f'{header}\n{{"event": "{"a" * 300_000}"}}\n'),
            3,
            "line 2: it is longer than 256.0 KiB",
        ),
        (sparse(200 << 20), 3, "it is 200.0 MiB, more than undo reads"),
    ],
    ids=["fifo", "folder", "not-utf8", "cut-header", "nested", "long-line", "huge"],
)
def test_a_journal_undo_cannot_read_is_one_line_and_nothing_changes(moved, make, code, reason):
    library, destination = moved
    header = journal_of(destination).read_text().splitlines()[0]
    journal = destination / "simplugin-journal-bad.jsonl"
    make(journal, header)
    before = snapshot(library), snapshot(destination)

    run = subprocess.run(
        [sys.executable, "-m", "simplugin", "undo", str(journal)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,  # a FIFO must not hang it
    )

    assert run.returncode == code
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert str(journal) in run.stderr and reason in run.stderr
    assert (snapshot(library), snapshot(destination)) == before


def test_a_journal_written_before_run_ids_is_still_undone(library, moved):
    _, destination = moved
    journal = journal_of(destination)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    header = {"format": "simplugin-journal", "version": 1, "roots": [str(library)]}
    entries = [{k: v for k, v in entry.items() if k != "link"} for entry in lines[1:]]
    journal.write_text("".join(json.dumps(entry) + "\n" for entry in [header, *entries]))

    run = run_simplugin("undo", str(journal))

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == snapshot(SEAGULLS)


# --- moves across filesystems ----------------------------------------------------------------


def test_a_fifo_named_like_a_sidecar_is_left_and_its_photo_still_moves(library, tmp_path):
    fifo = library / "seagull_3.jpeg.xmp"
    os.mkfifo(fifo)
    destination = elsewhere_folder(tmp_path)
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "simplugin",
                "scan",
                str(library),
                "--move-to",
                str(destination),
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,  # a FIFO opened for reading would block for ever
        )

        assert run.returncode == 3
        assert (
            f"simplugin: could not move {fifo}: a FIFO (named pipe), not a regular file;"
            " left where it was" in run.stderr.splitlines()
        )
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        moved_photo = destination / "seagull_3.jpeg"
        assert moved_photo.read_bytes() == (SEAGULLS / "seagull_3.jpeg").read_bytes()
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def test_a_250_byte_file_name_moves_across_filesystems_and_back(library, tmp_path):
    long_name = "a" * 245 + ".jpeg"
    (library / "seagull_5.jpeg").rename(library / long_name)
    before = snapshot(library)
    destination = elsewhere_folder(tmp_path)
    try:
        run = run_simplugin("scan", str(library), "--move-to", str(destination))

        assert run.returncode == 0, run.stderr
        assert (destination / long_name).read_bytes() == before[long_name]

        undone = run_simplugin("undo", str(journal_of(destination)))

        assert undone.returncode == 0, undone.stderr
        assert snapshot(library) == before
        assert [p.name for p in destination.iterdir()] == [journal_of(destination).name]
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def test_a_symlinked_sidecar_stays_a_link_across_filesystems_and_back(library, tmp_path):
    (tmp_path / "ratings.xmp").write_text("ratings kept outside the library")
    (library / "seagull_3.xmp").symlink_to("../ratings.xmp")
    before = tree(library)
    destination = elsewhere_folder(tmp_path)
    try:
        run_simplugin("scan", str(library), "--move-to", str(destination))

        assert os.readlink(destination / "seagull_3.xmp") == "../ratings.xmp"
        assert not (library / "seagull_3.xmp").is_symlink()

        undone = run_simplugin("undo", str(journal_of(destination)))

        assert undone.returncode == 0, undone.stderr
        assert tree(library) == before
        assert (tmp_path / "ratings.xmp").read_text() == "ratings kept outside the library"
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def test_a_file_whose_original_cannot_be_removed_after_its_copy_stays_only_where_it_was(
    library, tmp_path
):
    locked = library / "locked"
    locked.mkdir()
    shutil.move(library / "seagull_4.jpeg", locked / "seagull_4.jpeg")
    locked.chmod(0o555)  # its files can be read, and copied, but not taken out of it
    destination = elsewhere_folder(tmp_path)
    try:
        run = run_simplugin("scan", str(library), "--move-to", str(destination), under=AS_A_USER)

        assert run.returncode == 3
        assert (
            f"could not move {locked}/seagull_4.jpeg: Permission denied; left where it was"
            in run.stderr
        )
        assert (locked / "seagull_4.jpeg").exists()
        assert sorted(snapshot(destination)) == ["seagull_3.jpeg", "seagull_5.jpeg"]
    finally:
        locked.chmod(0o755)
        shutil.rmtree(destination, ignore_errors=True)


# Runs simplugin and kills it (SIGKILL, as a power cut would) at the first removal of a
# file in the folder named first: just after a verified copy of that file landed.
KILLED_AT_UNLINK = """
import os, signal, sys
from simplugin.cli import main
watched = sys.argv[1]
unlink = os.unlink
def unlink_or_die(path, *args, **kwargs):
    if os.path.dirname(os.fspath(path)) == watched:
        os.kill(os.getpid(), signal.SIGKILL)
    return unlink(path, *args, **kwargs)
os.unlink = unlink_or_die
sys.exit(main(sys.argv[2:]))
"""


def killed_at_unlink(watched: Path, *args: str) -> None:
    process = subprocess.run(
        [sys.executable, "-c", KILLED_AT_UNLINK, str(watched), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr


@pytest.mark.parametrize("killed", ["moving", "undoing"])
def test_a_run_killed_between_a_copy_and_the_removal_of_its_original_is_undone(
    library, tmp_path, killed
):
    before = snapshot(library)
    destination = elsewhere_folder(tmp_path)
    try:
        if killed == "moving":
            killed_at_unlink(library, "scan", str(library), "--move-to", str(destination))
        else:
            run_simplugin("scan", str(library), "--move-to", str(destination))
            killed_at_unlink(destination, "undo", str(journal_of(destination)))
        # The killed run left one file at both places: its original and its copy.
        assert len(snapshot(library)) + len(snapshot(destination)) == len(before) + 1

        run = run_simplugin("undo", str(journal_of(destination)))

        assert run.returncode == 0, run.stderr
        assert snapshot(library) == before
        assert [p.name for p in destination.iterdir()] == [journal_of(destination).name]
        assert not any(moves.is_temporary(name) for name in os.listdir(library))
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def test_a_recorded_temporary_copy_outside_the_destination_is_never_deleted(moved, tmp_path):
    # A journal claiming that an undo, killed while copying back across filesystems,
    # left a temporary copy in the library: the file there may be anyone's.
    library, destination = moved
    journal = journal_of(destination)
    run_id = json.loads(journal.read_text().splitlines()[0])["run"]
    victim = library / f".simplugin-{run_id[:8]}-1.tmp"
    victim.write_bytes(b"precious")
    back = {
        "source": str(destination / "seagull_3.jpeg"),
        "target": str(library / "seagull_3.jpeg"),
    }
    with journal.open("a") as file:
        file.write(json.dumps({"event": "restoring", **back}) + "\n")
        file.write(json.dumps({"event": "temporary", **back, "temporary": str(victim)}) + "\n")

    run = run_simplugin("undo", str(journal))

    assert victim.read_bytes() == b"precious"
    assert run.returncode == 3
    assert f"a partial copy at {victim}; undo removes nothing outside {destination}" in run.stderr
    assert (library / "seagull_3.jpeg").exists()  # and the rest was put back


def test_a_move_never_leaves_the_destination_through_a_linked_folder_in_it(tmp_path):
    library, destination, outside = tmp_path / "library", tmp_path / "dest", tmp_path / "outside"
    shutil.copytree(SEAGULLS, library / "sub")
    destination.mkdir()
    outside.mkdir()
    (destination / "sub").symlink_to(outside)

    run = run_simplugin("scan", str(library), "--move-to", str(destination))

    assert run.returncode == 3
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (library / "sub").iterdir()) == sorted(
        p.name for p in SEAGULLS.iterdir()
    )
    assert run.stderr.count("leads out of") == 3
