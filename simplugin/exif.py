"""When a photo was taken, as its EXIF header says (read with exifread).

The capture time is `EXIF DateTimeOriginal`, else `EXIF DateTimeDigitized`, else
`Image DateTime`, with its sub-seconds and UTC offset when the camera wrote them. Only
the EXIF header is read: no maker notes, no thumbnail. The `exif-time` bucketer
compares photos by it; the HTML report shows it. `camera_facts` adds who made the file
(the camera's make and model, the software that last wrote it), for the keeper rule.

The keeper rule asks for the facts of every grouped photo at every scan: while the
engine groups, `camera_facts` answers from the facts it read before (kept in the
signature cache, by path, size and modification time, `remembering_facts`), and reads
only those of new and changed files.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import exifread

from .files import open_regular
from .imaging import MetadataBudget

# exifread logs a warning for every file it does not understand (a PNG without EXIF,
# a GIF...). Those are not problems for a user: the photo simply has no capture time.
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


@dataclass(frozen=True, slots=True)
class CameraFacts:
    """What a photo's EXIF header says of where it comes from: the camera's make and
    model, the software that wrote the file last ("" when the header does not say) and
    when the photo was taken (as `capture_time` gives it)."""

    make: str = ""
    model: str = ""
    software: str = ""
    taken: datetime | None = None


def capture_time(path: str) -> datetime | None:
    """When the photo at `path` was taken, or None when its EXIF does not say.

    The result is aware (it has a `tzinfo`) when the camera wrote a UTC offset, and
    naive, in the camera's local time, when it did not. Raises OSError when the file
    cannot be read or is not a regular file, `Unreadable` when its metadata is over
    the limits of `MetadataBudget`, and may raise anything on EXIF that exifread cannot
    parse.
    """
    return camera_facts(path).taken


CACHE_KIND = "exif:camera-facts:1"  # the facts' entries in the signature cache
_JSON = json.JSONDecoder()
Identity = tuple[str, int, int]  # a file's absolute path, size and modification time
# The facts known of files as they are (`remembering_facts`), None: none known.
_REMEMBERED: ContextVar[MutableMapping[Identity, CameraFacts] | None] = ContextVar(
    "remembered_camera_facts", default=None
)


@contextmanager
def remembering_facts(known: MutableMapping[Identity, CameraFacts]) -> Iterator[None]:
    """While inside, `camera_facts` answers from `known`, by the file's path, size and
    modification time as they are when asked, and adds there what it reads."""
    token = _REMEMBERED.set(known)
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def identity(path: str) -> Identity:
    """The file at `path` as it is now (through a link); raises OSError."""
    status = os.stat(path)
    return os.path.abspath(path), status.st_size, status.st_mtime_ns


def camera_facts(path: str) -> CameraFacts:
    """The camera, software and capture time the EXIF header of `path` names; raises
    as `capture_time` does."""
    known = _REMEMBERED.get()
    if known is None:
        return _read_facts(path)
    found = identity(path)
    if found not in known:
        known[found] = _read_facts(path)
    return known[found]


def encoded(facts: CameraFacts) -> bytes:
    """`facts` as JSON, exactly as `decoded` gives them back."""
    taken = facts.taken.isoformat() if facts.taken is not None else None
    return json.dumps([facts.make, facts.model, facts.software, taken]).encode()


def decoded(value: bytes) -> CameraFacts:
    # The decoder itself, on text: `json.loads` first guesses the bytes' encoding, a third
    # of the time of decoding a group's facts (`encoded` writes ASCII). Not bytes: as
    # `json.loads` does, text is decoded and anything else raises TypeError.
    text = value.decode() if isinstance(value, bytes) else value
    make, model, software, taken = _JSON.decode(text)
    return CameraFacts(
        make, model, software, datetime.fromisoformat(taken) if taken is not None else None
    )


def _read_facts(path: str) -> CameraFacts:
    with open_regular(path) as file:
        # exifread trusts the file's counts and offsets (an ASCII tag 4 GB long is read
        # whole): the budget bounds what it reads, as it does for Pillow.
        tags = exifread.process_file(
            MetadataBudget(file), details=False, extract_thumbnail=False, builtin_types=True
        )
    taken = None
    for date_tag, subsecond_tag, offset_tag in TIME_TAGS:
        taken = _parse(tags.get(date_tag), tags.get(subsecond_tag), tags.get(offset_tag))
        if taken is not None:
            break
    make, model, software = (
        str(tags.get(tag) or "").strip() for tag in ("Image Make", "Image Model", "Image Software")
    )
    return CameraFacts(make, model, software, taken)


def _parse(date: Any, subsecond: Any, offset: Any) -> datetime | None:
    match = _DATE.match(str(date or "").strip())
    try:
        taken = datetime(*(int(part) for part in match.groups()))
    except (AttributeError, ValueError):  # missing, blank, or a camera's "0000:00:00 00:00:00"
        return None
    digits = re.sub(r"\D", "", str(subsecond or ""))
    if digits:
        taken = taken.replace(microsecond=min(999_999, round(float(f"0.{digits}") * 1e6)))
    match = _OFFSET.match(str(offset or "").strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        hours, minutes = int(match.group(2)), int(match.group(3))
        taken = taken.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    return taken
