"""Walking the scanned folders: which files might be photos, and which cannot be reached.

Photos are recognised by content, not by name, so every regular file is a candidate
except sidecars (.xmp, .aae, .thm, Google Takeout .json), which are never photos
themselves: each is attached to the photo it belongs to (`IMG_1.xmp` and
`IMG_1.jpg.xmp` to `IMG_1.jpg`), so that an action on the photo can take it along.
The same file reached twice (a hard link, or a followed symlink) is listed once.

A folder holding a `CACHEDIR.TAG` (the Cache Directory Tagging Specification, which
backup tools such as tar, borg and restic honour) is passed over: it holds copies made
by a program, like the thumbnails of simplugin's HTML report, not the user's photos.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from .imaging import HEIF_EXTENSIONS, RAW_EXTENSIONS
from .types import Skipped

# Longest first: "IMG_1.jpg.supplemental-metadata.json" belongs to "IMG_1.jpg".
SIDECAR_SUFFIXES = (".supplemental-metadata.json", ".xmp", ".aae", ".thm", ".json")
# Formats people keep photos in that Pillow alone cannot read: a file with one of
# these names that cannot be read is reported, where an unknown .txt is simply ignored.
EXTRA_PHOTO_EXTENSIONS = HEIF_EXTENSIONS | RAW_EXTENSIONS | {".avif"}
CACHEDIR_TAG = "CACHEDIR.TAG"
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A regular file that may be a photo."""

    path: str
    size: int
    mtime_ns: int
    named_like_photo: bool  # when unreadable: skipped with a reason, rather than ignored
    sidecars: tuple[str, ...] = ()


def sidecar_owner(name: str) -> str | None:
    """The name of the photo a sidecar file belongs to, or None if it is not a sidecar:
    `IMG_1.jpg.xmp` -> `IMG_1.jpg`, `IMG_1.XMP` -> `IMG_1`."""
    lowered = name.lower()
    for suffix in SIDECAR_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def sidecar_index(folder: str, names: list[str]) -> dict[str, list[str]]:
    """The sidecars among `names`, by the lower-case name of the photo they belong to."""
    index: dict[str, list[str]] = {}
    for name in names:
        owner = sidecar_owner(name)
        if owner is not None:
            index.setdefault(owner.lower(), []).append(os.path.join(folder, name))
    return index


def sidecars_of(path: str, index: dict[str, list[str]]) -> tuple[str, ...]:
    """The sidecars of the photo at `path`: named after the whole name or the stem."""
    name = os.path.basename(path).lower()
    stem = os.path.splitext(name)[0]
    return tuple(sorted(set(index.get(name, []) + index.get(stem, []))))


def photo_extensions() -> frozenset[str]:
    Image.init()
    return frozenset(Image.registered_extensions()) | EXTRA_PHOTO_EXTENSIONS


def walk(
    roots: tuple[str, ...], follow_symlinks: bool = False, exclude: tuple[str, ...] = ()
) -> Iterator[Candidate | Skipped]:
    """Every candidate file under `roots`, in a stable order, and every path that
    cannot be scanned, with the reason. A root that is a file is always a candidate;
    the `exclude` folders are passed over silently."""
    extensions = photo_extensions()
    # Folders are known by identity, so an excluded folder is recognised by any path.
    seen: set[tuple[int, int]] = set()
    for folder in exclude:
        try:
            info = os.stat(folder)
        except OSError:
            continue  # not created yet: nothing in it to pass over
        seen.add((info.st_dev, info.st_ino))

    def candidate(
        path: str, info: os.stat_result, explicit: bool, sidecars: dict[str, list[str]]
    ) -> Iterator[Candidate]:
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            return
        seen.add(identity)
        if sidecar_owner(os.path.basename(path)) is not None and not explicit:
            return
        extension = os.path.splitext(path)[1].lower()
        yield Candidate(
            path,
            info.st_size,
            info.st_mtime_ns,
            named_like_photo=explicit or extension in extensions,
            sidecars=sidecars_of(path, sidecars),
        )

    def folder(path: str, info: os.stat_result) -> Iterator[Candidate | Skipped]:
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            if os.path.islink(path):
                yield Skipped(path, "symbolic link to a folder already scanned (a loop?)")
            return  # otherwise an excluded folder
        seen.add(identity)
        try:
            with os.scandir(path) as listing:
                # Links last: a file reached both directly and through a link is
                # then listed under its real path.
                entries = sorted(listing, key=lambda e: (e.is_symlink(), e.name))
        except OSError as error:
            yield Skipped(path, f"cannot open folder: {error.strerror or error}")
            return
        if any(entry.name == CACHEDIR_TAG for entry in entries) and is_cache(path):
            return
        sidecars = sidecar_index(path, [entry.name for entry in entries])
        for entry in entries:
            yield from visit(entry.path, sidecars=sidecars)

    def visit(
        path: str, explicit: bool = False, sidecars: dict[str, list[str]] | None = None
    ) -> Iterator[Candidate | Skipped]:
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
            if sidecars is None:  # a photo named on the command line: look beside it
                sidecars = sidecars_beside(path)
            yield from candidate(path, info, explicit, sidecars)
        elif explicit:
            yield Skipped(path, "not a regular file or folder")

    for root in roots:
        yield from visit(root, explicit=True)


def sidecars_beside(path: str) -> dict[str, list[str]]:
    """The sidecar index of the folder that holds `path` (see `sidecar_index`)."""
    folder = os.path.dirname(path)
    try:
        return sidecar_index(folder, os.listdir(folder or "."))
    except OSError:
        return {}


def is_cache(folder: str) -> bool:
    """Whether `folder` is tagged as a cache: it holds a CACHEDIR.TAG that starts with
    the specification's signature."""
    try:
        with open(os.path.join(folder, CACHEDIR_TAG), "rb") as tag:
            return tag.read(len(CACHEDIR_SIGNATURE)) == CACHEDIR_SIGNATURE
    except OSError:
        return False


def tag_as_cache(folder: str, made_by: str) -> None:
    """Mark `folder` as a cache with a CACHEDIR.TAG, so that scans and backups skip it."""
    path = os.path.join(folder, CACHEDIR_TAG)
    if not is_cache(folder):
        with open(path, "wb") as tag:
            tag.write(
                CACHEDIR_SIGNATURE
                + f"\n# This folder holds {made_by}, made by simplugin.\n".encode()
                + b"# For information about cache directory tags see https://bford.info/cachedir/\n"
            )
