"""What a scan passes over: the folders where NAS boxes, desktops and trashes keep copies
of photos (by default), and what the user excludes with patterns or paths."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import SEAGULLS, run_simplugin
from simplugin import UsageError, scan
from simplugin.discover import walk

# Where programs keep copies of the user's photos, relative to the library.
COPY_FOLDERS = ("@eaDir/seagull_5.jpeg", ".thumbnails/normal", ".Trash-1000/files")


@pytest.fixture
def nas_library(tmp_path):
    """The user's two near-duplicates, a re-export in Downloads, and copies of them in a
    Synology thumbnail folder, a thumbnail cache and a volume's trash."""
    library = tmp_path / "library"
    (library / "Originals").mkdir(parents=True)
    shutil.copy(SEAGULLS / "seagull_5.jpeg", library / "Originals" / "a.jpeg")
    shutil.copy(SEAGULLS / "seagull_6.jpeg", library / "Originals" / "b.jpeg")
    (library / "Downloads" / "2024").mkdir(parents=True)
    shutil.copy(SEAGULLS / "seagull_5.jpeg", library / "Downloads" / "2024" / "export.jpeg")
    for folder in COPY_FOLDERS:
        copies = library / "Originals" / folder
        copies.mkdir(parents=True)
        shutil.copy(SEAGULLS / "seagull_5.jpeg", copies / "copy.jpeg")
    return library


def scanned(library, *flags: str) -> set[str]:
    """The photos in groups, relative to the library, from `simplugin scan --json -`."""
    run = run_simplugin("scan", str(library), "--json", "-", *flags)
    assert run.returncode == 0, run.stderr
    groups = json.loads(run.stdout)["groups"]
    paths = [path for g in groups for path in (g["keep"], *g["duplicates"])]
    return {path.removeprefix(f"{library}/") for path in paths}


def in_groups(result, library) -> set[str]:
    return {str(p.path).removeprefix(f"{library}/") for g in result.groups for p in g.photos}


USERS_PHOTOS = {"Originals/a.jpeg", "Originals/b.jpeg", "Downloads/2024/export.jpeg"}


def test_thumbnail_and_trash_folders_are_not_scanned_by_default(nas_library):
    assert scanned(nas_library) == USERS_PHOTOS


def test_no_default_excludes_scans_the_thumbnail_and_trash_folders(nas_library):
    copies = {f"Originals/{folder}/copy.jpeg" for folder in COPY_FOLDERS}

    assert scanned(nas_library, "--no-default-excludes") == USERS_PHOTOS | copies


def test_exclude_passes_over_a_folder_matched_from_the_scanned_folder(nas_library):
    assert scanned(nas_library, "--exclude", "Downloads/**") == {
        "Originals/a.jpeg",
        "Originals/b.jpeg",
    }


def test_a_name_alone_is_excluded_at_any_depth_and_exclude_is_repeatable(nas_library):
    found = scanned(nas_library, "--exclude", "2024", "--exclude", "b.*")

    assert found == set()  # only a.jpeg is left: no pair


def test_a_star_matches_within_one_name_only(nas_library):
    # "Downloads/*.jpeg" names the photos directly in Downloads, not those further down.
    assert scanned(nas_library, "--exclude", "Downloads/*.jpeg") == USERS_PHOTOS
    assert scanned(nas_library, "--exclude", "Downloads/**/*.jpeg") == {
        "Originals/a.jpeg",
        "Originals/b.jpeg",
    }


def test_an_absolute_path_excludes_that_folder(nas_library):
    assert scanned(nas_library, "--exclude", str(nas_library / "Downloads")) == {
        "Originals/a.jpeg",
        "Originals/b.jpeg",
    }


def test_the_configuration_file_can_exclude_and_keep_the_default_folders(nas_library, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text('exclude = ["Downloads/**"]\ndefault_excludes = false\n')

    found = scanned(nas_library, "--config", str(config))

    copies = {f"Originals/{folder}/copy.jpeg" for folder in COPY_FOLDERS}
    assert found == {"Originals/a.jpeg", "Originals/b.jpeg"} | copies


def test_an_exclude_in_the_configuration_file_must_be_a_list_of_strings(nas_library, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text("exclude = [3]\n")

    run = run_simplugin("scan", str(nas_library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr == f"simplugin: error: {config}: exclude: expected a list of strings, not 3\n"


def test_the_api_takes_patterns_paths_and_default_excludes(nas_library):
    assert in_groups(scan(nas_library, cache=False), nas_library) == USERS_PHOTOS
    assert in_groups(scan(nas_library, exclude=["Downloads/**"], cache=False), nas_library) == {
        "Originals/a.jpeg",
        "Originals/b.jpeg",
    }
    assert in_groups(
        scan(nas_library, exclude=[nas_library / "Downloads"], cache=False), nas_library
    ) == {"Originals/a.jpeg", "Originals/b.jpeg"}
    everything = in_groups(scan(nas_library, default_excludes=False, cache=False), nas_library)
    assert "Originals/@eaDir/seagull_5.jpeg/copy.jpeg" in everything


def test_a_folder_excluded_by_default_is_scanned_when_named_as_the_root(nas_library):
    eadir = nas_library / "Originals" / "@eaDir"
    shutil.copy(SEAGULLS / "seagull_6.jpeg", eadir / "other.jpeg")

    result = scan(eadir, cache=False, bucketer=None)

    assert len(result.pairs) == 1


def test_scanning_inside_an_excluded_path_is_a_usage_error(nas_library):
    with pytest.raises(UsageError, match="is inside .*Downloads, which this scan excludes"):
        scan(nas_library / "Downloads" / "2024", exclude=[nas_library / "Downloads"])


def test_the_help_lists_the_default_excludes():
    run = run_simplugin("scan", "--help")

    help_text = " ".join(run.stdout.split())
    for name in ("@eaDir", ".thumbnails", ".Trash-*", "$RECYCLE.BIN", ".@__thumb", "CACHEDIR.TAG"):
        assert name in help_text
    assert "--no-default-excludes" in help_text


def test_patterns_exclude_files_by_their_name_at_any_depth_or_by_their_path_from_the_root(
    tmp_path,
):
    # The walk tests a file's name before its path: a name can be excluded alone, and a
    # pattern with "/" still excludes only the path it names (the same name elsewhere stays).
    for relative in (
        "a.jpeg",
        "keep/a.jpeg",
        "keep/deep/b.jpeg",
        "raw/x.jpeg",
        "keep/x.jpeg",
        "sub/raw/y.jpeg",
        "sub/raw/z.png",
        "sub/z.png",
        "tmp/c.jpeg",
        "tmp/deeper/d.jpeg",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / relative)
    patterns = ("b.jpeg", "sub/raw/*.png", "tmp/**", "[!k]*/x.jpeg")
    found = {
        os.path.relpath(item.path, tmp_path) for item in walk((str(tmp_path),), exclude=patterns)
    }
    assert found == {"a.jpeg", "keep/a.jpeg", "keep/x.jpeg", "sub/raw/y.jpeg", "sub/z.png"}


@pytest.mark.parametrize("pattern", ["**", "*/**", "od*/**", "**/odd*"])
def test_a_name_with_a_newline_in_it_is_excluded_like_any_other(tmp_path, pattern):
    # A file name may hold any character but "/" and NUL; patterns match them all.
    odd = tmp_path / "odd\nname"
    odd.mkdir()
    shutil.copy(SEAGULLS / "seagull_1.jpeg", odd / "in\nside.jpeg")
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / "odd\nphoto.jpeg")

    found = [item.path for item in walk((str(tmp_path),), exclude=(pattern,))]

    assert found == []
