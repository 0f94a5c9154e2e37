"""`--move-to` moves duplicates out of a library without ever losing or overwriting a
file, and `simplugin undo` puts the library back byte for byte."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import AS_A_USER, SEAGULLS, run_simplugin, write_dng
from simplugin import human_size, moves, scan, write

SHM = Path("/dev/shm")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, with its bytes; journals left out."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith("simplugin-journal-")
    }


def contents(*folders: Path) -> Counter:
    """The multiset of file contents under the folders (journals and partial copies aside)."""
    return Counter(
        hashlib.sha256(data).hexdigest()
        for folder in folders
        if folder.exists()
        for name, data in snapshot(folder).items()
        if not moves.is_temporary(name)
    )


def journal_of(destination: Path) -> Path:
    (journal,) = destination.glob("simplugin-journal-*.jsonl")
    return journal


@pytest.fixture
def clashing_library(tmp_path) -> Path:
    """Duplicates in several folders, two of them named IMG_0001.jpg."""
    library = tmp_path / "library"
    for folder, name, source in [
        ("2023", "IMG_0001.jpg", "seagull_1.jpeg"),
        ("2023", "IMG_0002.jpg", "seagull_5.jpeg"),
        ("2024", "IMG_0001.jpg", "seagull_3.jpeg"),
        ("2024/trip", "IMG_0001.jpg", "seagull_6.jpeg"),
        ("", "seagull_4.jpeg", "seagull_4.jpeg"),
        ("", "unique.jpeg", "seagull_2.jpeg"),
    ]:
        (library / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(SEAGULLS / source, library / folder / name)
    return library


def test_duplicates_move_to_the_same_relative_path_and_keepers_stay(clashing_library, tmp_path):
    destination = tmp_path / "near-duplicates"

    run = run_simplugin("scan", str(clashing_library), "--move-to", str(destination))

    assert run.returncode == 0
    assert sorted(snapshot(clashing_library)) == [
        "2023/IMG_0001.jpg",
        "2024/trip/IMG_0001.jpg",
        "unique.jpeg",
    ]
    assert sorted(snapshot(destination)) == [
        "2023/IMG_0002.jpg",
        "2024/IMG_0001.jpg",
        "seagull_4.jpeg",
    ]
    assert (
        f"moved {clashing_library}/2024/IMG_0001.jpg -> {destination}/2024/IMG_0001.jpg\n"
        in run.stdout
    )


def test_moving_keeps_every_file_and_undo_restores_the_library_byte_for_byte(
    clashing_library, tmp_path
):
    destination = tmp_path / "near-duplicates"
    before = snapshot(clashing_library)
    everything = contents(clashing_library)

    run_simplugin("scan", str(clashing_library), "--move-to", str(destination))
    assert contents(clashing_library, destination) == everything

    run = run_simplugin("undo", str(journal_of(destination)))

    assert run.returncode == 0
    assert snapshot(clashing_library) == before
    assert snapshot(destination) == {}  # and the folders the move made are gone
    assert [p.name for p in destination.iterdir()] == [journal_of(destination).name]


def test_a_file_already_at_the_target_is_never_overwritten(clashing_library, tmp_path):
    destination = tmp_path / "near-duplicates"
    (destination / "2024").mkdir(parents=True)
    (destination / "2024" / "IMG_0001.jpg").write_bytes(b"something the user keeps here")

    run_simplugin("scan", str(clashing_library), "--move-to", str(destination))

    assert (destination / "2024" / "IMG_0001.jpg").read_bytes() == b"something the user keeps here"
    assert (destination / "2024" / "IMG_0001 (1).jpg").read_bytes() == (
        SEAGULLS / "seagull_3.jpeg"
    ).read_bytes()


def test_sidecars_move_with_their_photo_and_share_its_new_name(library, tmp_path):
    destination = tmp_path / "dest"
    sidecars = ["seagull_3.xmp", "seagull_3.jpeg.xmp", "seagull_3.AAE", "seagull_3.jpeg.json"]
    for name in sidecars:
        (library / name).write_text(f"metadata of {name}")
    (destination).mkdir()
    shutil.copy(SEAGULLS / "seagull_2.jpeg", destination / "seagull_3.jpeg")  # a clash

    run_simplugin("scan", str(library), "--move-to", str(destination))

    moved = set(snapshot(destination))
    assert {
        "seagull_3 (1).jpeg",
        "seagull_3 (1).xmp",
        "seagull_3 (1).jpeg.xmp",
        "seagull_3 (1).AAE",
        "seagull_3 (1).jpeg.json",
    } <= moved
    assert (destination / "seagull_3 (1).AAE").read_text() == "metadata of seagull_3.AAE"
    assert not any((library / name).exists() for name in sidecars)


def test_a_raw_file_moves_with_its_jpeg_twin(library, tmp_path):
    (library / "seagull_3.CR2").write_bytes(b"raw data of seagull 3")  # unread: no preview
    destination = tmp_path / "dest"

    run_simplugin("scan", str(library), "--move-to", str(destination))

    assert (destination / "seagull_3.CR2").read_bytes() == b"raw data of seagull 3"
    assert not (library / "seagull_3.CR2").exists()


def test_a_duplicate_whose_raw_twin_is_a_keeper_stays_with_it(tmp_path):
    pytest.importorskip("rawpy")
    library = tmp_path / "library"
    library.mkdir()
    upright = np.asarray(Image.open(SEAGULLS / "seagull_1.jpeg"))
    write_dng(library / "IMG_1.DNG", upright[::8, ::8], preview=upright)  # the larger file
    shutil.copy(SEAGULLS / "seagull_1.jpeg", library / "IMG_1.JPG")

    run = run_simplugin("scan", str(library), "--move-to", str(tmp_path / "dest"))

    assert run.stdout.startswith("Group 1: 2 photos")
    assert f"  keep    {library}/IMG_1.DNG" in run.stdout
    assert (library / "IMG_1.JPG").exists()
    assert f"kept {library}/IMG_1.JPG: its twin {library}/IMG_1.DNG is a keeper" in run.stderr


def test_a_dry_run_prints_what_would_move_and_changes_nothing(library, tmp_path):
    before = snapshot(library)
    destination = tmp_path / "dest"

    run = run_simplugin("scan", str(library), "--move-to", str(destination), "--dry-run")

    assert run.returncode == 0
    assert snapshot(library) == before
    assert not destination.exists()
    assert sorted(line for line in run.stdout.splitlines() if line.startswith("would move")) == [
        f"would move {library}/{name} -> {destination}/{name}"
        for name in ("seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg")
    ]


def test_a_destination_inside_the_library_is_not_scanned(library):
    destination = library / "near-duplicates"
    run_simplugin("scan", str(library), "--move-to", str(destination))

    again = run_simplugin(
        "scan",
        str(library),
        "--move-to",
        str(destination),
        "--json",
        str(library.parent / "r.json"),
    )

    assert again.returncode == 0
    assert json.loads((library.parent / "r.json").read_text())["photos"] == 3


def test_a_destination_that_contains_the_library_is_refused(library):
    run = run_simplugin("scan", str(library), "--move-to", str(library.parent))

    assert run.returncode == 2
    assert (
        run.stderr
        == f"simplugin: error: {library} is inside {library.parent}, which this scan excludes\n"
    )


def test_undo_never_overwrites_a_file_that_appeared_at_the_original_path(library, tmp_path):
    destination = tmp_path / "dest"
    run_simplugin("scan", str(library), "--move-to", str(destination))
    (library / "seagull_3.jpeg").write_bytes(b"a new photo, saved since")

    run = run_simplugin("undo", str(journal_of(destination)))

    assert run.returncode == 3
    assert (library / "seagull_3.jpeg").read_bytes() == b"a new photo, saved since"
    assert (destination / "seagull_3.jpeg").exists()
    assert f"a different file is now at {library}/seagull_3.jpeg" in run.stderr
    assert (library / "seagull_4.jpeg").exists()  # the others were put back


def test_undo_can_run_twice(library, tmp_path):
    before = snapshot(library)
    destination = tmp_path / "dest"
    run_simplugin("scan", str(library), "--move-to", str(destination))

    first = run_simplugin("undo", str(journal_of(destination)))
    second = run_simplugin("undo", str(journal_of(destination)))

    assert first.returncode == second.returncode == 0
    assert second.stdout == ""
    assert snapshot(library) == before


def test_undo_of_something_that_is_not_a_journal_is_a_usage_error(tmp_path):
    (tmp_path / "notes.jsonl").write_text('{"hello": 1}\n')

    run = run_simplugin("undo", str(tmp_path / "notes.jsonl"))

    assert run.returncode == 2
    assert "not a simplugin journal" in run.stderr


def other_filesystem() -> Path:
    if not SHM.is_dir() or os.stat(SHM).st_dev == os.stat(Path(__file__)).st_dev:
        pytest.skip("no second filesystem (/dev/shm) on this machine")
    return SHM


def test_a_move_to_another_filesystem_copies_verifies_and_then_removes(library, tmp_path):
    destination = other_filesystem() / f"simplugin-test-{os.getpid()}-{tmp_path.name}"
    before = snapshot(library)
    try:
        run = run_simplugin("scan", str(library), "--move-to", str(destination))

        assert run.returncode == 0
        assert sorted(snapshot(destination)) == [
            "seagull_3.jpeg",
            "seagull_4.jpeg",
            "seagull_5.jpeg",
        ]
        assert contents(library, destination) == contents_of(before)
        assert not any(moves.is_temporary(p.name) for p in destination.iterdir())

        run_simplugin("undo", str(journal_of(destination)))

        assert snapshot(library) == before
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def contents_of(files: dict[str, bytes]) -> Counter:
    return Counter(hashlib.sha256(data).hexdigest() for data in files.values())


def test_the_cross_filesystem_path_is_taken_when_a_rename_says_exdev(
    library, tmp_path, monkeypatch
):
    rename = moves._renameat2

    def cross_device(source, target):  # the kernel's answer when leaving the filesystem
        if moves.is_temporary(source):  # the verified copy, renamed beside itself
            return rename(source, target)
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), source)

    monkeypatch.setattr(moves, "_renameat2", cross_device)
    copies = []
    real_copy = moves._copy_across

    def copy_across(source, *rest):
        copies.append(source)
        return real_copy(source, *rest)

    monkeypatch.setattr(moves, "_copy_across", copy_across)
    before = snapshot(library)

    write(scan(library), "move", to=str(tmp_path / "dest"))

    assert len(copies) == 3
    assert contents(library, tmp_path / "dest") == contents_of(before)


# A file-size limit smaller than the photos: every copy fails part-way, as on a full disk.
FILE_SIZE_LIMIT = ["prlimit", f"--fsize={64 * 1024}"]


def test_a_file_that_cannot_be_copied_stays_and_the_run_goes_on(library, tmp_path):
    destination = other_filesystem() / f"simplugin-test-{os.getpid()}-{tmp_path.name}"
    before = snapshot(library)
    try:
        run = run_simplugin(
            "scan", str(library), "--move-to", str(destination), under=FILE_SIZE_LIMIT
        )

        assert run.returncode == 3
        assert run.stderr.count("could not move") == 3
        assert "3 of 3 files could not be moved and were left where they were" in run.stderr
        assert snapshot(library) == before
        assert snapshot(destination) == {}  # no partial copy left behind
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def test_a_permission_error_leaves_the_file_and_fails_the_run(library, tmp_path):
    locked = library / "locked"
    locked.mkdir()
    shutil.move(library / "seagull_4.jpeg", locked / "seagull_4.jpeg")
    locked.chmod(0o555)  # its files cannot be taken out of it
    try:
        run = run_simplugin(
            "scan", str(library), "--move-to", str(tmp_path / "dest"), under=AS_A_USER
        )
    finally:
        locked.chmod(0o755)

    assert run.returncode == 3
    assert (
        f"could not move {locked}/seagull_4.jpeg: Permission denied; left where it was"
        in run.stderr
    )
    assert (locked / "seagull_4.jpeg").exists()
    assert (tmp_path / "dest" / "seagull_3.jpeg").exists()  # the others still moved


def test_a_run_killed_in_the_middle_loses_nothing_and_undo_restores_it(tmp_path):
    library = tmp_path / "library"
    rng = np.random.default_rng(3)
    for group in range(40):
        base = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        folder = library / f"roll_{group:02d}"
        folder.mkdir(parents=True)
        for copy in range(6):
            noisy = np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255)
            Image.fromarray(noisy.astype(np.uint8)).save(folder / f"IMG_{copy}.png")
    before = snapshot(library)
    destination = tmp_path / "dest"

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simplugin",
            "scan",
            str(library),
            "--move-to",
            str(destination),
            "--bucket",
            "none",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    moved = 0
    for line in process.stdout:
        moved += line.startswith("moved ")
        if moved == 60:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    process.stdout.close()

    assert process.returncode == -signal.SIGKILL
    left = snapshot(library)
    assert 0 < len(left) < len(before)  # killed half-way through the 200 moves
    assert contents(library, destination) == contents_of(before)

    run = run_simplugin("undo", str(journal_of(destination)))

    assert run.returncode == 0
    assert snapshot(library) == before


def test_a_sidecar_shared_with_a_keeper_stays_with_the_keeper(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(SEAGULLS / "seagull_6.jpeg", library / "IMG_1.jpg")
    Image.open(SEAGULLS / "seagull_5.jpeg").save(library / "IMG_1.png")  # the keeper: larger
    (library / "IMG_1.xmp").write_text("ratings of IMG_1")

    run_simplugin("scan", str(library), "--move-to", str(tmp_path / "dest"))

    assert sorted(p.name for p in (tmp_path / "dest").iterdir() if p.suffix != ".jsonl") == [
        "IMG_1.jpg"
    ]
    assert (library / "IMG_1.xmp").read_text() == "ratings of IMG_1"


def test_a_destination_that_cannot_be_made_moves_nothing_and_says_so(library, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = snapshot(library)

    run = run_simplugin("scan", str(library), "--move-to", str(blocker / "dest"), "-q")

    assert run.returncode == 3
    destination = blocker / "dest"
    assert run.stderr == (
        f"simplugin: error: cannot move into {destination}: Not a directory; nothing was moved\n"
    )
    assert snapshot(library) == before


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["moving", "dry run"])
def test_a_destination_that_is_a_file_is_refused_even_in_a_dry_run(library, tmp_path, dry_run):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    run = run_simplugin("scan", str(library), "--move-to", str(blocker), *dry_run, "-q")

    assert run.returncode == 3
    assert f"cannot move into {blocker}: it is not a folder; nothing was moved" in run.stderr
    assert "would move" not in run.stdout
    assert blocker.read_text() == "not a folder"


# --- what a run says at the end ----------------------------------------------------------


def total_line(library: Path, verb: str) -> str:
    """The last line of a move of the seagulls' duplicates, with seagull_5's sidecar."""
    moved = ["seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg", "seagull_5.xmp"]
    size = human_size(sum((library / name).stat().st_size for name in moved))
    return f"simplugin: {verb} 4 files ({size}) in 2 groups: 3 duplicates and 1 sidecar or twin\n"


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry run", "move"])
def test_a_move_ends_with_the_files_the_bytes_and_the_groups_it_moves(library, tmp_path, dry_run):
    (library / "seagull_5.xmp").write_text("<x:xmpmeta/>")
    expected = total_line(library, "would move" if dry_run else "moved")

    run = run_simplugin("scan", str(library), "-q", "--move-to", str(tmp_path / "dest"), *dry_run)

    assert run.returncode == 0, run.stderr
    assert expected in run.stderr
    assert len(snapshot(tmp_path / "dest")) == (0 if dry_run else 4)


def test_a_move_of_nothing_says_so(tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(SEAGULLS / "seagull_2.jpeg", alone)

    run = run_simplugin("scan", str(alone), "-q", "--move-to", str(tmp_path / "dest"))

    assert run.returncode == 0
    assert run.stderr == "simplugin: moved no files\n"


def test_undo_with_nothing_left_to_put_back_says_so(library, tmp_path):
    destination = tmp_path / "dest"
    run_simplugin("scan", str(library), "--move-to", str(destination))
    run_simplugin("undo", str(journal_of(destination)))

    again = run_simplugin("undo", str(journal_of(destination)))

    assert again.returncode == 0
    assert again.stderr == (
        "simplugin: nothing to put back: every file of this journal is already where it was\n"
    )


def test_undo_never_follows_a_folder_replaced_by_a_symbolic_link(library, tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    library.rename(top / "sub")
    destination = tmp_path / "near-duplicates"
    run_simplugin("scan", str(top), "--move-to", str(destination))
    (top / "sub").rename(top / "sub.old")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (top / "sub").symlink_to(elsewhere)

    run = run_simplugin("undo", str(journal_of(destination)))

    assert run.returncode == 3
    assert f"{top}/sub leads elsewhere now (through a symbolic link)" in run.stderr
    assert os.listdir(elsewhere) == []


def test_a_library_scanned_through_a_linked_folder_is_put_back_by_undo(library, tmp_path):
    (tmp_path / "alias").symlink_to(library)
    before = snapshot(library)
    destination = tmp_path / "near-duplicates"
    run_simplugin("scan", str(tmp_path / "alias"), "--move-to", str(destination))

    run = run_simplugin("undo", str(journal_of(destination)))

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before
