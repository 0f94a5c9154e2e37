"""Opening a file as the photo a person sees: oriented, in RGB, or a one-line reason why not.

Every metric receives photos from here, so they all compare the same thing: EXIF
orientation applied, transparency composited on white, palettes, CMYK, grey and
16-bit images converted to 8-bit RGB, and the first frame of an animation.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import describe

BACKGROUND = (255, 255, 255)  # transparent pixels are compared as if on white paper


class Unreadable(Exception):
    """The file cannot be used as a photo; `str()` is the one-line reason."""


def open_displayed(path: str) -> tuple[Image.Image, str]:
    """The photo at `path` as displayed, in mode RGB, and its format name.

    Raises `Unreadable` with a one-line reason for anything that is not a readable
    image, including images too large to decode safely (Pillow's MAX_IMAGE_PIXELS).
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns about what it works around ("Corrupt EXIF data"...): the
            # photo is still read, and a user should not see library noise.
            warnings.simplefilter("ignore")
            # A photo above MAX_IMAGE_PIXELS but below twice that only warns in Pillow;
            # refuse it like the larger ones rather than spend the memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image_format = image.format or "unknown"
                image.load()
                displayed = _to_rgb(_oriented(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Unreadable(f"refused: too many pixels to decode safely ({error})") from error
    except UnidentifiedImageError as error:
        raise Unreadable("not an image that Pillow can read") from error
    except OSError as error:
        if error.strerror:  # from the operating system: permission denied, no such file...
            raise Unreadable(error.strerror) from error
        message = " ".join(str(error).split()) or describe(error)
        raise Unreadable(f"broken image data: {message}") from error
    except Exception as error:  # Pillow reports some corrupt files as SyntaxError, ValueError...
        raise Unreadable(f"broken image data: {describe(error)}") from error
    return displayed, image_format


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
