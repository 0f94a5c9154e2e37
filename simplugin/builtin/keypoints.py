"""Near-duplicates as a person sees them: the reference pairs, plus re-shots and edits
verified by keypoints within a burst, plus greyscale copies (OpenCV, `simplugin[keypoints]`).

`--metric keypoints` finds, at its threshold:

1. every pair the reference metric (`avgdiff`) finds: the mean absolute difference of
   16x16 RGB thumbnails, divided by 255;
2. a greyscale copy of a colour photo: when either photo of a pair is grey (its
   thumbnail has no colour), both are compared by their grey thumbnails, with the same
   mean absolute difference (a grey copy is far from its original in RGB);
3. within a burst only (photos taken close together: one bucket of `exif-time`, see
   `simplugin.Metric.uses_bursts`), two photos on which enough ORB keypoints agree on
   one geometric mapping (a RANSAC homography): a re-shot a few seconds later, a crop,
   an edit. Its distance is INLIER_SCALE / inliers (2 / inliers): 29 agreeing keypoints
   give 0.069, below the default threshold 0.07; `strict` (0.03) asks for 67, `loose`
   (0.11) for 19.

A pair's distance is the smallest of those that apply, so it always says why the pair
was found: below the threshold by thumbnails (1, 2), or by the number of keypoints
that agree (3). `distance()` gives that smallest distance whatever the photos' capture
times; a scan looks for keypoint pairs only within bursts, because across a whole
library look-alike crops of one scene also share a mapping (precision fell to 0.35-0.48
on generated libraries in the measurements behind this metric).

Photos without a capture time (exports, messenger copies) are not keypoint-verified:
they are compared with the others by thumbnails, as the reference does, and by the
greyscale rule. Verifying them against every photo found a few more pairs and many
false ones (precision 0.95 down to 0.46 as the comparison widened, in the research
behind this metric). On the 31 labelled real photos verifying every pair adds nothing
(the same 27 of 28 pairs, grouped): their undated copies are found by thumbnails.

A verification costs about 4 ms a pair (ORB matches kept by Lowe's ratio test, then
RANSAC), so a burst of n photos costs about 2 n^2 ms; reading costs about 45 ms a
photo, against about 20 for the reference.

The signature is one fixed-size row of bytes, cached like any other, so a warm re-scan
decodes nothing: the 16x16 RGB thumbnail (768 bytes), the number of keypoints (2),
then up to MAX_KEYPOINTS keypoints' coordinates (2 x uint16 each, in 1/64 pixel of
the photo scaled to WORKING_SIDE on its long side) and their 32-byte ORB descriptors,
zero-padded: 11,570 bytes a photo, 1.2 GB for 100,000 photos held at once.

The thumbnail is made from the photo decoded at a reduced JPEG scale no smaller than
`decode_size` (320): that is the reference's own decode for photos of 2,560 pixels or
more on their short side, and within a few thousandths of it for smaller ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from simplugin import AverageDifference, Metric, hookimpl

SIDE = 16
THUMBNAIL_BYTES = SIDE * SIDE * 3
# On the 31 labelled real photos, 150 keypoints found 24 of the 28 true pairs directly,
# 250 and 400 found 26: 300 keeps a margin at 11.3 KiB a photo.
MAX_KEYPOINTS = 300
WORKING_SIDE = 640  # ORB runs on the photo scaled to this long side (the research's size)
COORDINATE_SCALE = 64  # coordinates are kept in 1/64 pixel, as uint16 (640 * 64 < 65536)
COUNT_BYTES = 2
POINT_BYTES = 4  # x and y, uint16 each
DESCRIPTOR_BYTES = 32  # an ORB descriptor: 256 bits
SIGNATURE_BYTES = THUMBNAIL_BYTES + COUNT_BYTES + MAX_KEYPOINTS * (POINT_BYTES + DESCRIPTOR_BYTES)
_POINTS_AT = THUMBNAIL_BYTES + COUNT_BYTES
_DESCRIPTORS_AT = _POINTS_AT + MAX_KEYPOINTS * POINT_BYTES

INLIER_SCALE = 2.0  # a verified pair's distance is INLIER_SCALE / inliers
MIN_MATCHES = 12  # fewer matched keypoints cannot give a homography worth checking
RATIO = 0.8  # a match is kept when its distance is below this share of the second best's
RANSAC_PIXELS = 5.0  # how far (at WORKING_SIDE) a keypoint may land from where the mapping puts it
# A thumbnail whose channels differ by at most this anywhere is grey: a greyscale JPEG
# saved in RGB keeps a little colour noise.
GREY_SPREAD = 10
_LUMA = np.array([299, 587, 114], dtype=np.int32)  # ITU-R 601, as Pillow's convert("L")

_REFERENCE = AverageDifference()
_MISSING = "it needs OpenCV: pip install 'simplugin[keypoints]'"


class KeypointMetric(Metric):
    name = "keypoints"
    description = (
        "the reference pairs, plus re-shots verified by ORB keypoints within a burst,"
        " plus greyscale copies (needs simplugin[keypoints])"
    )
    default_threshold = 0.07
    distance_range = (0.0, 1.0)
    thresholds = {"strict": 0.03, "default": 0.07, "loose": 0.11}
    signature_shape = (SIGNATURE_BYTES,)
    signature_dtype = "uint8"
    decode_size = WORKING_SIDE // 2
    uses_bursts = True

    def unavailable(self) -> str | None:
        try:
            import cv2  # noqa: F401
        except ImportError:
            return _MISSING
        return None

    def signature(self, image: Image.Image) -> np.ndarray:
        row = np.zeros(SIGNATURE_BYTES, dtype=np.uint8)
        row[:THUMBNAIL_BYTES] = np.asarray(image.resize((SIDE, SIDE)), dtype=np.uint8).ravel()
        points, descriptors = _keypoints(image)
        count = len(points)
        row[THUMBNAIL_BYTES:_POINTS_AT] = np.frombuffer(np.uint16(count).tobytes(), np.uint8)
        coordinates = np.round(points * COORDINATE_SCALE).astype("<u2")
        row[_POINTS_AT : _POINTS_AT + count * POINT_BYTES] = coordinates.view(np.uint8).ravel()
        end = _DESCRIPTORS_AT + count * DESCRIPTOR_BYTES
        row[_DESCRIPTORS_AT:end] = descriptors.ravel()
        return row

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        pair = _Signatures(np.stack([a, b]))
        return min(pair.thumbnail_distance(0, 1), pair.keypoint_distance(0, 1))

    def facts(self, a: np.ndarray, b: np.ndarray) -> dict[str, str]:
        pair = _Signatures(np.stack([a, b]))
        agree = _inliers(pair.keypoints(0), pair.keypoints(1), MIN_MATCHES)
        return {
            "thumbnail distance": f"{pair.thumbnail_distance(0, 1):.4f}",
            "keypoints that agree": f"{agree} (distance {INLIER_SCALE}/{agree or 'n'};"
            " counted only for photos of one burst)",
        }

    def pairs_within(
        self, signatures: np.ndarray, threshold: float, burst: bool = False
    ) -> Iterator[tuple[int, int, float]]:
        found = _near(_Signatures(signatures), None, threshold, burst)
        for (i, j), distance in found.items():
            yield i, j, distance

    def pairs_between(
        self, left: np.ndarray, right: np.ndarray, threshold: float, burst: bool = False
    ) -> Iterator[tuple[int, int, float]]:
        found = _near(_Signatures(left), _Signatures(right), threshold, burst)
        for (i, j), distance in found.items():
            yield i, j, distance


def _keypoints(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """The strongest ORB keypoints of the photo at WORKING_SIDE: their coordinates
    (float, n x 2) and descriptors (uint8, n x 32), n <= MAX_KEYPOINTS."""
    cv2 = _opencv()
    grey = image.convert("L")
    scale = WORKING_SIDE / max(grey.size)
    if scale < 1:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    detector = cv2.ORB_create(nfeatures=MAX_KEYPOINTS)
    keypoints, descriptors = detector.detectAndCompute(np.asarray(grey), None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    strongest = sorted(range(len(keypoints)), key=lambda k: -keypoints[k].response)
    strongest = strongest[:MAX_KEYPOINTS]
    points = np.array([keypoints[k].pt for k in strongest], dtype=np.float32)
    return points, descriptors[strongest]


class _Signatures:
    """Rows of keypoint signatures, taken apart: thumbnails (RGB, and grey as three
    equal channels, so the reference's search compares them), and each photo's
    keypoints on demand."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows
        self.thumbnails = np.ascontiguousarray(rows[:, :THUMBNAIL_BYTES]).reshape(-1, SIDE, SIDE, 3)
        spread = self.thumbnails.max(axis=3).astype(np.int16) - self.thumbnails.min(axis=3)
        self.grey = np.flatnonzero(spread.reshape(len(rows), -1).max(axis=1) <= GREY_SPREAD)
        luma = (self.thumbnails.astype(np.int32) @ _LUMA + 500) // 1000
        self.greys = np.repeat(luma.astype(np.uint8)[..., None], 3, axis=3)
        self._keypoints: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def thumbnail_distance(self, i: int, j: int) -> float:
        """The reference distance of photos i and j, or that of their grey thumbnails
        when either is grey and it is smaller."""
        distance = _REFERENCE.distance(self.thumbnails[i], self.thumbnails[j])
        if i in self.grey or j in self.grey:
            distance = min(distance, _REFERENCE.distance(self.greys[i], self.greys[j]))
        return distance

    def keypoints(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self._keypoints:
            row = self.rows[i]
            count = int(row[THUMBNAIL_BYTES:_POINTS_AT].view("<u2")[0])
            points = row[_POINTS_AT : _POINTS_AT + count * POINT_BYTES].view("<u2")
            end = _DESCRIPTORS_AT + count * DESCRIPTOR_BYTES
            self._keypoints[i] = (
                points.reshape(count, 2).astype(np.float32) / COORDINATE_SCALE,
                row[_DESCRIPTORS_AT:end].reshape(count, DESCRIPTOR_BYTES),
            )
        return self._keypoints[i]

    def keypoint_distance(
        self, i: int, j: int, other: _Signatures | None = None, below: float = 1.0
    ) -> float:
        """INLIER_SCALE / the keypoints of i and j (of `other`) that agree on one
        homography; 1.0 when too few do to make it less than `below`."""
        needed = max(MIN_MATCHES, math.floor(min(INLIER_SCALE / below, 1e6)) + 1)
        inliers = _inliers(self.keypoints(i), (other or self).keypoints(j), needed)
        return INLIER_SCALE / inliers if inliers else 1.0


def _inliers(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], needed: int
) -> int:
    """How many keypoints of a (points, descriptors), matched to b's, one RANSAC
    homography maps onto their matches; 0 when fewer than `needed` could.

    A match is kept only when it is clearly better than the keypoint's second best
    (Lowe's ratio test): RANSAC then sees few outliers, and a pair with fewer matches
    than it needs is ruled out before it runs (4 ms a pair instead of 85 on real-dev).
    """
    cv2 = _opencv()
    (points_a, descriptors_a), (points_b, descriptors_b) = a, b
    if min(len(points_a), len(points_b)) < needed:
        return 0
    candidates = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(descriptors_a, descriptors_b, k=2)
    matches = [
        best[0]
        for best in candidates
        if len(best) == 2 and best[0].distance < RATIO * best[1].distance
    ]
    if len(matches) < needed:
        return 0
    source = points_a[[m.queryIdx for m in matches]]
    target = points_b[[m.trainIdx for m in matches]]
    _, inliers = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PIXELS)
    return 0 if inliers is None else int(inliers.sum())


def _opencv() -> Any:
    """OpenCV, on one thread: photos are already read on every core, one process each."""
    import cv2

    cv2.setNumThreads(1)
    return cv2


def _near(
    left: _Signatures, right: _Signatures | None, threshold: float, burst: bool
) -> dict[tuple[int, int], float]:
    """The pairs `(i, j)` nearer than the threshold, each with its smallest distance:
    within `left` (i < j) when `right` is None, else between `left` and `right`."""
    found: dict[tuple[int, int], float] = {}

    def take(i: int, j: int, distance: float) -> None:
        if right is None and i == j:
            return
        key = (min(i, j), max(i, j)) if right is None else (i, j)
        found[key] = min(distance, found.get(key, distance))

    other = left if right is None else right
    if right is None:
        reference = _REFERENCE.pairs_within(left.thumbnails, threshold)
    else:
        reference = _REFERENCE.pairs_between(left.thumbnails, right.thumbnails, threshold)
    for i, j, distance in reference:
        take(i, j, distance)
    # Greyscale: each grey photo against every photo of the other side, by grey thumbnails.
    if len(left.grey):
        for i, j, distance in _REFERENCE.pairs_between(
            left.greys[left.grey], other.greys, threshold
        ):
            take(int(left.grey[i]), j, distance)
    if right is not None and len(right.grey):
        for j, i, distance in _REFERENCE.pairs_between(
            right.greys[right.grey], left.greys, threshold
        ):
            take(i, int(right.grey[j]), distance)
    if burst:
        for i in range(len(left)):
            for j in range(i + 1 if right is None else 0, len(other)):
                if (i, j) not in found:
                    distance = left.keypoint_distance(i, j, other, threshold)
                    if distance < threshold:
                        found[(i, j)] = distance
    return found


@hookimpl
def register_metrics(register):
    register(KeypointMetric())
