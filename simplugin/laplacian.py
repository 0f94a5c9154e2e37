"""How sharp a photo is: the variance of its Laplacian, the review page's figure and the
`sharpest` keeper criterion's.

An edge-finding filter (the 3x3 Laplacian) answers strongly on fine detail and weakly
on blur, so the variance of its answer over the photo is higher for the sharper of two
shots of the same scene. The figure is measured on the greyscale photo scaled to
`WORKING_SIZE` pixels on its long side (never scaled up), so that a photo and its
smaller export compare by their content, not their resolution. It is only a comparison
between near-duplicates: on unrelated photos it says little.

Decoding is the cost (tens of milliseconds a photo): the figure is computed only for
the photos of groups, and remembered for the process, by path, size and modification
time, so the keeper rule and the report measure each photo once.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from PIL import Image

from .imaging import open_displayed

WORKING_SIZE = 1024  # pixels, the long side the figure is measured at
DECODE_SIZE = 2048  # a JPEG is decoded at the smallest scale leaving this: the report's
# full-size preview decodes at the same scale, so both give the same figure


def sharpness_of_image(image: Image.Image) -> float:
    """The variance of the Laplacian of `image` (any mode), greyscale, at WORKING_SIZE."""
    grey = image.convert("L")
    if max(grey.size) > WORKING_SIZE:
        grey = grey.copy()
        grey.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.float32)
    if min(pixels.shape) < 3:
        return 0.0
    # 4-neighbour Laplacian on the interior: up + down + left + right - 4 * centre.
    laplacian = (
        pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:]
    ) - 4 * pixels[1:-1, 1:-1]
    return round(float(laplacian.var()), 2)


def sharpness(path: str) -> float:
    """The sharpness figure of the photo at `path`. Raises `Unreadable`."""
    status = os.stat(path)
    return _measured(os.path.abspath(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _measured(path: str, size: int, mtime_ns: int) -> float:
    return sharpness_of_image(open_displayed(path, DECODE_SIZE).image)
