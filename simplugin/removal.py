"""What leaves the library when a sink removes the duplicates: the choice every sink
that takes files away (a move, the trash) makes the same way.

Each duplicate leaves as a unit: the photo, its RAW or JPEG twin of the same name (the
pair is one photo) and the sidecars of both (`IMG_1.xmp`, `IMG_1.jpg.xmp`, `IMG_1.aae`,
Google Takeout's `IMG_1.jpg.json`). A unit never holds a keeper or a keeper's twin or
sidecar: a duplicate whose twin is a keeper stays, and a sidecar named after a stem
that a keeper shares stays with the keeper. A unit holding a protected file stays
whole. Only regular files and symbolic links leave (a link as a link, never what it
points to): a FIFO, a device or a folder named like a sidecar is refused, never opened.
A duplicate whose file changed since the scan read it (its size, its modification time,
its kind) stays, with its whole unit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .discover import FolderListings
from .files import kind_of
from .imaging import RAW_EXTENSIONS
from .text import counted, human_size, printable, tell
from .types import Photo, ScanResult

# Formats a camera saves beside a RAW file of the same name.
RAW_TWIN_EXTENSIONS = frozenset({".jpg", ".jpeg", ".heic", ".heif", ".hif"})


@dataclass(frozen=True, slots=True)
class LeavingFile:
    """One file that leaves the library, with the duplicate photo it leaves with."""

    path: str  # as the scan found it (as the user typed the folder)
    photo: Photo  # the duplicate whose unit it is part of
    group: int  # the number of its group in the result, for the total
    size: int  # bytes, for the total
    is_duplicate: bool  # the duplicate photo itself, not a sidecar or twin leaving with it


@dataclass(frozen=True, slots=True)
class Leaving:
    """What `leaving` chose: the files that leave, each duplicate's unit together and its
    photo first; the duplicates that stay whole, and why; the files that cannot leave (not
    regular files), and why."""

    files: tuple[LeavingFile, ...]
    kept: tuple[tuple[str, str], ...]
    refused: tuple[tuple[str, str], ...]

    def units(self) -> list[tuple[LeavingFile, ...]]:
        """The files that leave, by the duplicate they leave with, its photo first: a
        sink leaves the rest of a unit where it is when its photo cannot leave."""
        return _by_unit(self.files)


def _by_unit(files: Sequence[LeavingFile]) -> list[tuple[LeavingFile, ...]]:
    units: dict[str, list[LeavingFile]] = {}
    for file in files:
        units.setdefault(file.photo.path, []).append(file)
    return [tuple(unit) for unit in units.values()]


def leave_whole(
    files: Sequence[LeavingFile], send: Callable[[LeavingFile], bool], verb: str
) -> list[LeavingFile]:
    """Send `files` (as `leaving` chose them: each unit together, its photo first) with
    `send`, which says whether the file went; the files that went. When a duplicate
    photo cannot go, the rest of its unit stays with it, one line each ("not `verb` X:
    it stays with its photo"), so that no sidecar or twin is parted from its photo."""
    went: list[LeavingFile] = []
    for unit in _by_unit(files):
        photo, others = (unit[0], unit[1:]) if unit[0].is_duplicate else (None, unit)
        if photo is not None and not send(photo):
            for file in others:
                tell(f"not {verb} {printable(file.path)}: it stays with its photo")
            continue
        went += [*([photo] if photo else []), *(file for file in others if send(file))]
    return went


def leaving(result: ScanResult) -> Leaving:
    """The files a sink that removes duplicates takes out of the library (see the module
    docstring), each looked at once, never opened."""
    keepers = {os.path.abspath(group.keep.path) for group in result.groups}
    # A sidecar named after a stem (IMG_1.xmp) can belong to a keeper and a duplicate at
    # once (IMG_1.jpg and IMG_1.png): it stays with the keeper.
    folders = FolderListings()  # each folder listed once
    kept_files = {os.path.abspath(f) for group in result.groups for f in unit(group.keep, folders)}
    files: list[LeavingFile] = []
    taken: set[str] = set()
    kept, refused = [], []
    for number, group in enumerate(result.groups):
        for duplicate in group.duplicates:
            photo = duplicate.photo
            members = unit(photo, folders)
            keeper_twin = next((f for f in members if os.path.abspath(f) in keepers), None)
            if keeper_twin is not None and keeper_twin != photo.path:
                kept.append((photo.path, f"its twin {printable(keeper_twin)} is a keeper"))
                continue
            protected = next((f for f in members if result.settings.protects(f)), None)
            if protected is not None:  # a protected twin or sidecar: the photo stays with it
                kept.append((photo.path, f"{printable(protected)} is protected"))
                continue
            members = [
                f
                for f in members
                if os.path.abspath(f) not in taken and os.path.abspath(f) not in kept_files
            ]
            found = {f: _lstat(f) for f in members}  # looked at once: kind and size
            cannot = {f: why for f, info in found.items() if (why := _cannot_leave(info))}
            if photo.path in found and photo.path not in cannot:
                why = _changed_since_scan(photo, found[photo.path])
                if why is not None:
                    cannot[photo.path] = why
            refused += cannot.items()
            if photo.path in cannot:
                continue  # its sidecars stay with it
            for path in (f for f in members if f not in cannot):
                info = found[path]
                size = info.st_size if info else 0
                files.append(LeavingFile(path, photo, number, size, path == photo.path))
                taken.add(os.path.abspath(path))
    return Leaving(tuple(files), tuple(kept), tuple(refused))


def leaving_total(verb: str, files: Sequence[LeavingFile]) -> str:
    """`moved 8 files (2.9 MiB) in 5 groups: 6 duplicates and 2 sidecars or twins`."""
    if not files:
        return f"{verb} no files"
    others = sum(not file.is_duplicate for file in files)
    text = (
        f"{verb} {counted(len(files), 'file')} ({human_size(sum(f.size for f in files))})"
        f" in {counted(len({file.group for file in files}), 'group')}"
    )
    if others:
        duplicates = counted(len(files) - others, "duplicate")
        text += f": {duplicates} and {counted(others, 'sidecar or twin', 'sidecars or twins')}"
    return text


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None  # gone, or unreadable: the sink's own attempt says so


def _changed_since_scan(photo: Photo, info: os.stat_result | None) -> str | None:
    """Why the file at a duplicate's path is not the photo the scan read (gone, another
    size or time, another kind: replaced during a long scan, or since the plan), or None.
    A symbolic link the scan followed is judged by what it points to, never opened."""
    if info is None:
        return "no longer there"
    if stat.S_ISLNK(info.st_mode):
        try:
            info = os.stat(photo.path)
        except OSError:
            return "changed since the scan (a symbolic link to nothing now)"
    same = stat.S_ISREG(info.st_mode) and (info.st_size, info.st_mtime_ns) == (
        photo.size,
        photo.mtime_ns,
    )
    return None if same else "changed since the scan"


def _cannot_leave(info: os.stat_result | None) -> str | None:
    """Why a file cannot leave: a FIFO, a device, a folder... (never opened); or None."""
    if info is None or stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
        return None
    return f"{kind_of(info)}, not a regular file"


def unit(photo: Photo, folders: FolderListings) -> list[str]:
    """The photo, its RAW or JPEG twin, and the sidecars of both: what leaves together."""
    folder = os.path.dirname(photo.path)
    listing = folders.of(folder)
    if listing is None:
        return [photo.path, *photo.sidecars]
    stem, extension = os.path.splitext(os.path.basename(photo.path))
    if extension.lower() in RAW_EXTENSIONS:
        twin_extensions = RAW_TWIN_EXTENSIONS
    elif extension.lower() in RAW_TWIN_EXTENSIONS:
        twin_extensions = RAW_EXTENSIONS
    else:
        twin_extensions = frozenset()
    twins = sorted(
        os.path.join(folder, name)
        for name in listing.names
        if os.path.splitext(name)[0].lower() == stem.lower()
        and os.path.splitext(name)[1].lower() in twin_extensions
    )
    members = [photo.path, *twins]
    sidecars = [s for member in members for s in listing.sidecars_of(member)]
    return list(dict.fromkeys(members + sidecars))
