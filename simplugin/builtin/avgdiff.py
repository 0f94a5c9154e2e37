"""The reference metric: the mean absolute difference of 16x16 RGB thumbnails.

Each photo is shrunk to 16x16 pixels with Pillow's default `resize` filter; the
distance of two photos is the mean of |a - b| over the 16x16x3 values, divided by 255,
so 0 is identical and 1 is black against white. Below 0.07 they are near-duplicates.

The words `strict` (0.03) and `loose` (0.11) come from the photos at hand: no pair of
different scenes was nearer than 0.095 on the test photos and 31 labelled real photos,
so below 0.03 only re-encodings, resizes and light edits remain; at 0.11, 86% of the
pairs found were true near-duplicates (73% of them found, against 48% at 0.07), and
above it false pairs come in fast (69% at 0.12).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import numpy as np
from PIL import Image

from simplugin import Metric, default_jobs, hookimpl

SIDE = 16
VALUES = SIDE * SIDE * 3
# Distances are computed from integer sums of differences, so that the bulk search and
# the pairwise `distance` agree to the last bit.
SCALE = VALUES * 255


class AverageDifference(Metric):
    name = "avgdiff"
    description = "mean absolute difference of 16x16 RGB thumbnails (the reference metric)"
    default_threshold = 0.07
    distance_range = (0.0, 1.0)
    thresholds = {"strict": 0.03, "default": 0.07, "loose": 0.11}
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
        index = _Index(signatures)
        return _near_pairs(index, index, threshold)

    def pairs_between(
        self, left: np.ndarray, right: np.ndarray, threshold: float
    ) -> Iterator[tuple[int, int, float]]:
        return _near_pairs(_Index(left), _Index(right), threshold)


# --- the bulk search ---------------------------------------------------------------------
#
# The distance is an L1 distance, and the L1 distance of sums is never more than the sum
# of the L1 distances: |sum(a) - sum(b)| <= sum(|a - b|). So sums over parts of the
# thumbnail give lower bounds of the distance, coarse but cheap: the whole thumbnail's
# sum (1 number), its sum per colour (3), per colour and quadrant (12), per colour and
# 4x4 block (48). The signatures are sorted by their sum, each is compared only with
# those whose sum is close enough, and a pair is measured in full only when every
# coarser bound has failed to rule it out. No pair within the threshold is ever pruned,
# so the result is exactly that of comparing every pair.

_ROWS = 128  # signatures compared at once with a stretch of others
_COLUMNS = 4096  # the longest stretch: bounds the temporary arrays to a few MB


class _Index:
    """Signatures sorted by their sum, with their partial sums, for the search."""

    def __init__(self, signatures: np.ndarray):
        count = len(signatures)
        self.signatures = signatures.reshape(count, VALUES)
        # Summed straight from the bytes: no int32 copy of every signature.
        cells = signatures.reshape(count, 4, 4, 4, 4, 3)
        blocks = cells.sum(axis=(2, 4), dtype=np.int32)  # 4x4 blocks
        quadrants = blocks.reshape(count, 2, 2, 2, 2, 3).sum(axis=(2, 4))
        channels = quadrants.sum(axis=(1, 2))
        sums = channels.sum(axis=1)
        self.order = np.argsort(sums, kind="stable")  # sorted position -> signature
        self.sums = sums[self.order]
        self.channels = [np.ascontiguousarray(channels[self.order, c]) for c in range(3)]
        self.quadrants = quadrants.reshape(count, 12)[self.order]
        self.blocks = blocks.reshape(count, 48)[self.order]

    def __len__(self) -> int:
        return len(self.sums)


def _near_pairs(left: _Index, right: _Index, threshold: float) -> Iterator[tuple[int, int, float]]:
    """`(i, j, distance)` for every signature i of `left` and j of `right` nearer than
    the threshold; when both are the same index, each pair once, with i < j.

    Stretches of rows are independent: a large search runs on every core, in forked
    processes that share the index with this one.
    """
    starts = range(0, len(left), _ROWS)
    jobs = default_jobs()
    if jobs == 1 or len(left) * len(right) < _PARALLEL_FROM:
        for start in starts:
            yield from _near_rows(left, right, threshold, start)
        return
    global _shared
    _shared = (left, right, threshold)
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for found in pool.imap(_near_rows_shared, starts, chunksize=8):
                yield from found
    finally:
        _shared = None


_PARALLEL_FROM = 20_000**2  # pairs: below this, starting processes costs more than it saves
_shared: tuple[_Index, _Index, float] | None = None  # what forked workers search


def _near_rows_shared(start: int) -> list[tuple[int, int, float]]:
    assert _shared is not None, "set before the pool forks"
    return list(_near_rows(*_shared, start))


def _near_rows(
    left: _Index, right: _Index, threshold: float, start: int
) -> Iterator[tuple[int, int, float]]:
    """The near pairs of the rows `start` to `start + _ROWS` of `left`."""
    same = left is right
    limit = int(threshold * SCALE) + 1  # every bound of a pair within the threshold is below
    stop = min(len(left), start + _ROWS)
    low = int(np.searchsorted(right.sums, left.sums[start] - limit, "left"))
    high = int(np.searchsorted(right.sums, left.sums[stop - 1] + limit, "right"))
    if same:
        low = max(low, start + 1)
    for first in range(low, high, _COLUMNS):
        last = min(high, first + _COLUMNS)
        bound = sum(
            np.abs(ours[start:stop, None] - theirs[None, first:last])
            for ours, theirs in zip(left.channels, right.channels, strict=True)
        )
        rows, columns = np.nonzero(bound < limit)
        rows += start
        columns += first
        if same:
            later = columns > rows
            rows, columns = rows[later], columns[later]
        yield from _measure(left, right, rows, columns, limit, threshold, same)


def _measure(
    left: _Index,
    right: _Index,
    rows: np.ndarray,
    columns: np.ndarray,
    limit: int,
    threshold: float,
    same: bool,
) -> Iterator[tuple[int, int, float]]:
    """The candidate pairs (sorted positions) that finer bounds, then the distance, keep."""
    for ours, theirs in ((left.quadrants, right.quadrants), (left.blocks, right.blocks)):
        close = np.abs(ours[rows] - theirs[columns]).sum(axis=1) < limit
        rows, columns = rows[close], columns[close]
    i, j = left.order[rows], right.order[columns]
    totals = np.abs(left.signatures[i].astype(np.int16) - right.signatures[j].astype(np.int16)).sum(
        axis=1, dtype=np.int32
    )
    distances = totals / SCALE
    for k in np.flatnonzero(distances < threshold):
        a, b = int(i[k]), int(j[k])
        if same:
            a, b = min(a, b), max(a, b)
        yield a, b, float(distances[k])


@hookimpl
def register_metrics(register):
    register(AverageDifference())
