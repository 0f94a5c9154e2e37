"""Photos are recognised by content in every common format and compared as displayed;
files that are not photos are ignored, and broken photos are skipped with a reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, features

from conftest import SEAGULLS, write_dng
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


# --- orientation: every EXIF orientation is shown upright --------------------------------

# How a viewer turns the stored pixels to display them, per the EXIF specification,
# written with numpy so as not to lean on Pillow's own table.
DISPLAY = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: np.rot90(a, 2),
    4: lambda a: a[::-1, :],  # mirrored top-bottom
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # turned 90 degrees clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),  # turned 90 degrees counter-clockwise
}
STORE = {**DISPLAY, 6: DISPLAY[8], 8: DISPLAY[6]}  # the inverse of each display turn


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_compared_upright(tmp_path, orientation):
    upright = np.asarray(Image.open(SEAGULLS / "seagull_2.jpeg").resize((240, 320)))
    stored = np.ascontiguousarray(STORE[orientation](upright))
    assert np.array_equal(DISPLAY[orientation](stored), upright)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "camera.png", exif=exif)
    Image.fromarray(upright).save(tmp_path / "upright.png")

    result = scan(tmp_path)

    assert [pair.distance for pair in result.pairs] == [0.0]
    assert {(p.width, p.height) for p in result.photos} == {(240, 320)}


# --- modes: every kind of pixel becomes the RGB a viewer shows ------------------------


def scan_pair(tmp_path, first: Image.Image, second: Image.Image):
    first.save(tmp_path / "first.png" if first.mode != "CMYK" else tmp_path / "first.jpg")
    second.save(tmp_path / "second.png")
    return scan(tmp_path)


def test_a_palette_with_a_transparent_colour_is_shown_on_white(tmp_path):
    palette_image = Image.new("P", (32, 32), 0)
    palette_image.putpalette([0, 0, 0] * 256)  # every colour black, index 0 transparent
    palette_image.info["transparency"] = 0

    result = scan_pair(tmp_path, palette_image, Image.new("RGB", (32, 32), "white"))

    assert [pair.distance for pair in result.pairs] == [0.0]


def test_grey_with_transparency_is_shown_on_white(tmp_path):
    invisible = Image.new("LA", (32, 32), (0, 0))  # black, fully transparent

    result = scan_pair(tmp_path, invisible, Image.new("RGB", (32, 32), "white"))

    assert [pair.distance for pair in result.pairs] == [0.0]


def test_a_cmyk_photo_matches_its_rgb_original(tmp_path):
    original = Image.open(SEAGULL)

    result = scan_pair(tmp_path, original.convert("CMYK"), original)

    assert len(result.pairs) == 1 and result.pairs[0].distance < 0.02


def test_a_one_bit_image_matches_its_grey_twin(tmp_path):
    bits = Image.open(SEAGULL).convert("1")

    result = scan_pair(tmp_path, bits, bits.convert("L"))

    assert [pair.distance for pair in result.pairs] == [0.0]


@pytest.mark.parametrize("image_format", ["GIF", "WEBP"])
def test_an_animation_is_compared_by_its_first_frame(tmp_path, image_format):
    first, second = (
        Image.open(SEAGULLS / n).convert("RGB") for n in ("seagull_1.jpeg", "seagull_2.jpeg")
    )
    first.save(
        tmp_path / f"animation.{image_format.lower()}",
        image_format,
        save_all=True,
        append_images=[second],
        duration=100,
        lossless=True,
    )
    shutil.copy(SEAGULLS / "seagull_2.jpeg", tmp_path / "second_frame.jpeg")
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / "first_frame.jpeg")

    result = scan(tmp_path)

    assert [
        sorted(os.path.basename(p.path) for p in (pair.a, pair.b)) for pair in result.pairs
    ] == [[f"animation.{image_format.lower()}", "first_frame.jpeg"]]


# --- formats beyond Pillow's own -------------------------------------------------------


def test_a_heic_photo_is_read_with_the_heif_extra(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")  # installed by the test extra
    pillow_heif.register_heif_opener()
    shutil.copy(SEAGULL, tmp_path / "original.jpeg")
    Image.open(SEAGULL).save(tmp_path / "IMG_0001.HEIC", quality=90)

    result = scan(tmp_path)

    assert [sorted(p.format for p in (pair.a, pair.b)) for pair in result.pairs] == [
        ["HEIF", "JPEG"]
    ]


def scan_without(module: str, folder) -> subprocess.CompletedProcess:
    """Run `simplugin scan FOLDER` as on a machine where `module` is not installed."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; from simplugin.cli import main;"
        f" sys.exit(main(['scan', {str(folder)!r}]))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_without_the_heif_extra_a_heic_photo_gets_a_one_line_hint(tmp_path):
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))

    run = scan_without("pillow_heif", tmp_path)

    assert run.returncode == 0
    assert (
        f"simplugin: skipped {tmp_path}/IMG_0001.HEIC: HEIC/HEIF photo: install the heif extra"
        " to read it (pip install 'simplugin[heif]')\n"
    ) in run.stderr


def test_an_avif_photo_is_read(tmp_path):
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    shutil.copy(SEAGULL, tmp_path / "original.jpeg")
    Image.open(SEAGULL).save(tmp_path / "copy.avif", quality=90)

    assert len(scan(tmp_path).pairs) == 1


def test_a_camera_raw_photo_is_compared_through_its_embedded_preview(tmp_path):
    pytest.importorskip("rawpy")
    upright = np.asarray(Image.open(SEAGULL).resize((192, 256)))
    write_dng(tmp_path / "IMG_0001.DNG", upright[::4, ::4], preview=upright)
    shutil.copy(SEAGULL, tmp_path / "IMG_0001.JPG")

    result = scan(tmp_path)

    assert sorted(p.format for p in result.photos) == ["DNG", "JPEG"]
    assert len(result.pairs) == 1 and result.pairs[0].distance < 0.02


def test_a_raw_preview_is_turned_upright(tmp_path):
    pytest.importorskip("rawpy")
    upright = np.asarray(Image.open(SEAGULLS / "seagull_2.jpeg").resize((192, 256)))
    sideways = np.ascontiguousarray(np.rot90(upright, 1))  # stored turned counter-clockwise
    write_dng(tmp_path / "IMG_0002.DNG", sideways[::4, ::4], preview=sideways, orientation=6)
    Image.fromarray(upright).save(tmp_path / "IMG_0002.png")

    result = scan(tmp_path)

    assert len(result.pairs) == 1 and result.pairs[0].distance < 0.02


def test_without_the_raw_extra_a_raw_photo_gets_a_one_line_hint(tmp_path):
    (tmp_path / "IMG_0001.CR2").write_bytes(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(64))

    run = scan_without("rawpy", tmp_path)

    assert (
        f"simplugin: skipped {tmp_path}/IMG_0001.CR2: camera RAW photo: install the raw extra"
        " to read it (pip install 'simplugin[raw]')\n"
    ) in run.stderr


def test_a_broken_raw_file_is_skipped_with_libraw_s_reason(tmp_path):
    pytest.importorskip("rawpy")
    (tmp_path / "IMG_0001.NEF").write_bytes(b"this is not a raw file" * 10)

    result = scan(tmp_path)

    assert len(result.skipped) == 1
    assert result.skipped[0].reason.startswith("camera RAW that LibRaw cannot read: LibRaw")


# --- sidecars ---------------------------------------------------------------------------


def test_sidecars_belong_to_their_photo_and_are_never_scanned(tmp_path):
    shutil.copy(SEAGULL, tmp_path / "IMG_1.jpg")
    for sidecar in ("IMG_1.xmp", "IMG_1.jpg.xmp", "IMG_1.AAE", "IMG_1.jpg.json", "IMG_1.THM"):
        shutil.copy(SEAGULL, tmp_path / sidecar)  # even a sidecar that holds a JPEG (.THM)
    shutil.copy(SEAGULL, tmp_path / "IMG_2.jpg")

    result = scan(tmp_path)

    by_name = {os.path.basename(p.path): p for p in result.photos}
    assert sorted(by_name) == ["IMG_1.jpg", "IMG_2.jpg"]
    assert sorted(os.path.basename(s) for s in by_name["IMG_1.jpg"].sidecars) == [
        "IMG_1.AAE",
        "IMG_1.THM",
        "IMG_1.jpg.json",
        "IMG_1.jpg.xmp",
        "IMG_1.xmp",
    ]
    assert by_name["IMG_2.jpg"].sidecars == ()
