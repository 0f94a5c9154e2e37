"""Which files a scan reads: every folder below the roots, each file once, links only
when asked."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat

import pytest

from conftest import SEAGULLS, run_simplugin
from simplugin import scan
from simplugin.discover import tag_as_cache


def test_folders_are_walked_recursively(tmp_path):
    (tmp_path / "2023" / "summer").mkdir(parents=True)
    shutil.copy(SEAGULLS / "seagull_5.jpeg", tmp_path / "2023" / "summer" / "a.jpeg")
    shutil.copy(SEAGULLS / "seagull_6.jpeg", tmp_path / "b.jpeg")

    result = scan(tmp_path)

    assert len(result.groups) == 1
    assert {p.path for p in result.groups[0].photos} == {
        str(tmp_path / "2023" / "summer" / "a.jpeg"),
        str(tmp_path / "b.jpeg"),
    }


def test_several_roots_are_scanned_together(tmp_path):
    for folder, photo in (("phone", "seagull_5.jpeg"), ("camera", "seagull_6.jpeg")):
        (tmp_path / folder).mkdir()
        shutil.copy(SEAGULLS / photo, tmp_path / folder)

    result = scan([tmp_path / "phone", tmp_path / "camera"])

    assert len(result.pairs) == 1


def test_a_hard_link_is_read_once(tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / "a.jpeg")
    os.link(tmp_path / "a.jpeg", tmp_path / "same_file.jpeg")

    result = scan(tmp_path)

    assert [p.path for p in result.photos] == [str(tmp_path / "a.jpeg")]
    assert result.pairs == ()


def test_symbolic_links_are_reported_and_not_followed_by_default(tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / "a.jpeg")
    (tmp_path / "link.jpeg").symlink_to(tmp_path / "a.jpeg")

    result = scan(tmp_path)

    assert len(result.photos) == 1
    assert [(s.path, s.reason) for s in result.skipped] == [
        (str(tmp_path / "link.jpeg"), "symbolic link, not followed (use --follow-symlinks)")
    ]


def test_followed_links_reach_other_folders_but_not_the_same_file_twice(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    library = tmp_path / "library"
    elsewhere.mkdir()
    library.mkdir()
    shutil.copy(SEAGULLS / "seagull_5.jpeg", elsewhere)
    shutil.copy(SEAGULLS / "seagull_6.jpeg", library)
    (library / "linked_folder").symlink_to(elsewhere)
    (library / "again.jpeg").symlink_to(library / "seagull_6.jpeg")

    result = scan(library, follow_symlinks=True)

    assert sorted(os.path.basename(p.path) for p in result.photos) == [
        "seagull_5.jpeg",
        "seagull_6.jpeg",
    ]
    assert len(result.pairs) == 1


def test_a_symlink_loop_does_not_stop_the_scan(tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "deleted.jpg")

    result = scan(tmp_path, follow_symlinks=True)

    assert len(result.photos) == 1
    reasons = {os.path.basename(s.path): s.reason for s in result.skipped}
    assert reasons["loop"] == "symbolic link to a folder already scanned (a loop?)"
    assert reasons["dangling.jpg"] == "broken symbolic link: No such file or directory"


def test_a_single_photo_can_be_given_as_a_root(tmp_path):
    shutil.copy(SEAGULLS / "seagull_5.jpeg", tmp_path / "new.jpeg")

    result = scan([tmp_path / "new.jpeg", SEAGULLS])

    assert len(result.photos) == 7
    assert any(str(tmp_path / "new.jpeg") in (p.a.path, p.b.path) for p in result.pairs)


def test_a_folder_tagged_as_a_cache_is_passed_over(tmp_path):
    shutil.copy(SEAGULLS / "seagull_5.jpeg", tmp_path / "a.jpeg")
    (tmp_path / "thumbnails").mkdir()
    shutil.copy(SEAGULLS / "seagull_5.jpeg", tmp_path / "thumbnails" / "copy.jpeg")
    tag_as_cache(str(tmp_path / "thumbnails"), "thumbnails")

    result = scan(tmp_path)

    assert [p.path for p in result.photos] == [str(tmp_path / "a.jpeg")]


def test_a_cachedir_tag_without_the_signature_does_not_hide_photos(tmp_path):
    (tmp_path / "album").mkdir()
    shutil.copy(SEAGULLS / "seagull_5.jpeg", tmp_path / "album" / "a.jpeg")
    (tmp_path / "album" / "CACHEDIR.TAG").write_text("not a cache, just a file with this name\n")

    assert len(scan(tmp_path).photos) == 1


def make_socket(path):
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))  # the socket file stays after the socket is closed


def make_device(path):
    if os.geteuid() != 0:
        pytest.skip("making a device file needs root (CI runs as root)")
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # what /dev/zero is


SPECIAL_FILES = {  # name: how to make it, the flags of the scan, what it is
    "trap.jpg": (os.mkfifo, (), "a FIFO (named pipe)"),
    "zero.jpg": (make_device, (), "a character device"),
    "zero_link.jpeg": (
        lambda path: path.symlink_to("/dev/zero"),
        ("--follow-symlinks",),
        "a character device",
    ),
    "socket.png": (make_socket, (), "a socket"),
}


@pytest.mark.parametrize("name", sorted(SPECIAL_FILES))
def test_a_fifo_device_or_socket_named_like_a_photo_is_reported_and_never_read(library, name):
    make, flags, kind = SPECIAL_FILES[name]
    make(library / name)
    os.mkfifo(library / "notes.txt")  # not named like a photo: ignored, as a text file is

    # A process of its own, which has a timeout: reading a FIFO or /dev/zero would hang.
    run = run_simplugin("scan", str(library), "--no-cache", *flags, process=True)

    assert run.returncode == 0
    skipped = [line for line in run.stderr.splitlines() if " skipped " in line]
    assert skipped == [f"simplugin: skipped {library / name}: not a regular file: {kind}"]
    assert run.stdout.count("Group ") == 2


def test_a_fifo_named_cachedir_tag_is_not_waited_on(library):
    album = library / "album"
    album.mkdir()
    shutil.copy(SEAGULLS / "seagull_5.jpeg", album / "copy.jpeg")
    os.mkfifo(album / "CACHEDIR.TAG")

    # A process of its own, which has a timeout: waiting on the FIFO would hang.
    run = run_simplugin("scan", str(library), "--no-cache", "--json", "-", process=True)

    assert run.returncode == 0
    pairs = json.loads(run.stdout)["pairs"]
    assert any(str(album / "copy.jpeg") in (pair["a"], pair["b"]) for pair in pairs)
