"""The reference metric: the mean absolute difference of 16x16 RGB thumbnails.

Each photo is shrunk to 16x16 pixels with Pillow's default `resize` filter; the
distance of two photos is the mean of |a - b| over the 16x16x3 values, divided by 255,
so 0 is identical and 1 is black against white. Below 0.07 they are near-duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from simplugin import Metric, hookimpl

SIDE = 16
VALUES = SIDE * SIDE * 3
# Distances are computed from integer sums of differences, so that the bulk search and
# the pairwise `distance` agree to the last bit.
SCALE = VALUES * 255


class AverageDifference(Metric):
    name = "avgdiff"
    description = "mean absolute difference of 16x16 RGB thumbnails (the reference metric)"
    default_threshold = 0.07
    signature_shape = (SIDE, SIDE, 3)
    signature_dtype = "uint8"
    # A JPEG decoded at 1/8 scale (at least 64 pixels a side) gives 16x16 thumbnails
    # within 0.001 of the full decode's on the reference photos, 4-5x faster.
    decode_size = 64

    def signature(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.resize((SIDE, SIDE)), dtype=np.uint8)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        total = np.abs(a.astype(np.int32) - b.astype(np.int32)).sum()
        return float(total) / SCALE

    def pairs_within(
        self, signatures: np.ndarray, threshold: float
    ) -> Iterator[tuple[int, int, float]]:
        rows = _as_rows(signatures)
        for i in range(len(rows) - 1):
            yield from _near(i, rows[i], rows[i + 1 :], threshold, first=i + 1)

    def pairs_between(
        self, left: np.ndarray, right: np.ndarray, threshold: float
    ) -> Iterator[tuple[int, int, float]]:
        others = _as_rows(right)
        for i, row in enumerate(_as_rows(left)):
            yield from _near(i, row, others, threshold, first=0)


def _as_rows(signatures: np.ndarray) -> np.ndarray:
    # int16 holds every difference of two uint8 values.
    return signatures.reshape(len(signatures), VALUES).astype(np.int16)


def _near(
    i: int, row: np.ndarray, others: np.ndarray, threshold: float, first: int
) -> Iterator[tuple[int, int, float]]:
    """`(i, first + k, distance)` for each row k of `others` nearer to `row` than threshold."""
    distances = np.abs(others - row).sum(axis=1, dtype=np.int32) / SCALE
    for k in np.flatnonzero(distances < threshold):
        yield i, first + int(k), float(distances[k])


@hookimpl
def register_metrics(register):
    register(AverageDifference())
