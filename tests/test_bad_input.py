"""Bad and odd files never stop a scan and are never silent.

A corpus of broken files is made beside the six seagull photos. For each: the scan
finishes, the file is listed under `skipped` with a one-line reason, stderr shows one
line for it and no traceback, and the seagulls' pairs are exactly the reference ones.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import AS_A_USER, SEAGULLS, run_simplugin
from simplugin import engine, scan

SEAGULL_PAIRS = {
    ("seagull_1", "seagull_3"),
    ("seagull_1", "seagull_4"),
    ("seagull_3", "seagull_4"),
    ("seagull_5", "seagull_6"),
}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` one-bit pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_with_exif(exif_payload: bytes) -> bytes:
    photo = (SEAGULLS / "seagull_2.jpeg").read_bytes()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif_payload) + 2) + exif_payload
    return photo[:2] + segment + photo[2:]


def broken_crc_png() -> bytes:
    data = bytearray(png_claiming(16, 16))
    data[29] ^= 0xFF  # the last byte of the IHDR checksum
    return bytes(data)


BROKEN = {
    "truncated.jpg": (lambda: (SEAGULLS / "seagull_1.jpeg").read_bytes()[:5000], "truncated"),
    "empty.jpg": (lambda: b"", "empty file"),
    "letter.jpg": (
        lambda: b"Dear Sir,\nthis is not a photo.\n",
        "not an image that Pillow can read",
    ),
    # Pillow checks the checksums of PNG headers (not of pixel data, for speed).
    "broken_crc.png": (broken_crc_png, "not an image that Pillow can read"),
    "bomb.png": (lambda: png_claiming(30_000, 30_000), "too many pixels to decode safely"),
    "almost_bomb.png": (lambda: png_claiming(10_000, 10_000), "too many pixels to decode safely"),
}

# Corrupt EXIF does not make a photo unreadable: its pixels are still compared.
CORRUPT_EXIF = {
    "exif_bad_offset.jpg": b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0" + bytes(32),
    "exif_huge_count.jpg": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + bytes(16),
}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "library"
    shutil.copytree(SEAGULLS, folder)
    for name, (make, _) in BROKEN.items():
        (folder / name).write_bytes(make())
    for name, payload in CORRUPT_EXIF.items():
        (folder / name).write_bytes(jpeg_with_exif(payload))
    return folder


def seagull_pairs(result) -> set[tuple[str, str]]:
    names = (
        tuple(sorted(os.path.basename(p).split(".")[0] for p in (pair.a.path, pair.b.path)))
        for pair in result.pairs
    )
    return {pair for pair in names if all(n.startswith("seagull_") for n in pair)}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_skipped_with_a_one_line_reason(corpus, name):
    result = scan(corpus)

    reasons = {os.path.basename(s.path): s.reason for s in result.skipped}
    assert BROKEN[name][1] in reasons[name]
    assert "\n" not in reasons[name]


def test_the_other_photos_results_are_unchanged_by_the_broken_ones(corpus):
    result = scan(corpus)

    assert seagull_pairs(result) == SEAGULL_PAIRS
    assert len(result.skipped) == len(BROKEN)


@pytest.mark.parametrize("name", sorted(CORRUPT_EXIF))
def test_a_photo_with_corrupt_exif_is_still_compared(corpus, name):
    result = scan(corpus)

    pairs = {(os.path.basename(p.a.path), os.path.basename(p.b.path)) for p in result.pairs}
    assert (name, "seagull_2.jpeg") in pairs or ("seagull_2.jpeg", name) in pairs


def test_the_command_reports_each_skipped_file_in_one_line_and_succeeds(corpus):
    run = subprocess.run(
        [sys.executable, "-m", "simplugin", "scan", str(corpus), "--json", "-"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )

    assert run.returncode == 0
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert sorted(": ".join(line.split(": ")[:2]) for line in lines[:-1]) == [
        f"simplugin: skipped {corpus}/{name}" for name in sorted(BROKEN)
    ]
    assert lines[-1].startswith("simplugin: scanned ")
    assert len(json.loads(run.stdout)["skipped"]) == len(BROKEN)


def test_an_unreadable_file_is_skipped_with_permission_denied(library):
    locked = library / "locked.jpg"
    shutil.copy(SEAGULLS / "seagull_1.jpeg", locked)
    locked.chmod(0)

    run = run_simplugin("scan", str(library), under=AS_A_USER)

    assert run.returncode == 0
    assert f"simplugin: skipped {locked}: Permission denied\n" in run.stderr
    assert run.stdout.count("Group ") == 2


def test_an_unreadable_folder_is_skipped_and_the_rest_scanned(library):
    private = library / "private"
    private.mkdir()
    shutil.copy(SEAGULLS / "seagull_1.jpeg", private)
    private.chmod(0)
    try:
        run = run_simplugin("scan", str(library), under=AS_A_USER)
    finally:
        private.chmod(0o755)

    assert run.returncode == 0
    assert f"simplugin: skipped {private}: cannot open folder: Permission denied\n" in run.stderr


def test_a_folder_named_like_a_photo_is_walked_into(library):
    (library / "photo.jpg").mkdir()
    shutil.copy(SEAGULLS / "seagull_1.jpeg", library / "photo.jpg" / "inside.jpeg")

    result = scan(library)

    assert result.skipped == ()
    assert any(p.path.endswith("photo.jpg/inside.jpeg") for p in result.photos)


def test_odd_file_names_are_scanned_like_any_other(library):
    gradient = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (48, 1))
    odd_names = [b"with spaces.png", b"new\nline.png", b"caf\xe9 latin-1.png", b"<script>.png"]
    for name in odd_names:
        Image.fromarray(gradient, "L").save(os.path.join(os.fsencode(library), name))

    result = scan(library)

    odd_group = next(g for g in result.groups if g.keep.path.endswith(".png"))
    assert sorted(os.path.basename(os.fsencode(p.path)) for p in odd_group.photos) == sorted(
        odd_names
    )
    assert seagull_pairs(result) == SEAGULL_PAIRS


def test_a_file_deleted_between_listing_and_reading_is_skipped(library, monkeypatch):
    victim = library / "seagull_2.jpeg"
    listing = engine.walk

    def walk_then_delete(*arguments, **options):
        yield from listing(*arguments, **options)
        victim.unlink()  # as another program might, while the scan is running

    monkeypatch.setattr(engine, "walk", walk_then_delete)

    result = scan(library)

    assert [(s.path, s.reason) for s in result.skipped] == [
        (str(victim), "No such file or directory")
    ]
    assert seagull_pairs(result) == SEAGULL_PAIRS


# Run in a process of its own: a scan that opened the FIFO would wait on it forever.
SWAP_FOR_A_FIFO_AFTER_LISTING = """
import os, sys
from simplugin import engine, scan

library, victim = sys.argv[1:]
listing = engine.walk

def walk_then_swap(*arguments, **options):
    yield from listing(*arguments, **options)
    os.unlink(victim)  # as another program might, while the scan is running
    os.mkfifo(victim)

engine.walk = walk_then_swap
for item in scan(library, cache=False).skipped:
    print(f"{item.path}: {item.reason}")
"""


def test_a_photo_swapped_for_a_fifo_after_listing_is_refused_not_waited_on(library):
    victim = library / "seagull_2.jpeg"

    run = subprocess.run(
        [sys.executable, "-c", SWAP_FOR_A_FIFO_AFTER_LISTING, str(library), str(victim)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )

    assert run.stdout == f"{victim}: not a regular file\n"


# --- files made of metadata: what is read of headers is bounded, not the file -------------


def jpeg_with_segments(marker: bytes, payload: bytes, count: int) -> bytes:
    """A real photo with `count` segments of `payload` before its image data."""
    photo = (SEAGULLS / "seagull_2.jpeg").read_bytes()
    segment = marker + struct.pack(">H", len(payload) + 2) + payload
    return photo[:2] + segment * count + photo[2:]


def png_with_chunks(before: bytes = b"", after: bytes = b"") -> bytes:
    """A real photo as a PNG, with chunks between its header and its pixels, and after."""
    out = io.BytesIO()
    Image.open(SEAGULLS / "seagull_2.jpeg").save(out, "PNG")
    photo = out.getvalue()
    header_end, iend = 8 + 25, len(photo) - 12
    return photo[:header_end] + before + photo[header_end:iend] + after + photo[iend:]


def tiff_with_a_large_tag(size: int) -> bytes:
    out = io.BytesIO()
    Image.open(SEAGULLS / "seagull_2.jpeg").save(out, "TIFF", tiffinfo={0xC6FF: bytes(size)})
    return out.getvalue()


def webp_of_size(size: int):
    def write(path):
        Image.open(SEAGULLS / "seagull_2.jpeg").save(path, "WEBP")
        os.truncate(path, size)  # a sparse file: large, and quick to make

    return write


def webp_with_exif(size: int):
    def write(path):
        small = Image.open(SEAGULLS / "seagull_2.jpeg").resize((64, 64))
        small.save(path, "WEBP", exif=b"Exif\0\0" + bytes(size))

    return write


def writing(make):
    return lambda path: path.write_bytes(make())


MEGABYTES_24 = 24_000_000
METADATA_BOMBS = {
    "app_segments.jpg": (
        writing(lambda: jpeg_with_segments(b"\xff\xe4", bytes(65533), MEGABYTES_24 // 65537)),
        "refused: metadata larger than 16.0 MiB before the image data",
    ),
    "empty_segments.jpg": (
        writing(lambda: jpeg_with_segments(b"\xff\xfe", b"", 70_000)),
        "refused: metadata in more than 65,536 pieces",
    ),
    "text_after_the_pixels.png": (
        writing(lambda: png_with_chunks(after=png_chunk(b"tEXt", b"A\0" + b"x" * MEGABYTES_24))),
        "refused: metadata chunks larger than 16.0 MiB in all",
    ),
    "private_chunks.png": (
        writing(lambda: png_with_chunks(before=png_chunk(b"prIv", b"") * 70_000)),
        "refused: more than 65,536 metadata chunks",
    ),
    "large_tag.tif": (
        writing(lambda: tiff_with_a_large_tag(MEGABYTES_24)),
        "refused: metadata larger than 16.0 MiB before the image data",
    ),
    "exif_chunk.webp": (
        webp_with_exif(MEGABYTES_24),
        "refused: metadata chunks larger than 16.0 MiB in all",
    ),
    "huge.webp": (
        webp_of_size(300_000_000),
        "refused: larger than 256.0 MiB, for a format decoded whole",
    ),
}


@pytest.mark.parametrize("name", sorted(METADATA_BOMBS))
def test_a_file_made_of_metadata_is_skipped_with_the_reason_and_the_rest_scanned(library, name):
    write, reason = METADATA_BOMBS[name]
    write(library / name)

    run = run_simplugin("scan", str(library), "--no-cache")

    assert run.returncode == 0
    assert f"simplugin: skipped {library / name}: {reason}\n" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.count("Group ") == 2
