"""Walking the scanned folders: which files might be photos, and which cannot be reached.

Photos are recognised by content, not by name, so every regular file is a candidate
except sidecars (.xmp, .aae, .thm, Google Takeout .json), which belong to a photo and
are never photos themselves. The same file reached twice (a hard link, or a followed
symlink) is listed once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from .types import Skipped

SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae", ".thm", ".json"})
# Formats people keep photos in that Pillow may lack a decoder for: a file with one of
# these names that cannot be read is reported, where an unknown .txt is simply ignored.
EXTRA_PHOTO_EXTENSIONS = frozenset(
    {".heic", ".heif", ".avif", ".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2"}
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A regular file that may be a photo."""

    path: str
    size: int
    mtime_ns: int
    named_like_photo: bool  # when unreadable: skipped with a reason, rather than ignored


def photo_extensions() -> frozenset[str]:
    Image.init()
    return frozenset(Image.registered_extensions()) | EXTRA_PHOTO_EXTENSIONS


def walk(roots: tuple[str, ...], follow_symlinks: bool = False) -> Iterator[Candidate | Skipped]:
    """Every candidate file under `roots`, in a stable order, and every path that
    cannot be scanned, with the reason. A root that is a file is always a candidate."""
    extensions = photo_extensions()
    seen: set[tuple[int, int]] = set()

    def candidate(path: str, info: os.stat_result, explicit: bool) -> Iterator[Candidate]:
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            return
        seen.add(identity)
        extension = os.path.splitext(path)[1].lower()
        if extension in SIDECAR_EXTENSIONS and not explicit:
            return
        yield Candidate(path, info.st_size, info.st_mtime_ns, explicit or extension in extensions)

    def folder(path: str, info: os.stat_result) -> Iterator[Candidate | Skipped]:
        identity = (info.st_dev, info.st_ino)
        if identity in seen:  # only reachable through a followed symlink
            yield Skipped(path, "symbolic link to a folder already scanned (a loop?)")
            return
        seen.add(identity)
        try:
            with os.scandir(path) as listing:
                # Links last: a file reached both directly and through a link is
                # then listed under its real path.
                entries = sorted(listing, key=lambda e: (e.is_symlink(), e.name))
        except OSError as error:
            yield Skipped(path, f"cannot open folder: {error.strerror or error}")
            return
        for entry in entries:
            yield from visit(entry.path)

    def visit(path: str, explicit: bool = False) -> Iterator[Candidate | Skipped]:
        try:
            info = os.lstat(path)
        except OSError as error:  # deleted since its folder was listed, for one
            yield Skipped(path, error.strerror or str(error))
            return
        if stat.S_ISLNK(info.st_mode):
            if not (follow_symlinks or explicit):
                yield Skipped(path, "symbolic link, not followed (use --follow-symlinks)")
                return
            try:
                info = os.stat(path)
            except OSError as error:
                yield Skipped(path, f"broken symbolic link: {error.strerror or error}")
                return
        if stat.S_ISDIR(info.st_mode):
            yield from folder(path, info)
        elif stat.S_ISREG(info.st_mode):
            yield from candidate(path, info, explicit)
        elif explicit:
            yield Skipped(path, "not a regular file or folder")

    for root in roots:
        yield from visit(root, explicit=True)
