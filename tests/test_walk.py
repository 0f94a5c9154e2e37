"""Which files a scan reads: every folder below the roots, each file once, links only
when asked."""

from __future__ import annotations

import os
import shutil

from conftest import SEAGULLS
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
