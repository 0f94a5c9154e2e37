"""Send the duplicates to the desktop's trash, with undo.

`simplugin scan LIBRARY --trash` sends every duplicate (never a keeper, never a
protected photo) to the trash with its sidecars and its RAW or JPEG twin, as
`simplugin.leaving` chooses them for the move sink too. The trash is the
freedesktop.org one a file manager shows (Linux): the home trash for files on the home
filesystem, the filesystem's own `.Trash-$uid` for the others (see `simplugin.trash`).
Every file is journaled in `$XDG_STATE_HOME/simplugin/journals`, and
`simplugin undo JOURNAL` puts everything back. A file no trash can take stays where it
is, with one line saying why.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from simplugin import (
    TRASH_SUPPORTED,
    Journal,
    LeavingFile,
    Option,
    OutputIncomplete,
    ScanResult,
    Sink,
    UsageError,
    error_reason,
    hookimpl,
    leave_whole,
    leaving,
    leaving_total,
    printable,
    send_to_trash,
    tell,
    trash_journal,
)


class TrashSink(Sink):
    name = "trash"
    changes_files = True
    description = "send every duplicate (never a keeper) to the desktop's trash, journaled for undo"
    options = {
        "dry_run": Option(bool, "only print what would go to the trash; change nothing", False),
    }

    def write(self, result: ScanResult, options: Mapping[str, Any]) -> None:
        if not TRASH_SUPPORTED:
            raise UsageError(
                "the trash sink works on Linux (freedesktop.org desktops) only for now"
            )
        chosen = leaving(result)
        for photo, why in chosen.kept:
            tell(f"kept {printable(photo)}: {why}")
        for path, why in chosen.refused:
            tell(f"could not trash {printable(path)}: {why}; left where it was")
        files = chosen.files
        if options["dry_run"]:
            for file in files:
                _out(f"would trash {printable(file.path)}")
            tell(leaving_total("would trash", files))
            sent = len(files)
        elif not files:
            tell(leaving_total("trashed", files))
            sent = 0
        else:
            sent = len(_trash_all(result, chosen.files))
        failed = len(chosen.refused) + len(files) - sent
        if failed:
            raise OutputIncomplete(
                f"{failed} of {len(files) + len(chosen.refused)} files could not be sent to"
                " the trash and were left where they were"
            )


def _trash_all(result: ScanResult, files: Sequence[LeavingFile]) -> list[LeavingFile]:
    """Send the files to the trash, unit by unit, under one journal; the files that
    went. The rest of a unit stays with its photo when the photo cannot go."""
    try:
        journal = trash_journal(roots=[str(root) for root in result.settings.roots])
        untouched = os.path.getsize(journal.path)  # its header only
    except OSError as error:
        raise OutputIncomplete(
            f"cannot write the journal of a trash run: {error_reason(error)}; nothing was trashed"
        ) from error
    try:
        trashed = leave_whole(files, lambda file: _trash_one(file, journal), "trashed")
    finally:
        journal.close()
    tell(leaving_total("trashed", trashed))
    if trashed:
        undo = f"simplugin undo {shlex.quote(journal.path)}"
        tell(f"journaled in {journal.path}; to put everything back: {undo}")
    elif os.path.getsize(journal.path) == untouched:
        os.unlink(journal.path)  # nothing was trashed, nor tried: nothing to undo
    return trashed


def _trash_one(file: LeavingFile, journal: Journal) -> bool:
    try:
        where = send_to_trash(file.path, journal)
    except OSError as error:
        tell(f"could not trash {printable(file.path)}: {error_reason(error)}; left where it was")
        return False
    _out(f"trashed {printable(file.path)} -> {printable(where)}")
    return True


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@hookimpl
def register_sinks(register):
    register(TrashSink())
