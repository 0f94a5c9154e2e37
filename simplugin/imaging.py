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
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from .errors import describe

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


def open_displayed(path: str, decode_size: int | None = None) -> Displayed:
    """The photo at `path` as displayed, in mode RGB.

    With `decode_size`, a JPEG is decoded at the smallest of libjpeg's scales (1/2,
    1/4, 1/8) that still leaves both sides at least that long: several times less
    work than a full decode, for a metric that only needs a thumbnail.

    Raises `Unreadable` with a one-line reason for anything that is not a readable
    image, including images too large to decode safely (Pillow's MAX_IMAGE_PIXELS).
    """
    extension = os.path.splitext(path)[1].lower()
    try:
        with warnings.catch_warnings():
            # Pillow warns about what it works around ("Corrupt EXIF data"...): the
            # photo is still read, and a user should not see library noise.
            warnings.simplefilter("ignore")
            # A photo above MAX_IMAGE_PIXELS but below twice that only warns in Pillow;
            # refuse it like the larger ones rather than spend the memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if extension in RAW_EXTENSIONS:
                image = _to_rgb(_raw_preview(path))
                return Displayed(image, extension[1:].upper(), image.width, image.height)
            with Image.open(path) as image:
                width, height = _upright_size(image)
                if decode_size:
                    image.draft("RGB", (decode_size, decode_size))
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


def probe(path: str) -> tuple[int, int, str]:
    """The upright width, height and format of a photo, reading as little as possible:
    the header, for the formats Pillow opens lazily. Raises `Unreadable`."""
    if os.path.splitext(path)[1].lower() not in RAW_EXTENSIONS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(path) as image:
                    return (*_upright_size(image), image.format or "unknown")
        except Exception:
            pass  # open_displayed says why, in the same words as a scan would
    shown = open_displayed(path)
    return shown.width, shown.height, shown.format


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
