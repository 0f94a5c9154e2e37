"""Does one hostile file make simplugin use more memory than a whole normal library?

    python benchmarks/memory.py               # hostile files of 512 MB
    python benchmarks/memory.py --size 64     # quicker

Generates a library of ordinary photos (JPEGs of 2 to 6 megapixels, with EXIF), then
runs `simplugin scan` on it alone (the baseline) and on it with one hostile file added,
each in a process of its own, and prints the peak memory of each run: the largest
process of the scan, its workers included (from wait4, as benchmarks/bench.py does).

The hostile files, SIZE MB each:

* a JPEG whose image data comes after SIZE MB of APP segments (Pillow keeps every one);
* a PNG with a SIZE MB text chunk after its image data (read when the pixels are);
* a TIFF whose first directory has a SIZE MB tag.

And the configuration file: `simplugin config show` on an ordinary file, against a 40 KB
one of 20,000 dotted keys (`a.a.a...`), which tomllib turns into 20,000 nested tables.

Memory is bounded by design when the hostile rows stay near their baseline whatever
SIZE is. Read the figures of one run against each other: machines are shared.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 1 << 20


def ordinary_photo(image_format: str, **options) -> bytes:
    """A small photo-like image, encoded."""
    out = BytesIO()
    Image.linear_gradient("L").convert("RGB").save(out, image_format, **options)
    return out.getvalue()


def filler(size: int) -> Iterator[bytes]:
    """`size` bytes of filler, a block at a time (never all in memory here)."""
    while size > 0:
        yield bytes(min(size, BLOCK))
        size -= BLOCK


def write_jpeg_of_app_segments(path: Path, size: int) -> None:
    photo = ordinary_photo("JPEG")
    payload = b"APP-filler\0" + bytes(65533 - 11)  # the longest segment there is
    segment = b"\xff\xe4" + struct.pack(">H", len(payload) + 2) + payload
    with open(path, "wb") as out:
        out.write(photo[:2])  # SOI
        for _ in range(size // len(segment)):
            out.write(segment)
        out.write(photo[2:])


def png_chunk_header(kind: bytes, length: int) -> bytes:
    return struct.pack(">I", length) + kind


def write_png_with_text_after_the_pixels(path: Path, size: int) -> None:
    photo = ordinary_photo("PNG")
    iend = photo.rindex(b"IEND") - 4
    with open(path, "wb") as out:
        out.write(photo[:iend])
        out.write(png_chunk_header(b"tEXt", size))
        checksum = zlib.crc32(b"tEXt" + b"Comment\0")
        out.write(b"Comment\0")
        for block in filler(size - len(b"Comment\0")):
            out.write(block.replace(b"\0", b"x"))
            checksum = zlib.crc32(block.replace(b"\0", b"x"), checksum)
        out.write(struct.pack(">I", checksum))
        out.write(photo[iend:])


def write_tiff_with_a_large_tag(path: Path, size: int) -> None:
    """A 256 x 256 grey TIFF whose directory has a tag of `size` bytes (0xC6FF, which
    Pillow does not know and reads as it is), written after the pixels."""
    width = height = 256
    pixels = bytes(range(256)) * height
    entries = [  # tag, type (3 SHORT, 4 LONG, 7 UNDEFINED), count, value or offset
        (256, 3, 1, width),
        (257, 3, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (278, 3, 1, height),
        (279, 4, 1, len(pixels)),
        (0xC6FF, 7, size, 8 + len(pixels)),
    ]
    directory = 8 + len(pixels) + size
    with open(path, "wb") as out:
        out.write(b"II*\0" + struct.pack("<I", directory) + pixels)
        for block in filler(size):
            out.write(block)
        out.write(struct.pack("<H", len(entries)))
        for tag, kind, count, value in entries:
            packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
            out.write(struct.pack("<HHI", tag, kind, count) + packed)
        out.write(struct.pack("<I", 0))


HOSTILE = {
    "JPEG of APP segments": ("hostile.jpg", write_jpeg_of_app_segments),
    "PNG with a text chunk": ("hostile.png", write_png_with_text_after_the_pixels),
    "TIFF with a large tag": ("hostile.tif", write_tiff_with_a_large_tag),
}


def dotted_keys_config(path: Path, parts: int) -> None:
    path.write_text(".".join(["a"] * parts) + " = 1\n")


def peak_of(*arguments: str, cwd: Path) -> tuple[float, int, str]:
    """Run `python -m simplugin ARGUMENTS`: its peak resident memory in MB (the largest
    process, workers included), exit code, and what it said of the hostile file (else
    its last line on stderr)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "simplugin", *arguments],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        _, status, usage = os.wait4(process.pid, 0)
        errors.seek(0)
        lines = errors.read().decode(errors="replace").splitlines()
    said = next((line for line in lines if "hostile" in line), lines[-1] if lines else "-")
    return usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), said.replace(f"{cwd}/", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="MB per hostile file (512)")
    parser.add_argument("--photos", type=int, default=40, help="ordinary photos (40)")
    parser.add_argument("--keys", type=int, default=20_000, help="dotted keys (20000)")
    arguments = parser.parse_args()
    size = arguments.size * 1_000_000

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        library = work / "library"
        # In a process of its own, as bench.py does: Linux counts a parent's peak memory
        # in its later children's, so this process must stay small.
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--run", "generate"]
            + [str(library), str(arguments.photos), "1", "2", "6", str(work / "truth.json")],
            check=True,
        )
        baseline = peak_of("scan", "-q", "--no-cache", str(library), cwd=work)
        rows = [("library (baseline)", *baseline)]
        for label, (name, write) in HOSTILE.items():
            folder = work / name
            folder.mkdir()
            for photo in library.iterdir():
                os.link(photo, folder / photo.name)
            write(folder / name, size)
            peak = peak_of("scan", "-q", "--no-cache", str(folder), cwd=work)
            rows.append((f"library + {label}", *peak))
            os.unlink(folder / name)

        ordinary = work / "ordinary.toml"
        ordinary.write_text('metric = "avgdiff"\nthreshold = 0.05\n')
        dotted = work / "dotted.toml"
        dotted_keys_config(dotted, arguments.keys)
        for label, path in (("ordinary", ordinary), (f"{arguments.keys:,} dotted keys", dotted)):
            peak = peak_of("config", "show", "--config", str(path), cwd=work)
            rows.append((f"config show, {label} ({path.stat().st_size:,} B)", *peak))

    print(f"\nhostile files of {arguments.size} MB; {arguments.photos} ordinary photos\n")
    print(f"{'run':48} {'peak MB':>8} {'exit':>4}  what it said")
    for label, peak, code, said in rows:
        print(f"{label:48} {peak:8.0f} {code:4}  {said}")


if __name__ == "__main__":
    main()
