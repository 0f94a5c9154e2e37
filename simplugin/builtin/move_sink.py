"""Move the duplicates out of the library, into a folder you choose, with undo.

`simplugin scan LIBRARY --move-to DEST` moves every member of a group except its
keeper to DEST, at the same path relative to the scanned folder, so that two
`IMG_0001.jpg` from different folders never meet (`LIBRARY/2023/IMG_1.jpg` goes to
`DEST/2023/IMG_1.jpg`; with several scanned folders, under `DEST/<folder name>/`).
A file already at the target is never replaced: the moved one gets a suffix,
`IMG_1 (1).jpg`.

A photo moves with its sidecars (`IMG_1.xmp`, `IMG_1.jpg.xmp`, `IMG_1.aae`, Google
Takeout's `IMG_1.jpg.json`) and with its RAW or JPEG twin of the same name: the pair
is one photo, so if either is a keeper, neither moves. Only regular files and symbolic
links move (a link as a link): a FIFO or a device named like a sidecar is reported and
stays. Every move is journaled in DEST (see `simplugin.Journal`) and `simplugin undo
JOURNAL` puts everything back.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simplugin import (
    RAW_EXTENSIONS,
    FolderListings,
    Journal,
    Move,
    Option,
    OutputIncomplete,
    Photo,
    ScanResult,
    Sink,
    counted,
    error_reason,
    hookimpl,
    human_size,
    kind_of,
    move,
    printable,
    tell,
)

# Formats a camera saves beside a RAW file of the same name.
RAW_TWIN_EXTENSIONS = frozenset({".jpg", ".jpeg", ".heic", ".heif", ".hif"})


@dataclass(frozen=True, slots=True)
class PlannedMove:
    move: Move  # absolute paths, for the journal
    shown_source: str  # the paths as the user typed them, for the output
    shown_target: str
    group: int  # the number of its group in the result, for the total
    size: int  # bytes, for the total
    is_duplicate: bool  # the duplicate photo itself, not a sidecar or twin moving with it


class MoveSink(Sink):
    name = "move"
    changes_files = True
    description = "move every duplicate (never a keeper) into a folder, journaled for undo"
    options = {
        "to": Option(str, "the folder to move duplicates into", required=True),
        "dry_run": Option(bool, "only print what would move; change nothing", default=False),
    }

    def excluded_paths(self, options: Mapping[str, Any]) -> list[str]:
        return [os.path.expanduser(options["to"])]

    def write(self, result: ScanResult, options: Mapping[str, Any]) -> None:
        destination = os.path.expanduser(options["to"])
        if os.path.exists(destination) and not os.path.isdir(destination):
            # Said before a dry run too, which would otherwise promise moves that fail.
            raise OutputIncomplete(
                f"cannot move into {destination}: it is not a folder; nothing was moved"
            )
        planned, kept_whole, unmovable = plan(result, destination)
        for photo, why in kept_whole:
            tell(f"kept {printable(photo)}: {why}")
        for path, why in unmovable:
            tell(f"could not move {printable(path)}: {why}; left where it was")
        failed = len(unmovable)
        if options["dry_run"]:
            for item in planned:
                _out(f"would move {printable(item.shown_source)} -> {printable(item.shown_target)}")
            tell(total("would move", planned))
        elif not planned:
            tell(total("moved", planned))
        else:
            try:
                roots = [os.path.abspath(root) for root in result.settings.roots]
                journal = Journal.create(destination, roots=roots)
            except OSError as error:
                raise OutputIncomplete(
                    f"cannot move into {destination}: {error_reason(error)}; nothing was moved"
                ) from error
            try:
                moved = [item for item in planned if _move_one(item, journal)]
            finally:
                journal.close()
            failed += len(planned) - len(moved)
            tell(total("moved", moved))
            undo = f"simplugin undo {shlex.quote(journal.path)}"
            tell(f"moves journaled in {journal.path}; to put everything back: {undo}")
        if failed:
            raise OutputIncomplete(
                f"{failed} of {len(planned) + len(unmovable)} files could not be moved and"
                " were left where they were"
            )


def total(verb: str, items: list[PlannedMove]) -> str:
    """`moved 8 files (2.9 MiB) in 5 groups: 6 duplicates and 2 sidecars or twins`."""
    if not items:
        return f"{verb} no files"
    others = sum(not item.is_duplicate for item in items)
    text = (
        f"{verb} {counted(len(items), 'file')} ({human_size(sum(i.size for i in items))})"
        f" in {counted(len({item.group for item in items}), 'group')}"
    )
    if others:
        duplicates = counted(len(items) - others, "duplicate")
        text += f": {duplicates} and {counted(others, 'sidecar or twin', 'sidecars or twins')}"
    return text


def _move_one(item: PlannedMove, journal: Journal) -> bool:
    try:
        move(item.move, journal)
    except OSError as error:
        reason = error_reason(error)
        tell(f"could not move {printable(item.shown_source)}: {reason}; left where it was")
        return False
    _out(f"moved {printable(item.shown_source)} -> {printable(item.shown_target)}")
    return True


def plan(
    result: ScanResult, destination: str
) -> tuple[list[PlannedMove], list[tuple[str, str]], list[tuple[str, str]]]:
    """What to move where, the duplicates kept because their twin is a keeper or a file
    that moves with them is protected, and the files that cannot move (not regular
    files), each with why."""
    roots = result.settings.roots
    keepers = {os.path.abspath(group.keep.path) for group in result.groups}
    # A sidecar named after a stem (IMG_1.xmp) can belong to a keeper and a duplicate at
    # once (IMG_1.jpg and IMG_1.png): it stays with the keeper.
    folders = FolderListings()  # each folder listed once
    kept = {os.path.abspath(f) for group in result.groups for f in _unit(group.keep, folders)}
    planned: list[PlannedMove] = []
    sources: set[str] = set()
    targets: set[str] = set()
    kept_whole = []
    unmovable = []
    for group_number, group in enumerate(result.groups):
        for duplicate in group.duplicates:
            photo = duplicate.photo
            unit = _unit(photo, folders)
            keeper_twin = next((f for f in unit if os.path.abspath(f) in keepers), None)
            if keeper_twin is not None and keeper_twin != photo.path:
                kept_whole.append((photo.path, f"its twin {printable(keeper_twin)} is a keeper"))
                continue
            protected = next((f for f in unit if result.settings.protects(f)), None)
            if protected is not None:  # a protected twin or sidecar: the photo stays with it
                kept_whole.append((photo.path, f"{printable(protected)} is protected"))
                continue
            unit = [
                f
                for f in unit
                if os.path.abspath(f) not in sources and os.path.abspath(f) not in kept
            ]
            found = {f: _lstat(f) for f in unit}  # looked at once: kind and size
            refused = {f: why for f, info in found.items() if (why := _unmovable(info))}
            unmovable += refused.items()
            if photo.path in refused:
                continue  # its sidecars stay with it
            unit = [f for f in unit if f not in refused]
            relative = _relative_folder(photo.path, roots)
            stem = os.path.splitext(os.path.basename(photo.path))[0]
            for number in range(10_000):
                names = [_suffixed(os.path.basename(f), stem, number) for f in unit]
                shown = [os.path.join(destination, relative, name) for name in names]
                absolute = [os.path.abspath(path) for path in shown]
                if not any(p in targets or os.path.lexists(p) for p in absolute):
                    break
            for source, shown_target, target in zip(unit, shown, absolute, strict=True):
                planned.append(
                    PlannedMove(
                        Move(os.path.abspath(source), target),
                        source,
                        shown_target,
                        group=group_number,
                        size=found[source].st_size if found[source] else 0,
                        is_duplicate=source == photo.path,
                    )
                )
                sources.add(os.path.abspath(source))
                targets.add(target)
    return planned, kept_whole, unmovable


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None  # gone, or unreadable: the move itself says so


def _unmovable(info: os.stat_result | None) -> str | None:
    """Why a file cannot move: a FIFO, a device, a folder... (never opened); or None."""
    if info is None or stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
        return None
    return f"{kind_of(info)}, not a regular file"


def _unit(photo: Photo, folders: FolderListings) -> list[str]:
    """The photo, its RAW or JPEG twin, and the sidecars of both: what moves together."""
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


def _relative_folder(path: str, roots: tuple[str, ...]) -> str:
    """The folder of `path` relative to the scanned folder it was found under."""
    absolute = os.path.abspath(path)
    for root in roots:
        top = os.path.abspath(root)
        if absolute == top:  # a photo named on the command line
            return ""
        relative = os.path.relpath(os.path.dirname(absolute), top)
        if relative == os.curdir:
            relative = ""
        if not relative.startswith(os.pardir):
            if len(roots) > 1:
                relative = os.path.join(os.path.basename(top) or "root", relative)
            return relative
    return ""


def _suffixed(name: str, stem: str, number: int) -> str:
    """`IMG_1.jpg.xmp` as `IMG_1 (2).jpg.xmp`: one suffix for the photo and its sidecars."""
    if number == 0:
        return name
    if name.lower().startswith(stem.lower()):
        return f"{name[: len(stem)]} ({number}){name[len(stem) :]}"
    base, extension = os.path.splitext(name)
    return f"{base} ({number}){extension}"


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@hookimpl
def register_sinks(register):
    register(MoveSink())
