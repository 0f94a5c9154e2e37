"""The reference metric: the mean absolute difference of 16x16 RGB thumbnails.

Each photo is shrunk to 16x16 pixels with Pillow's default `resize` filter; the
distance of two photos is the mean of |a - b| over the 16x16x3 values, divided by 255,
so 0 is identical and 1 is black against white. Below 0.07 they are near-duplicates.

The words `strict` (0.03) and `loose` (0.11) come from the photos at hand: no pair of
different scenes was nearer than 0.095 on the test photos and 31 labelled real photos,
so below 0.03 only re-encodings, resizes and light edits remain; at 0.11, 86% of the
pairs found were true near-duplicates (73% of them found, against 48% at 0.07), and
above it false pairs come in fast (69% at 0.12).

With `rotations=True` (`--rotations`) a photo also matches its copies turned by 90, 180
or 270 degrees or mirrored: the distance is the smallest over the eight orientations of
one thumbnail against the other, turned on the 16x16 signature (no second decode).
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
    distance_range = (0.0, 1.0)
    thresholds = {"strict": 0.03, "default": 0.07, "loose": 0.11}
    signature_shape = (SIDE, SIDE, 3)
    signature_dtype = "uint8"
    # A JPEG decoded at 1/8 scale (at least 64 pixels a side) gives 16x16 thumbnails
    # within 0.001 of the full decode's on the reference photos, 4-5x faster.
    decode_size = 64

    supports_rotations = True

    def signature(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.resize((SIDE, SIDE)), dtype=np.uint8)

    def distance(self, a: np.ndarray, b: np.ndarray, rotations: bool = False) -> float:
        ours, theirs = a.astype(np.int32)[None], b.astype(np.int32)[None]
        totals = [np.abs(_turned(ours, o) - theirs).sum() for o in _orientations(rotations)]
        return float(min(totals)) / SCALE

    def pairs_within(
        self, signatures: np.ndarray, threshold: float, rotations: bool = False
    ) -> Iterator[tuple[int, int, float]]:
        index = _Index(signatures, rotations)
        return _near_pairs(index, index, threshold, rotations)

    def pairs_between(
        self, left: np.ndarray, right: np.ndarray, threshold: float, rotations: bool = False
    ) -> Iterator[tuple[int, int, float]]:
        indexes = _Index(left, rotations), _Index(right, rotations)
        return _near_pairs(*indexes, threshold, rotations)

    def partition_key(
        self, signatures: np.ndarray, threshold: float, rotations: bool = False
    ) -> tuple[np.ndarray, int]:
        # The sum of values: the first bound of the search below, the same in every
        # orientation (turning moves values, it does not change them).
        sums = signatures.reshape(len(signatures), VALUES).sum(axis=1, dtype=np.int64)
        return sums, int(threshold * SCALE) + 1


# --- orientations ----------------------------------------------------------------------
#
# An orientation is a number of quarter turns and whether the picture is then mirrored:
# the eight together are closed under inverse and composition (the square's symmetries),
# so "some orientation of a is near b" is the same as "a is near some orientation of b",
# and the distance with rotations is symmetric as the plain one is. Turning the grid of
# a thumbnail's 4x4 blocks or quadrants the same way gives the sums of the turned
# thumbnail's blocks or quadrants, so every bound of the search below holds per
# orientation.

Orientation = tuple[int, bool]  # quarter turns, mirrored
UPRIGHT: tuple[Orientation, ...] = ((0, False),)
EVERY_ORIENTATION: tuple[Orientation, ...] = tuple(
    (turns, mirrored) for mirrored in (False, True) for turns in range(4)
)


def _orientations(rotations: bool) -> tuple[Orientation, ...]:
    return EVERY_ORIENTATION if rotations else UPRIGHT


def _turned(grids: np.ndarray, orientation: Orientation) -> np.ndarray:
    """`grids` (shape `(n, rows, columns, ...)`), each turned and mirrored as said."""
    turns, mirrored = orientation
    turned = np.rot90(grids, turns, axes=(1, 2))
    return turned[:, :, ::-1] if mirrored else turned


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
#
# With rotations, the sums of the whole thumbnail and of each colour do not change when
# it turns: the first stage runs once for all eight orientations. Two more bounds that
# hold in every orientation (sorted sums of quadrants and of blocks, see
# `_in_some_orientation`) leave about a quarter of its pairs, and only those are bounded
# by quadrant and block, and measured, in each orientation. The upright search is left
# as it was, with no orientation in it: every scan runs it.

_ROWS = 128  # signatures compared at once with a stretch of others
_COLUMNS = 4096  # the longest stretch: bounds the temporary arrays to a few MB


class _Index:
    """Signatures sorted by their sum, with their partial sums, for the search."""

    def __init__(self, signatures: np.ndarray, rotations: bool = False):
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
        # Flat rows (a grid's values in row-major order): a turn is a reordering of them.
        self.quadrants = quadrants.reshape(count, 12)[self.order]
        self.blocks = blocks.reshape(count, 48)[self.order]
        if rotations:  # bounds of the distance in every orientation, see _in_some_orientation
            self.sorted_quadrants = _sorted_by_place(self.quadrants, 2)
            self.sorted_blocks = _sorted_by_place(self.blocks, 4)
            # One more bound, by 2x2 cells, before turning every pixel of a candidate.
            cells = signatures.reshape(count, 8, 2, 8, 2, 3).sum(axis=(2, 4), dtype=np.int16)
            self.cells = cells.reshape(count, 192)[self.order]

    def __len__(self) -> int:
        return len(self.sums)


def _near_pairs(
    left: _Index, right: _Index, threshold: float, rotations: bool
) -> Iterator[tuple[int, int, float]]:
    """`(i, j, distance)` for every signature i of `left` and j of `right` nearer than
    the threshold (with `rotations`, in one of the eight orientations of i; the
    distance: the nearest of them); when both are the same index, each pair once,
    with i < j.

    The search runs in the calling process: a large comparison is split by the
    engine, on its executor's workers (see `partition_key`).
    """
    for start in range(0, len(left), _ROWS):
        yield from _near_rows(left, right, threshold, rotations, start)


def _near_rows(
    left: _Index, right: _Index, threshold: float, rotations: bool, start: int
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
        if rotations:
            rows, columns, totals = _measure_turned(left, right, start, rows, columns, limit)
        else:
            rows, columns, totals = _measure(left, right, rows, columns, limit)
        distances = totals / SCALE
        for k in np.flatnonzero(distances < threshold):
            a, b = int(left.order[rows[k]]), int(right.order[columns[k]])
            if same:
                a, b = min(a, b), max(a, b)
            yield a, b, float(distances[k])


def _measure(
    left: _Index, right: _Index, rows: np.ndarray, columns: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs (sorted positions) that finer bounds leave, and the sum of
    each one's differences."""
    for ours, theirs in ((left.quadrants, right.quadrants), (left.blocks, right.blocks)):
        close = np.abs(ours[rows] - theirs[columns]).sum(axis=1) < limit
        rows, columns = rows[close], columns[close]
    i, j = left.order[rows], right.order[columns]
    totals = np.abs(left.signatures[i].astype(np.int16) - right.signatures[j].astype(np.int16)).sum(
        axis=1, dtype=np.int32
    )
    return rows, columns, totals


def _measure_turned(
    left: _Index, right: _Index, start: int, rows: np.ndarray, columns: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs (sorted positions; rows within the stretch of `left` from
    `start`) that finer bounds leave in some orientation, and the sum of each one's
    differences at its nearest orientation."""
    kept = _in_some_orientation(left, right, rows, columns, limit)
    rows, columns = rows[kept], columns[kept]
    # The stretch's rows in all eight orientations, turned once and then picked for each
    # candidate (small arrays, read in cache); the quadrant bound for every orientation
    # of every candidate in one step, the finer ones only where it leaves them.
    stretch, ours = slice(start, start + _ROWS), rows - start
    quadrants = left.quadrants[stretch][:, _TURNS[2]]
    near = np.abs(quadrants[ours] - right.quadrants[columns, None]).sum(axis=2, dtype=np.int32)
    pairs, turns = np.nonzero(near < limit)
    values = left.signatures[left.order[stretch]]
    for side, ours_values, theirs_values in (
        (4, left.blocks[stretch], right.blocks),
        (8, left.cells[stretch], right.cells),
        (SIDE, values.astype(np.int16), None),
    ):
        # each turned row of the stretch as one row: (stretch row, orientation) -> row
        turned = ours_values[:, _TURNS[side]].reshape(-1, ours_values.shape[1])
        if theirs_values is None:  # the pixels, to measure
            theirs = right.signatures[right.order[columns[pairs]]].astype(np.int16)
        else:
            theirs = theirs_values[columns[pairs]]
        totals = np.abs(turned[ours[pairs] * 8 + turns] - theirs).sum(axis=1, dtype=np.int32)
        close = totals < limit
        pairs, turns, totals = pairs[close], turns[close], totals[close]
    # A pair near in several orientations: at its nearest.
    order = np.lexsort((totals, pairs))
    pairs, totals = pairs[order], totals[order]
    first = np.ones(len(pairs), dtype=bool)  # (none, when no candidate is left)
    first[1:] = pairs[1:] != pairs[:-1]
    return rows[pairs[first]], columns[pairs[first]], totals[first]


def _in_some_orientation(
    left: _Index, right: _Index, rows: np.ndarray, columns: np.ndarray, limit: int
) -> np.ndarray:
    """The candidate pairs that bounds true in every orientation leave (their numbers).

    Turning a thumbnail only moves each quadrant, and each 4x4 block, to another place
    of its kind (a corner block to a corner, an edge block to an edge, a middle one to
    the middle), and no reordering of a list of numbers comes nearer, in L1, to another
    list than both sorted. So each colour's sums of such places, sorted, bound the
    distance in all eight orientations at once, for the cost of one."""
    kept = np.arange(len(rows))
    for ours, theirs in (
        (left.sorted_quadrants, right.sorted_quadrants),
        (left.sorted_blocks, right.sorted_blocks),
    ):
        bound = np.abs(ours[rows[kept]] - theirs[columns[kept]]).sum(axis=1, dtype=np.int32)
        kept = kept[bound < limit]
    return kept


def _sorted_by_place(rows: np.ndarray, side: int) -> np.ndarray:
    """Each colour's sums in `rows` (flat `side` x `side` x 3 grids), sorted within each
    kind of place that turning keeps (the places one place is turned to)."""
    count = len(rows)
    places = np.arange(side * side).reshape(1, side, side)
    kind = np.min([_turned(places, o).reshape(-1) for o in EVERY_ORIENTATION], axis=0)
    grids = rows.reshape(count, side * side, 3)
    sorted_kinds = [np.sort(grids[:, kind == k], axis=1) for k in np.unique(kind)]
    return np.concatenate(sorted_kinds, axis=1).reshape(count, -1)


def _turns(side: int) -> np.ndarray:
    """For each of the eight orientations, where each value of a flat `side` x `side`
    x 3 grid comes from once the grid is turned: `row[_turns(side)[o]]` is `row` turned."""
    values = np.arange(side * side * 3).reshape(1, side, side, 3)
    return np.stack([_turned(values, o).reshape(-1) for o in EVERY_ORIENTATION])


_TURNS = {side: _turns(side) for side in (2, 4, 8, SIDE)}  # quadrants, blocks, cells, pixels


@hookimpl
def register_metrics(register):
    register(AverageDifference())
