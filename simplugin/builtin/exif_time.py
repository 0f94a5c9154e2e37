"""Compare only photos taken close together: bursts by EXIF capture time (exifread).

A near-duplicate is almost always a photo of the same moment: a burst, a retake, an
edit of one shot. Sorting the photos by capture time and starting a new bucket at
every gap longer than `window` (60 s by default) compares each photo with its
neighbours in time instead of with the whole library.

The capture time is `EXIF DateTimeOriginal`, else `EXIF DateTimeDigitized`, else
`Image DateTime`, with its sub-seconds and UTC offset when the camera wrote them. Only
the EXIF header is read: no maker notes, no thumbnail. Photos without a capture time
are left to the engine (`--undated`): by default they are compared with every photo,
so an export that lost its EXIF still meets its original.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import exifread

from simplugin import Bucketer, Option, Photo, hookimpl

# exifread logs a warning for every file it does not understand (a PNG without EXIF,
# a GIF...). Those are not problems for a user: a missing time is reported as undated.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

# Each choice: the date tag, then the tags that refine it.
TIME_TAGS = (
    ("EXIF DateTimeOriginal", "EXIF SubSecTimeOriginal", "EXIF OffsetTimeOriginal"),
    ("EXIF DateTimeDigitized", "EXIF SubSecTimeDigitized", "EXIF OffsetTimeDigitized"),
    ("Image DateTime", "EXIF SubSecTime", "EXIF OffsetTime"),
)
# EXIF writes "2022:07:10 07:13:16"; exifread's builtin_types gives "2022-07-10 07:13:16".
_DATE = re.compile(r"(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d):(\d\d):(\d\d)")
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)\Z")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)\Z")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(value: Any) -> float:
    """Seconds from `90`, `90s`, `5m` or `2h`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value).strip().lower())
    if not match:
        raise ValueError(f"expected a duration such as 90s, 5m or 2h, not {value!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def capture_time(path: str) -> float | None:
    """When the photo was taken, in seconds since 1970, or None when it does not say.

    With an offset tag the time is exact (UTC); without one, the camera's local time
    is read as if it were UTC, which keeps the gaps within one camera right.
    """
    with open(path, "rb") as file:
        tags = exifread.process_file(
            file, details=False, extract_thumbnail=False, builtin_types=True
        )
    for date_tag, subsecond_tag, offset_tag in TIME_TAGS:
        taken = _parse(tags.get(date_tag), tags.get(subsecond_tag), tags.get(offset_tag))
        if taken is not None:
            return taken
    return None


def _parse(date: Any, subsecond: Any, offset: Any) -> float | None:
    match = _DATE.match(str(date or "").strip())
    try:
        taken = datetime(*(int(part) for part in match.groups()))
    except (AttributeError, ValueError):  # missing, blank, or a camera's "0000:00:00 00:00:00"
        return None
    zone = UTC
    match = _OFFSET.match(str(offset or "").strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        zone = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    digits = re.sub(r"\D", "", str(subsecond or ""))
    fraction = float(f"0.{digits}") if digits else 0.0
    return taken.replace(tzinfo=zone).timestamp() + fraction


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
            return capture_time(path)
        except Exception:
            # exifread can fail on corrupt EXIF; the photo itself is still comparable,
            # so it counts as undated rather than being skipped.
            return None

    def buckets(
        self, photos: Sequence[Photo], keys: Sequence[Any], options: Mapping[str, Any]
    ) -> list[list[int]]:
        window = options["window"]
        bursts: list[list[int]] = []
        previous = None
        for taken, index in sorted((k, i) for i, k in enumerate(keys) if k is not None):
            if previous is None or taken - previous > window:
                bursts.append([])
            bursts[-1].append(index)
            previous = taken
        return bursts


@hookimpl
def register_bucketers(register):
    register(ExifTime())
