"""Which photo of a group to keep: the rule the user says with `--keep` (`keep =`).

The criteria are taken in order, and the first that tells the photos apart decides;
the path decides last, so the choice is stable from run to run. By default the camera's
own file is kept over any edited or exported copy, then the photo with the most pixels,
then the largest file (the least compressed), then the shortest path. It answers last,
so any other plugin's `choose_keeper` takes precedence.

Only the photos of a group are asked for their EXIF header, once each, and only when a
criterion needs it (original, oldest, newest); only they are decoded for their
sharpness, when `sharpest` is a criterion (`simplugin.sharpness`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from simplugin import (
    RAW_EXTENSIONS,
    CameraFacts,
    Photo,
    ScanSettings,
    Unreadable,
    camera_facts,
    hookimpl,
    sharpness,
)

# What a camera writes itself (Pillow's format names); a PNG, WebP or TIFF is an export.
CAMERA_FORMATS = frozenset({"JPEG", "MPO", "HEIF", "AVIF"})
# Software that edits or re-exports a photo, as its EXIF Software tag names it (lower
# case, any part of the tag). A messenger mostly strips the header: no make, no model.
EDITORS = (
    "photoshop",
    "lightroom",
    "gimp",
    "snapseed",
    "affinity",
    "pixelmator",
    "darktable",
    "rawtherapee",
    "capture one",
    "luminar",
    "dxo",
    "on1 ",
    "acdsee",
    "paint.net",
    "picasa",
    "irfanview",
    "xnview",
    "imagemagick",
    "graphicsmagick",
    "photoscape",
    "picsart",
    "vsco",
    "facetune",
    "canva",
    "instagram",
    "whatsapp",
    "telegram",
    "facebook",
)
_EPOCH = datetime(1, 1, 1)


class _Facts:
    """The EXIF facts of a group's photos, each read when first asked for."""

    def __init__(self) -> None:
        self.read: dict[str, CameraFacts] = {}

    def of(self, photo: Photo) -> CameraFacts:
        if photo.path not in self.read:
            try:
                self.read[photo.path] = camera_facts(photo.path)
            except Exception:  # a header exifread cannot parse says nothing of the camera
                self.read[photo.path] = CameraFacts()
        return self.read[photo.path]


def is_original(photo: Photo, facts: _Facts) -> bool:
    """A camera's own file: a RAW, or a JPEG/HEIC whose EXIF names the camera and the
    capture time, and no editor or messenger as the software that wrote it last. The
    EXIF is read only when the file's kind leaves the question open."""
    if os.path.splitext(photo.path)[1].lower() in RAW_EXTENSIONS:
        return True
    if photo.format not in CAMERA_FORMATS:
        return False
    camera = facts.of(photo)
    software = camera.software.lower()
    return bool(camera.make and camera.model and camera.taken) and not any(
        editor in software for editor in EDITORS
    )


def _seconds(taken: datetime) -> float:
    """The capture time as a number, in the camera's local time (an offset, when the
    camera wrote one, is left aside: photos of one group come from one place)."""
    return (taken.replace(tzinfo=None) - _EPOCH).total_seconds()


def _by_time(facts: _Facts, sign: int) -> Callable[[Photo], Any]:
    """Oldest first (sign 1) or newest first (-1): by capture time, a photo without one
    after those with one, then by the file's modification time."""

    def key(photo: Photo) -> tuple:
        taken = facts.of(photo).taken
        captured = (0, sign * _seconds(taken)) if taken else (1, 0.0)
        return (*captured, sign * photo.mtime_ns)

    return key


def _under(folder: str) -> Callable[[Photo], int]:
    """0 for a photo under `folder` (by its path as written, never through a link)."""
    root = os.path.abspath(os.path.expanduser(folder))

    def key(photo: Photo) -> int:
        path = os.path.abspath(photo.path)
        return 0 if os.path.commonpath([path, root]) == root else 1

    return key


def _sharpest(photo: Photo) -> float:
    """The sharper first; a photo that cannot be decoded now, last."""
    try:
        return -sharpness(photo.path)
    except (Unreadable, OSError):
        return float("inf")


def criterion_keys(criteria: Sequence[str], facts: _Facts) -> list[Callable[[Photo], Any]]:
    """How each criterion ranks a photo: the smaller, the more it should be kept."""
    # The table is made once per group, not once per criterion: a library of 100,000
    # photos has some 3,000 groups, and the rule has four criteria by default.
    keys: dict[str, Callable[[Photo], Any]] = {
        "original": lambda photo: 0 if is_original(photo, facts) else 1,
        "oldest": _by_time(facts, 1),
        "newest": _by_time(facts, -1),
        "largest": lambda photo: -photo.pixels,
        "biggest-file": lambda photo: -photo.size,
        "shortest-path": lambda photo: len(photo.path),
        "sharpest": _sharpest,
    }
    return [
        _under(criterion[len("path:") :].strip())
        if criterion.startswith("path:")
        else keys[criterion]
        for criterion in criteria
    ]


@hookimpl(trylast=True)
def choose_keeper(photos: Sequence[Photo], settings: ScanSettings) -> Photo:
    keys = criterion_keys(settings.keep, _Facts())
    return min(photos, key=lambda photo: (*[key(photo) for key in keys], photo.path))
