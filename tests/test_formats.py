"""Photos are recognised by content in every common format and compared as displayed;
files that are not photos are ignored, and broken photos are skipped with a reason."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import SEAGULLS
from simplugin import scan

SEAGULL = SEAGULLS / "seagull_1.jpeg"


@pytest.mark.parametrize("image_format", ["PNG", "WEBP", "TIFF", "BMP", "GIF"])
def test_a_copy_in_another_format_is_found_as_a_near_duplicate(tmp_path, image_format):
    shutil.copy(SEAGULL, tmp_path / "original.jpeg")
    Image.open(SEAGULL).save(tmp_path / f"copy.{image_format.lower()}", image_format)

    result = scan(tmp_path)

    assert [sorted(p.format for p in (pair.a, pair.b)) for pair in result.pairs] == [
        sorted(["JPEG", image_format])
    ]


def test_photos_are_recognised_by_content_not_by_file_name(tmp_path):
    shutil.copy(SEAGULL, tmp_path / "original.jpeg")
    shutil.copy(SEAGULL, tmp_path / "exported_without_extension")

    result = scan(tmp_path)

    assert {p.path.rsplit("/", 1)[-1] for p in result.photos} == {
        "original.jpeg",
        "exported_without_extension",
    }
    assert len(result.groups) == 1


def test_files_that_are_not_photos_are_ignored_silently(tmp_path):
    shutil.copy(SEAGULL, tmp_path / "photo.jpeg")
    (tmp_path / "notes.txt").write_text("holiday 2023")
    (tmp_path / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    (tmp_path / "photo.xmp").write_text("<x:xmpmeta/>")

    result = scan(tmp_path)

    assert [p.path for p in result.photos] == [str(tmp_path / "photo.jpeg")]
    assert result.skipped == ()


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.jpg", b"", "empty file"),
        ("letter.jpg", b"Dear Sir, this is not a photo.\n", "not an image that Pillow can read"),
        ("truncated.jpg", SEAGULL.read_bytes()[:5000], "truncated"),
    ],
)
def test_a_broken_photo_is_skipped_with_a_reason_and_the_scan_goes_on(
    library, name, content, reason
):
    (library / name).write_bytes(content)

    result = scan(library)

    assert [s.path for s in result.skipped] == [str(library / name)]
    assert reason in result.skipped[0].reason
    assert "\n" not in result.skipped[0].reason
    assert len(result.photos) == 6 and len(result.pairs) == 4


def test_transparent_pixels_are_compared_as_if_on_white(tmp_path):
    hidden_colours = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rgba = np.dstack([hidden_colours, np.zeros((64, 64), np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    Image.new("RGB", (64, 64), "white").save(tmp_path / "white.png")

    result = scan(tmp_path)

    assert [pair.distance for pair in result.pairs] == [0.0]


def test_a_16_bit_photo_is_scaled_to_8_bit_not_clipped(tmp_path):
    grey = np.asarray(Image.open(SEAGULL).convert("L"), dtype=np.uint16)
    Image.fromarray(grey * 257).save(tmp_path / "sixteen_bit.png")  # 0..255 -> 0..65535
    Image.fromarray(grey.astype(np.uint8), "L").save(tmp_path / "eight_bit.png")

    result = scan(tmp_path)

    assert Image.open(tmp_path / "sixteen_bit.png").mode.startswith("I")
    assert len(result.pairs) == 1 and result.pairs[0].distance < 0.005
