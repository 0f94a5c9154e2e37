"""`simplugin undo` and `simplugin apply`: putting moved or trashed files back, and
moving or trashing the duplicates of a plan."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .. import trash, xmp
from ..engine import deliver, prepare_sinks
from ..errors import ExitCode, UsageError
from ..moves import journal_action, undo
from ..plan import load_plan
from ..plugins import load_plugins
from ..text import printable
from ..text import tell as warn
from ..types import ScanResult
from .common import command, report_problems
from .scan import removal_requests

# --- undo --------------------------------------------------------------------------------


def configure_undo(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "undo",
        run_undo,
        help="put back the files a --move-to or --trash run moved, the sidecars --xmp wrote",
        description="Put every file that a 'scan --move-to', 'scan --trash' or 'apply' run moved"
        " back where it was, newest first, as its journal records (a move's is in the"
        " destination folder; a trash run's in $XDG_STATE_HOME/simplugin/journals). A"
        " 'scan --xmp' run's journal (there too) puts back the bytes of every sidecar it"
        " wrote and removes those it created, unless one changed since. The"
        " whole journal is checked first: a line that does not describe that run's own moves"
        " inside the journal's folder (an edited or copied journal), or a trashed file that is"
        " not in a trash folder of yours with its .trashinfo naming its original path, is"
        " reported, and then nothing is done. Nothing is ever written over: if anything (a"
        " file, a link, a folder) is now at an original path, the moved file is left where it"
        " is and reported. Safe to run again, and works on the journal of an interrupted run.",
    )
    parser.add_argument("journal", metavar="JOURNAL", help="the simplugin-journal-*.jsonl file")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be put back, and change nothing"
    )


def run_undo(arguments: argparse.Namespace) -> int:
    return undo_journal(arguments.journal, dry_run=arguments.dry_run)


def undo_journal(journal: str, dry_run: bool = False) -> int:
    """`simplugin undo JOURNAL`: what it prints and its exit code (the review page's
    Undo runs this too)."""
    try:
        undo_run = {"trash": trash.undo, "xmp": xmp.undo}.get(journal_action(journal), undo)
        report = undo_run(journal, dry_run=dry_run)
    except ValueError as error:  # moves.NotAJournal: the file is no journal at all
        raise UsageError(str(error)) from error
    for rejected in report.rejected:
        where = f", line {rejected.line}" if rejected.line else ""
        warn(f"{printable(journal)}{where}: {rejected.reason}; nothing was put back")
    verb = "would put back" if dry_run else "put back"
    for item in report.restored:
        # A sidecar an xmp run rewrote is put back where it is: no "from".
        where = f" (from {printable(item.target)})" if item.target != item.source else ""
        print(f"{verb} {printable(item.source)}{where}", flush=True)
    for item, reason in report.refused:
        warn(f"left {printable(item.target)}: {reason}")
    if not (report.restored or report.refused or report.rejected):
        warn("nothing to put back: every file of this journal is already where it was")
    return ExitCode.FAILED if report.refused or report.rejected else ExitCode.OK


# --- apply -------------------------------------------------------------------------------


def configure_apply(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "apply",
        run_apply,
        help="carry out a plan exported from the HTML report (or written by --json)",
        description="Move the duplicates of every group in PLAN into DEST (or send them to the"
        " trash), exactly as 'scan --move-to' (or 'scan --trash') would: never a keeper,"
        " with sidecars and RAW/JPEG twins, never replacing a file, journaled for"
        " 'simplugin undo'. Each photo is checked again first: a duplicate that is gone or"
        " changed since the plan was made is left out,"
        " and a group whose keeper is gone or changed is left alone. A path is judged by its"
        " real path (links resolved): a duplicate that is its group's keeper, lies outside"
        " the plan's roots, is a symbolic link or is not a regular file is left where it is,"
        " and a plan naming one photo in two groups is refused. Relative paths are read"
        " from the folder the --json plan was written in (its 'base').",
    )
    parser.add_argument("plan", metavar="PLAN", help="the plan file (JSON)")
    removal = parser.add_mutually_exclusive_group(required=True)
    removal.add_argument("--move-to", metavar="DEST", help="the folder to move duplicates into")
    removal.add_argument(
        "--trash",
        action="store_true",
        help="send the duplicates to the desktop's trash instead (Linux), journaled for undo",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would move, and change nothing"
    )
    parser.add_argument(
        "--protect",
        action="append",
        default=[],
        metavar="PATH",
        help="never move a photo under PATH (repeatable), besides the folders the scan"
        " that made the plan protected, which the plan records",
    )


def run_apply(arguments: argparse.Namespace) -> int:
    return apply_plan(
        lambda: load_plan(arguments.plan, protect=arguments.protect),
        arguments.move_to,
        to_trash=arguments.trash,
        dry_run=arguments.dry_run,
    )


def apply_plan(
    plan: Callable[[], ScanResult],
    move_to: str | None,
    to_trash: bool = False,
    dry_run: bool = False,
) -> int:
    """`simplugin apply PLAN --move-to DEST` (or `--trash`): the `plan` loaded (by
    `load_plan`, which checks every photo again) once the move is known to be possible,
    carried out by the move (or trash) sink, which journals it; what it prints and its
    exit code. The review page's "Move to folder" runs this too."""
    host = load_plugins()
    report_problems(host, since=0)
    sinks = prepare_sinks(host, removal_requests(move_to, to_trash, dry_run))
    result = plan()
    for skipped in result.skipped:
        warn(f"skipped {printable(skipped.path)}: {skipped.reason}")
    failures = deliver(host, result, sinks)
    for failure in failures:
        warn(f"error: {failure}")
    return ExitCode.FAILED if failures or result.skipped else ExitCode.OK
