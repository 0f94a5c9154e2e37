"""Opening a file as the photo a person sees: oriented, in RGB, or a one-line reason why not.

Every metric receives photos from here, so they all compare the same thing: EXIF
orientation applied, transparency composited on white, palettes, CMYK, grey and
16-bit images converted to 8-bit RGB, and the first frame of an animation.

Two optional extras widen what can be read:

* `simplugin[heif]` (pillow-heif) for HEIC/HEIF, the iPhone's format. Pillow itself
  reads AVIF from version 11.3.
* `simplugin[raw]` (rawpy, LibRaw's Python binding) for camera RAW files. simplugin
  uses the full-size JPEG preview the camera embedded (no demosaicing: fast, and the
  picture the camera itself rendered, so a RAW matches its JPEG twin), and develops
  the raw data at half size only when a file has no preview.

What is read of a file's headers and metadata is bounded, not by the file's size:
Pillow keeps every JPEG APP segment, PNG chunk and TIFF tag it reads, so a file made
of 512 MB of metadata would cost that much memory. Up to MAX_METADATA_BYTES (16 MiB)
is read; a file that holds more is refused with a reason. Formats decoded from memory
(WebP, AVIF, HEIF) are read whole, up to MAX_WHOLE_FILE_BYTES (256 MiB).
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from .errors import describe
from .files import open_regular
from .text import human_size

_ORIENTATION = 0x0112
BACKGROUND = (255, 255, 255)  # transparent pixels are compared as if on white paper
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
RAW_EXTENSIONS = frozenset(
    {".3fr", ".arw", ".cr2", ".cr3", ".dng", ".erf", ".iiq", ".kdc", ".mef", ".mrw", ".nef"}
    | {".nrw", ".orf", ".pef", ".raf", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f"}
)

try:  # the `heif` extra: teaches Pillow to open HEIC/HEIF files
    from pillow_heif import register_heif_opener
except ImportError:
    HEIF_SUPPORT = False
else:
    register_heif_opener()
    HEIF_SUPPORT = True

# How LibRaw's `flip` turns a stored RAW preview upright.
_LIBRAW_FLIP = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,  # 90 degrees counter-clockwise
    6: Image.Transpose.ROTATE_270,  # 90 degrees clockwise
}


# EXIF orientations that turn a photo on its side, swapping width and height.
_SIDEWAYS = frozenset({5, 6, 7, 8})

# What may be read of a file's headers and metadata (EXIF, ICC, XMP, PNG text...). Real
# photos carry at most a few MiB: EXIF fits in 64 KiB, ICC profiles are rarely over
# 4 MiB, extended XMP (a phone's depth map) adds a few MiB. 16 MiB is several times
# that, and keeps the worst a file can make Pillow do with it small: it keeps two or
# three copies, and joins EXIF split over many segments one segment at a time, which
# costs time in the square of the size (62 MB of them took 40 s and 275 MB; 16 MiB,
# a sixteenth of that). Reads are counted too: Pillow keeps an entry per JPEG segment
# or TIFF tag it reads, and a file of 100 million empty ones is small.
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_METADATA_READS = 65_536
# Formats decoded from memory (WebP, AVIF, HEIF) are read whole: that is their image
# data, not metadata, and it may be as large as one decoded photo at Pillow's pixel
# limit (89 Mpx x 3 bytes = 256 MiB), no larger.
MAX_WHOLE_FILE_BYTES = 256 * 1024 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IMAGE_CHUNKS = frozenset({b"IDAT", b"fdAT", b"fcTL"})  # pixels and frames, not metadata
# A WebP's header, pixels, alpha and animation frames; EXIF, XMP, ICCP are metadata.
_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})


class Unreadable(Exception):
    """The file cannot be used as a photo; `str()` is the one-line reason."""


@dataclass(frozen=True, slots=True)
class Displayed:
    """A photo as a person sees it. `image` is RGB and may be smaller than the photo
    (see `decode_size`); `width` and `height` are the photo's own, upright."""

    image: Image.Image
    format: str
    width: int
    height: int


def open_displayed(
    path: str, decode_size: int | None = None, decode_long_side: int | None = None
) -> Displayed:
    """The photo at `path` as displayed, in mode RGB.

    With `decode_size`, a JPEG is decoded at the smallest of libjpeg's scales (1/2,
    1/4, 1/8) that still leaves both sides at least that long: several times less
    work than a full decode, for a metric that only needs a thumbnail. With
    `decode_long_side`, at the smallest scale that leaves the long side at least that
    long (a preview, which is bounded by its long side).

    Raises `Unreadable` with a one-line reason for anything that is not a readable
    image, including images too large to decode safely (Pillow's MAX_IMAGE_PIXELS),
    files with more metadata than MAX_METADATA_BYTES, and anything but a regular file.
    """
    extension = os.path.splitext(path)[1].lower()
    try:
        with warnings.catch_warnings(), open_regular(path) as file:
            # Pillow warns about what it works around ("Corrupt EXIF data"...): the
            # photo is still read, and a user should not see library noise.
            warnings.simplefilter("ignore")
            # A photo above MAX_IMAGE_PIXELS but below twice that only warns in Pillow;
            # refuse it like the larger ones rather than spend the memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if extension in RAW_EXTENSIONS:
                image = _to_rgb(_raw_preview(_same_file(path, file)))
                return Displayed(image, extension[1:].upper(), image.width, image.height)
            image, (width, height) = _open_headers(file)
            with image:
                if decode_size:
                    image.draft("RGB", (decode_size, decode_size))
                elif decode_long_side:
                    image.draft("RGB", _with_long_side(image.size, decode_long_side))
                image.load()
                upright = _to_rgb(_oriented(image))
                return Displayed(upright, image.format or "unknown", width, height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Unreadable(f"refused: too many pixels to decode safely ({error})") from error
    except UnidentifiedImageError as error:
        raise Unreadable(_unidentified(extension)) from error
    except Unreadable:
        raise
    except OSError as error:
        if error.strerror:  # from the operating system: permission denied, no such file...
            raise Unreadable(error.strerror) from error
        message = " ".join(str(error).split()) or describe(error)
        raise Unreadable(f"broken image data: {message}") from error
    except Exception as error:  # Pillow reports some corrupt files as SyntaxError, ValueError...
        raise Unreadable(f"broken image data: {describe(error)}") from error


def _with_long_side(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """`size` scaled down (never up) to `long_side` pixels on its long side, rounded up,
    so that a JPEG drafted at this size keeps at least `long_side` pixels."""
    width, height = size
    longest = max(width, height, 1)
    if longest <= long_side:
        return width, height
    return -(-width * long_side // longest), -(-height * long_side // longest)


def probe(path: str) -> tuple[int, int, str]:
    """The upright width, height and format of a photo, reading as little as possible:
    the header, for the formats Pillow opens lazily. Raises `Unreadable`."""
    if os.path.splitext(path)[1].lower() not in RAW_EXTENSIONS:
        try:
            with warnings.catch_warnings(), open_regular(path) as file:
                warnings.simplefilter("ignore")
                image, (width, height) = _open_headers(file)
                with image:
                    return width, height, image.format or "unknown"
        except Exception:
            pass  # open_displayed says why, in the same words as a scan would
    shown = open_displayed(path)
    return shown.width, shown.height, shown.format


def _open_headers(file: BinaryIO) -> tuple[Image.Image, tuple[int, int]]:
    """The image in `file`, opened but not decoded, and its upright size. What Pillow
    reads to learn them is bounded (MAX_METADATA_BYTES); the pixels are not."""
    _check_metadata_chunks(file)
    budget = MetadataBudget(file)
    try:
        image = Image.open(budget)  # type: ignore[arg-type]  # it reads like a file
        size = _upright_size(image)
    except Exception:
        budget.check()  # a refusal said as such, whatever a plugin made of it
        raise
    try:
        budget.check()  # even when a plugin swallowed the refusal
    except Unreadable:
        image.close()
        raise
    budget.lift()  # decoding reads what the image is made of, however large
    return image, size


class MetadataBudget:
    """A photo's file as a library reads its headers and metadata (Pillow opening it,
    exifread): a read that would take what has been read past MAX_METADATA_BYTES, or
    the reads past MAX_METADATA_READS, raises `Unreadable` (and so does every read after
    it, in case the library catches it), having read at most MAX_METADATA_BYTES + 1
    bytes. `lift()` ends the limits, for decoding the pixels."""

    def __init__(self, file: BinaryIO):
        self._file = file
        self._bytes = self._reads = 0
        self._limited = True
        self._exceeded: str | None = None

    def read(self, size: int | None = -1) -> bytes:
        if self._limited and (size is None or size < 0):
            return self._read_whole()
        return self._read(self._file.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._read(self._file.readline, size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:  # libtiff decodes from the descriptor
        return self._file.fileno()

    def flush(self) -> None:
        pass  # read only

    def check(self) -> None:
        if self._exceeded is not None:
            raise Unreadable(self._exceeded)

    def lift(self) -> None:
        self._limited = False

    def _read(self, read: Callable[[int], bytes], size: int | None) -> bytes:
        if not self._limited:
            return read(-1 if size is None else size)
        self._count_read()
        left = MAX_METADATA_BYTES - self._bytes
        data = read(left + 1 if size is None or size < 0 else min(size, left + 1))
        self._bytes += len(data)
        if self._bytes > MAX_METADATA_BYTES:
            self._refuse(
                f"metadata larger than {human_size(MAX_METADATA_BYTES)} before the image data"
            )
        return data

    def _read_whole(self) -> bytes:
        """The rest of the file, for a decoder that takes it whole (and to which it is
        image data, not metadata)."""
        self._count_read()
        too_large = f"larger than {human_size(MAX_WHOLE_FILE_BYTES)}, for a format decoded whole"
        rest = os.fstat(self._file.fileno()).st_size - self._file.tell()
        if rest > MAX_WHOLE_FILE_BYTES:
            self._refuse(too_large)
        data = self._file.read(MAX_WHOLE_FILE_BYTES + 1)  # it may have grown since
        if len(data) > MAX_WHOLE_FILE_BYTES:
            self._refuse(too_large)
        return data

    def _count_read(self) -> None:
        self.check()
        self._reads += 1
        if self._reads > MAX_METADATA_READS:
            self._refuse(f"metadata in more than {MAX_METADATA_READS:,} pieces")

    def _refuse(self, what: str) -> None:
        self._exceeded = f"refused: {what}"
        self.check()


def _check_metadata_chunks(file: BinaryIO) -> None:
    """Refuse a PNG or WebP whose chunks other than its pixels add up to more than the
    metadata limits. Pillow reads (and keeps) a PNG's chunks found after the pixels when
    it decodes, and a WebP whole, its EXIF and XMP included, where `MetadataBudget` no
    longer counts. Only the chunks' headers are read."""
    head = file.read(12)
    file.seek(0)
    if head.startswith(_PNG_SIGNATURE):
        _tally(_png_chunks(file), _PNG_IMAGE_CHUNKS)
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        if os.fstat(file.fileno()).st_size <= MAX_WHOLE_FILE_BYTES:  # else refused whole
            _tally(_webp_chunks(file), _WEBP_IMAGE_CHUNKS)
    file.seek(0)


def _tally(chunks: Iterator[tuple[bytes, int]], image_kinds: frozenset[bytes]) -> None:
    total = count = 0
    for kind, length in chunks:
        if kind in image_kinds:
            continue
        total, count = total + length, count + 1
        if total > MAX_METADATA_BYTES:
            limit = human_size(MAX_METADATA_BYTES)
            raise Unreadable(f"refused: metadata chunks larger than {limit} in all")
        if count > MAX_METADATA_READS:
            raise Unreadable(f"refused: more than {MAX_METADATA_READS:,} metadata chunks")


def _png_chunks(file: BinaryIO) -> Iterator[tuple[bytes, int]]:
    file.seek(len(_PNG_SIGNATURE))
    while len(header := file.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        yield kind, length
        if kind == b"IEND":
            return
        file.seek(length + 4, os.SEEK_CUR)  # the data and its checksum


def _webp_chunks(file: BinaryIO) -> Iterator[tuple[bytes, int]]:
    file.seek(12)  # RIFF, its size, WEBP
    while len(header := file.read(8)) == 8:
        kind, length = struct.unpack("<4sI", header)
        yield kind, length
        file.seek(length + (length & 1), os.SEEK_CUR)  # the data, padded to an even size


def _same_file(path: str, file: BinaryIO) -> str:
    """A path that opens the very file `file` is open on (Linux's /proc/self/fd), for
    a library that opens files by name; elsewhere, `path`, checked a moment ago."""
    same = f"/proc/self/fd/{file.fileno()}"
    return same if os.path.exists(same) else path


def _upright_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    return (height, width) if _orientation(image) in _SIDEWAYS else (width, height)


def _unidentified(extension: str) -> str:
    if extension in HEIF_EXTENSIONS and not HEIF_SUPPORT:
        return "HEIC/HEIF photo: install the heif extra to read it (pip install 'simplugin[heif]')"
    if extension == ".avif" and not features.check("avif"):
        return "AVIF photo: this Pillow cannot read AVIF (Pillow 11.3 or newer can)"
    return "not an image that Pillow can read"


def _raw_preview(path: str) -> Image.Image:
    try:
        import rawpy
    except ImportError:
        raise Unreadable(
            "camera RAW photo: install the raw extra to read it (pip install 'simplugin[raw]')"
        ) from None
    try:
        with rawpy.imread(path) as raw:
            try:
                preview = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                # No preview: develop the raw data (LibRaw turns it upright itself).
                return Image.fromarray(raw.postprocess(use_camera_wb=True, half_size=True))
            if preview.format == rawpy.ThumbFormat.JPEG:
                image = Image.open(io.BytesIO(preview.data))
                image.load()
            else:
                image = Image.fromarray(preview.data)
            flip = _LIBRAW_FLIP.get(raw.sizes.flip)
            return image.transpose(flip) if flip is not None else image
    except rawpy.LibRawError as error:
        raise Unreadable(f"camera RAW that LibRaw cannot read: {describe(error)}") from error


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(_ORIENTATION)
    except Exception:  # unreadable EXIF: the photo is compared as stored
        return None


def _oriented(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        # Unreadable EXIF: compare the pixels as stored rather than lose the photo.
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # Pillow clips 16-bit values to 255 when converting; scale them instead.
        pixels = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        grey = np.clip(pixels / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "F":
        grey = np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
