"""Compare only photos taken close together: bursts by EXIF capture time (exifread).

A near-duplicate is almost always a photo of the same moment: a burst, a retake, an
edit of one shot. Sorting the photos by capture time and starting a new bucket at
every gap longer than `window` (60 s by default) compares each photo with its
neighbours in time instead of with the whole library.

The capture time is read from the EXIF header (see `simplugin.capture_time`). Photos
without one are left to the engine (`--undated`): by default they are compared with
every photo, so an export that lost its EXIF still meets its original.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from simplugin import Bucketer, Option, Photo, capture_time, hookimpl, quoted

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)\Z")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(value: Any) -> float:
    """Seconds from `90`, `90s`, `5m` or `2h`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value).strip().lower())
    if not match:
        raise ValueError(f"expected a duration such as 90s, 5m or 2h, not {quoted(value)}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class ExifTime(Bucketer):
    name = "exif-time"
    description = "compare only photos taken within a window of each other (EXIF time)"
    options = {
        "window": Option(
            duration, "longest gap between two photos of one burst (90s, 5m, 2h)", default=60.0
        ),
    }

    def key(self, path: str) -> float | None:
        try:
            taken = capture_time(path)
        except Exception:
            # exifread can fail on corrupt EXIF; the photo itself is still comparable,
            # so it counts as undated rather than being skipped.
            return None
        if taken is None:
            return None
        # Without an offset, the camera's local time is read as if it were UTC, which
        # keeps the gaps within one camera right.
        return (taken if taken.tzinfo else taken.replace(tzinfo=UTC)).timestamp()

    def describe_key(self, key: float) -> str:
        # Most cameras record no offset: their local time was read as UTC (see `key`).
        return datetime.fromtimestamp(key, UTC).strftime("%Y-%m-%d %H:%M:%S")

    def buckets(
        self, photos: Sequence[Photo], keys: Sequence[Any], options: Mapping[str, Any]
    ) -> list[list[int]]:
        window = options["window"]
        # Picked out and sorted in numpy: a library of 100,000 photos made as many tuples
        # to sort in Python (~0.2 s), and a Python loop to pick the dated ones (~10 ms).
        # A stable sort of the dated photos, in order, breaks ties by index, as sorting
        # (key, index) did.
        every = np.array(keys, dtype=object)
        is_dated = np.not_equal(every, None)
        dated, taken = np.flatnonzero(is_dated), every[is_dated].astype(np.float64)
        order = np.argsort(taken, kind="stable")
        in_time = dated[order].tolist()
        gaps = (np.flatnonzero(np.diff(taken[order]) > window) + 1).tolist()
        if not in_time:
            return []
        starts, ends = [0, *gaps], [*gaps, len(in_time)]
        return [in_time[start:end] for start, end in zip(starts, ends, strict=True)]


@hookimpl
def register_bucketers(register):
    register(ExifTime())
