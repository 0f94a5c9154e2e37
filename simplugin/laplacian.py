"""How sharp a photo is: the variance of its Laplacian, the review page's figure and the
`sharpest` keeper criterion's.

An edge-finding filter (the 3x3 Laplacian) answers strongly on fine detail and weakly
on blur, so the variance of its answer over the photo is higher for the sharper of two
shots of the same scene. The figure is measured on the greyscale photo scaled to
`WORKING_SIZE` pixels on its long side (never scaled up), so that a photo and its
smaller export compare by their content, not their resolution. It is only a comparison
between near-duplicates: on unrelated photos it says little.

Decoding is the cost: the figure is computed only for the photos of groups, from a
JPEG decoded at the smallest of libjpeg's scales that leaves DECODE_LONG_SIDE pixels
on the long side (a 12-megapixel photo at 1/2: a third of a full decode's time; the
figure stays within a few per cent of the full decode's), the same decode the report's
previews are made from (`open_measured`). It is remembered for the process, by path,
size and modification time; `measure_all` measures many photos on every core.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from .executors import WORKER_LOST, LocalWorkers, each_on
from .imaging import Displayed, Unreadable, open_displayed
from .reading import default_jobs

WORKING_SIZE = 1024  # pixels, the long side the figure is measured at
# A JPEG is decoded at the smallest scale leaving this on its long side (a full-HD
# screen's width): the report's full-size preview is made from the same decode, so
# both give the same figure, and a 4032-pixel photo decodes at 1/2 (2016 pixels).
DECODE_LONG_SIDE = 1920
SERIAL_BELOW = 8  # fewer photos than this are not worth starting worker processes
REMEMBERED = 4096  # figures kept in memory, the newest

Identity = tuple[str, int, int]  # a photo's absolute path, size and modification time
_MEASURED: dict[Identity, float] = {}


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
    identity = _identity(path)
    if identity not in _MEASURED:
        _remember(identity, sharpness_of_image(open_measured(path).image))
    return _MEASURED[identity]


def remembered_sharpness(path: str) -> float | None:
    """The figure of the photo at `path` if this process has measured it (as it is now),
    else None: the report takes the keeper's figures rather than measure again."""
    try:
        return _MEASURED.get(_identity(path))
    except OSError:
        return None


def open_measured(path: str) -> Displayed:
    """The photo at `path` decoded as its sharpness figure is measured. Raises `Unreadable`."""
    return open_displayed(path, decode_long_side=DECODE_LONG_SIDE)


def measure_all(paths: list[str]) -> None:
    """Measure the photos at `paths` on every core, so that `sharpness` then answers
    from memory. One that cannot be read now is left for `sharpness` to report."""
    identities = []
    for path in dict.fromkeys(paths):
        try:
            identity = _identity(path)
        except OSError:
            continue
        if identity not in _MEASURED:
            identities.append(identity)
    if len(identities) < SERIAL_BELOW:
        return
    # Processes of this machine, whatever the scan's executor: the figures are
    # remembered in this process, and measured on the files as this machine sees them.
    # A photo that kills its worker is left for `sharpness`, like an unreadable one.
    with LocalWorkers(min(default_jobs(), len(identities)), None) as workers:
        batches = [identities[start : start + 2] for start in range(0, len(identities), 2)]
        for identity, figure in each_on(workers, _figures, batches):
            if figure is not None and figure is not WORKER_LOST:
                _remember(identity, figure)


def _figures(_context: None, identities: list[Identity]) -> list[float | None]:
    """The task a worker runs: the figures of a few photos."""
    return [_figure_or_none(identity) for identity in identities]


def _figure_or_none(identity: Identity) -> float | None:
    try:
        return sharpness_of_image(open_measured(identity[0]).image)
    except (Unreadable, OSError):
        return None


def _identity(path: str) -> Identity:
    status = os.stat(path)
    return os.path.abspath(path), status.st_size, status.st_mtime_ns


def _remember(identity: Identity, figure: float) -> None:
    if len(_MEASURED) >= REMEMBERED:
        del _MEASURED[next(iter(_MEASURED))]  # the oldest
    _MEASURED[identity] = figure
