"""`--keep CRITERIA` chooses which photo of a group is kept: by default the camera's
original, even over a bigger export of it; the user can say otherwise."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from conftest import DUBLIN, run_simplugin
from simplugin import UsageError, scan, sharpness

CAMERA_JPEG = DUBLIN / "airplane_1.jpg"  # EXIF: Xiaomi MI 8, taken 2022-07-10 07:13:16
DATE_TIME_ORIGINAL, SOFTWARE, EXIF_IFD = 0x9003, 0x0131, 0x8769


def export(source: Path, target: Path, scale: float = 1.25, **save) -> Path:
    """A re-export of `source`, a little bigger than it, as an editor writes one."""
    with Image.open(source) as image:
        bigger = image.resize((round(image.width * scale), round(image.height * scale)))
        bigger.save(target, **save)
    return target


def edited_in_photoshop(source: Path, target: Path) -> Path:
    """A bigger JPEG keeping the camera's make, model and capture time, with Photoshop
    as the software that wrote it last."""
    with Image.open(source) as image:
        exif = image.getexif()
        exif[SOFTWARE] = "Adobe Photoshop 25.0 (Macintosh)"
    return export(source, target, exif=exif, quality=98)


def retaken(source: Path, target: Path, taken: str) -> Path:
    """A copy of the camera JPEG whose EXIF says it was taken at `taken`."""
    with Image.open(source) as image:
        exif = image.getexif()
        exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = taken
        image.save(target, exif=exif, quality=95)
    return target


@pytest.fixture
def originals_and_exports(tmp_path: Path) -> Path:
    """The camera's JPEG in Originals/, a bigger PNG export of it in Downloads/."""
    (tmp_path / "Originals").mkdir()
    (tmp_path / "Downloads").mkdir()
    shutil.copy2(CAMERA_JPEG, tmp_path / "Originals" / "IMG_1.jpg")
    export(CAMERA_JPEG, tmp_path / "Downloads" / "IMG_1.png")
    return tmp_path


def kept(folder: Path, *options: str, cwd: Path | None = None) -> list[str]:
    """The keepers `simplugin scan` names, relative to `folder`."""
    run = run_simplugin("scan", str(folder), "--no-cache", "--json", "-", *options, cwd=cwd)
    assert run.returncode == 0, run.stderr
    return [os.path.relpath(group["keep"], folder) for group in json.loads(run.stdout)["groups"]]


def test_by_default_the_camera_jpeg_is_kept_over_a_bigger_png_export(originals_and_exports):
    assert (originals_and_exports / "Downloads" / "IMG_1.png").stat().st_size > (
        originals_and_exports / "Originals" / "IMG_1.jpg"
    ).stat().st_size

    assert kept(originals_and_exports) == ["Originals/IMG_1.jpg"]


def test_keep_largest_keeps_the_export_with_the_most_pixels(originals_and_exports):
    assert kept(originals_and_exports, "--keep", "largest") == ["Downloads/IMG_1.png"]


def test_a_jpeg_written_by_photoshop_is_not_the_original(tmp_path):
    shutil.copy2(CAMERA_JPEG, tmp_path / "camera.jpg")
    edited_in_photoshop(CAMERA_JPEG, tmp_path / "b-edited.jpg")

    assert kept(tmp_path) == ["camera.jpg"]
    assert kept(tmp_path, "--keep", "largest") == ["b-edited.jpg"]


def test_a_preferred_folder_wins_over_every_later_criterion(originals_and_exports):
    assert kept(
        originals_and_exports, "--keep", "path:Downloads,original", cwd=(originals_and_exports)
    ) == ["Downloads/IMG_1.png"]
    downloads = originals_and_exports / "Downloads"
    assert kept(originals_and_exports, "--keep", f"path:{downloads}/") == ["Downloads/IMG_1.png"]


def test_oldest_and_newest_go_by_capture_time_before_file_time(tmp_path):
    retaken(CAMERA_JPEG, tmp_path / "a-taken-later.jpg", "2023:01:01 10:00:00")
    shutil.copy2(CAMERA_JPEG, tmp_path / "b-taken-first.jpg")
    os.utime(tmp_path / "a-taken-later.jpg", (1_000_000_000, 1_000_000_000))  # older file

    everything = ("--bucketer", "none")  # compare photos taken apart
    assert kept(tmp_path, "--keep", "oldest", *everything) == ["b-taken-first.jpg"]
    assert kept(tmp_path, "--keep", "newest", *everything) == ["a-taken-later.jpg"]


def test_without_a_capture_time_oldest_and_newest_go_by_file_time(tmp_path):
    for name, seconds in (("a.png", 2_000_000_000), ("b.png", 1_000_000_000)):
        export(CAMERA_JPEG, tmp_path / name, scale=1)
        os.utime(tmp_path / name, (seconds, seconds))

    assert kept(tmp_path, "--keep", "oldest") == ["b.png"]
    assert kept(tmp_path, "--keep", "newest") == ["a.png"]


def test_the_configuration_file_says_what_is_kept(originals_and_exports, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text('keep = ["largest"]\n')

    assert kept(originals_and_exports, "--config", str(config)) == ["Downloads/IMG_1.png"]
    assert kept(originals_and_exports, "--config", str(config), "--keep", "original") == [
        "Originals/IMG_1.jpg"
    ]


def test_the_api_takes_the_criteria_as_a_list_or_a_text(originals_and_exports):
    for keep, expected in (
        (["largest"], "Downloads/IMG_1.png"),
        ("biggest-file,original", "Downloads/IMG_1.png"),
        (None, "Originals/IMG_1.jpg"),
    ):
        given = {} if keep is None else {"keep": keep}
        result = scan(originals_and_exports, cache=False, **given)
        assert [os.path.relpath(g.keep.path, originals_and_exports) for g in result.groups] == [
            expected
        ]


VALID = "original, oldest, newest, largest, biggest-file, shortest-path, sharpest, path:FOLDER"


def test_an_unknown_criterion_is_a_usage_error_listing_the_valid_ones(
    originals_and_exports, tmp_path
):
    run = run_simplugin("scan", str(originals_and_exports), "--keep", "original,smallest")
    assert run.returncode == 2
    assert f"unknown keep criterion 'smallest' (valid: {VALID})" in run.stderr
    assert run.stdout == ""

    config = tmp_path / "simplugin.toml"
    config.write_text('keep = ["newest", "path:"]\n')
    run = run_simplugin("scan", str(originals_and_exports), "--config", str(config))
    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {config}: keep: unknown keep criterion 'path:' (valid: {VALID})\n"
    )

    with pytest.raises(UsageError, match="unknown keep criterion 'pixels'"):
        scan(originals_and_exports, cache=False, keep=["pixels"])


@pytest.fixture
def sharp_and_blurred(tmp_path: Path) -> Path:
    """A camera JPEG, and a bigger blurred copy of it that every other criterion keeps."""
    folder = tmp_path / "burst"
    folder.mkdir()
    shutil.copy2(CAMERA_JPEG, folder / "IMG_2-sharp.jpg")
    with Image.open(CAMERA_JPEG) as image:
        bigger = image.resize((image.width * 5 // 4, image.height * 5 // 4))
        bigger.filter(ImageFilter.GaussianBlur(3)).save(folder / "IMG_2.jpg", quality=98)
    return folder


def test_keep_sharpest_keeps_the_sharp_photo_over_its_bigger_blurred_copy(
    sharp_and_blurred, tmp_path
):
    assert kept(sharp_and_blurred, "--keep", "largest") == ["IMG_2.jpg"]
    assert kept(sharp_and_blurred, "--keep", "sharpest") == ["IMG_2-sharp.jpg"]
    config = tmp_path / "simplugin.toml"
    config.write_text('keep = ["sharpest", "largest"]\n')
    assert kept(sharp_and_blurred, "--config", str(config)) == ["IMG_2-sharp.jpg"]
    result = scan(sharp_and_blurred, cache=False, keep="sharpest")
    assert [os.path.basename(group.keep.path) for group in result.groups] == ["IMG_2-sharp.jpg"]
    assert sharpness(str(sharp_and_blurred / "IMG_2-sharp.jpg")) > 2 * sharpness(
        str(sharp_and_blurred / "IMG_2.jpg")
    )


@pytest.fixture
def original_and_photoshop_copy(tmp_path: Path) -> Path:
    """The camera's JPEG, and a bigger copy of it that Photoshop wrote last."""
    shutil.copy2(CAMERA_JPEG, tmp_path / "a.jpg")
    edited_in_photoshop(CAMERA_JPEG, tmp_path / "b.jpg")
    return tmp_path


def keepers(folder: Path, cache: Path) -> list[str]:
    return [os.path.basename(g.keep.path) for g in scan(folder, cache=cache).groups]


def test_a_rescan_keeps_the_original_it_knows_from_the_cache_without_reading_it_again(
    original_and_photoshop_copy, tmp_path
):
    cache = tmp_path / "cache.sqlite"
    assert keepers(original_and_photoshop_copy, cache) == ["a.jpg"]
    # The Photoshop copy's EXIF says "Camera" from now on, but its size and time are
    # those of the last scan: the cache, not the file, answers for it.
    copy = original_and_photoshop_copy / "b.jpg"
    status = copy.stat()
    copy.write_bytes(copy.read_bytes().replace(b"Adobe Photoshop", b"Camera Firmware"))
    os.utime(copy, ns=(status.st_atime_ns, status.st_mtime_ns))

    assert keepers(original_and_photoshop_copy, cache) == ["a.jpg"]


def test_a_photo_edited_since_the_last_scan_has_its_exif_read_again(
    original_and_photoshop_copy, tmp_path
):
    cache = tmp_path / "cache.sqlite"
    assert keepers(original_and_photoshop_copy, cache) == ["a.jpg"]
    copy = original_and_photoshop_copy / "b.jpg"
    copy.write_bytes(copy.read_bytes().replace(b"Adobe Photoshop", b"Camera Firmware"))

    # Both are the camera's own files now: the one with more pixels is kept.
    assert keepers(original_and_photoshop_copy, cache) == ["b.jpg"]
    assert keepers(original_and_photoshop_copy, False) == ["b.jpg"]
