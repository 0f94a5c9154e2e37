"""`simplugin check-staged`: for git hooks, refuse a commit that adds a near-duplicate."""

from __future__ import annotations

import argparse

from ..engine import scan
from ..errors import ExitCode
from ..imaging import Unreadable, probe
from ..staged import enter_work_tree, scratch_folder, staged_files
from ..text import printable
from ..text import tell as warn
from .common import add_setting_flags, command, given_settings


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "check-staged",
        run,
        help="refuse a git commit that adds a near-duplicate of a photo already committed",
        description="For git hooks (hooks/git/pre-commit, .pre-commit-hooks.yaml): compare the"
        " photos that the commit adds or changes, as staged (not as the working tree has them"
        " now), with each other and with every other photo of the commit, and exit with"
        f" {ExitCode.DUPLICATES} when one is a near-duplicate of another. Photos are recognised"
        " by their content, whatever their names. Run it inside a git work tree.",
    )
    add_setting_flags(
        parser, only=("metric", "threshold"), about="as for 'scan'; no configuration file is read"
    )


def run(arguments: argparse.Namespace) -> int:
    enter_work_tree()
    with scratch_folder() as scratch:
        files = staged_files(scratch)
        if not any(staged.new and is_photo(staged.readable_at) for staged in files):
            return ExitCode.OK
        name_of = {staged.readable_at: staged.name for staged in files}
        new = {staged.readable_at for staged in files if staged.new}
        # Every photo against every other: a copy is a copy whenever it was taken.
        result = scan(list(name_of), **given_settings(arguments), bucketer=None, cache=True)
    clashes = [pair for pair in result.pairs if pair.a.path in new or pair.b.path in new]
    for pair in clashes:
        first, other = (pair.a, pair.b) if pair.a.path in new else (pair.b, pair.a)
        where = "also added by this commit" if other.path in new else "already in the repository"
        warn(
            f"{printable(name_of[first.path])} is a near-duplicate of"
            f" {printable(name_of[other.path])} (distance {pair.distance:.4f}), {where}"
        )
    if clashes:
        warn("commit refused; to commit anyway: git commit --no-verify")
        return ExitCode.DUPLICATES
    return ExitCode.OK


def is_photo(path: str) -> bool:
    """Whether the file is a photo simplugin can read, judged by its content."""
    try:
        probe(path)
    except (OSError, Unreadable):
        return False
    return True
