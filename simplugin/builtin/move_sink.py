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
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simplugin import (
    Journal,
    LeavingFile,
    Move,
    Option,
    OutputIncomplete,
    ScanResult,
    Sink,
    error_reason,
    hookimpl,
    leave_whole,
    leaving,
    leaving_total,
    move,
    printable,
    tell,
)


@dataclass(frozen=True, slots=True)
class PlannedMove:
    move: Move  # absolute paths, for the journal
    file: LeavingFile  # what leaves (its path as the user typed it, for the output)
    shown_target: str  # the target as the user typed the destination


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
                _out(f"would move {printable(item.file.path)} -> {printable(item.shown_target)}")
            tell(leaving_total("would move", [item.file for item in planned]))
        elif not planned:
            tell(leaving_total("moved", []))
        else:
            try:
                roots = [os.path.abspath(root) for root in result.settings.roots]
                # Each source in its real folder, which undo checks is still real.
                journal = Journal.create(destination, roots=roots, real_sources=True)
            except OSError as error:
                raise OutputIncomplete(
                    f"cannot move into {destination}: {error_reason(error)}; nothing was moved"
                ) from error
            by_path = {item.file.path: item for item in planned}
            try:
                moved = leave_whole(
                    [item.file for item in planned],
                    lambda file: _move_one(by_path[file.path], journal),
                    "moved",
                )
            finally:
                journal.close()
            failed += len(planned) - len(moved)
            tell(leaving_total("moved", moved))
            undo = f"simplugin undo {shlex.quote(journal.path)}"
            tell(f"moves journaled in {journal.path}; to put everything back: {undo}")
        if failed:
            raise OutputIncomplete(
                f"{failed} of {len(planned) + len(unmovable)} files could not be moved and"
                " were left where they were"
            )


def _move_one(item: PlannedMove, journal: Journal) -> bool:
    try:
        move(item.move, journal)
    except OSError as error:
        reason = error_reason(error)
        tell(f"could not move {printable(item.file.path)}: {reason}; left where it was")
        return False
    _out(f"moved {printable(item.file.path)} -> {printable(item.shown_target)}")
    return True


def plan(
    result: ScanResult, destination: str
) -> tuple[list[PlannedMove], tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """What to move where (what `simplugin.leaving` chose, each unit under one suffix),
    the duplicates kept whole and the files that cannot move, each with why."""
    roots = result.settings.roots
    chosen = leaving(result)
    planned: list[PlannedMove] = []
    targets: set[str] = set()
    for unit in chosen.units():
        photo = unit[0].photo
        relative = _relative_folder(photo.path, roots)
        stem = os.path.splitext(os.path.basename(photo.path))[0]
        for number in range(10_000):
            names = [_suffixed(os.path.basename(f.path), stem, number) for f in unit]
            shown = [os.path.join(destination, relative, name) for name in names]
            absolute = [os.path.abspath(path) for path in shown]
            if not any(p in targets or os.path.lexists(p) for p in absolute):
                break
        for file, shown_target, target in zip(unit, shown, absolute, strict=True):
            planned.append(PlannedMove(Move(_real_folder(file.path), target), file, shown_target))
            targets.add(target)
    return planned, chosen.kept, chosen.refused


def _real_folder(path: str) -> str:
    """`path` in the real path of its folder (its last component never followed)."""
    absolute = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))


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
