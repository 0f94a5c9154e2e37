"""`simplugin ignore`: mark photos as not near-duplicates of each other, list what is
marked, and forget it. The list itself is `simplugin.ignored`."""

from __future__ import annotations

import argparse
import os

from ..errors import ExitCode, OutputIncomplete, UsageError
from ..ignored import Content, IgnoreList, UnreadableList, content, default_path, load, save
from ..text import counted, error_reason, printable
from ..text import tell as warn
from .common import command


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "ignore",
        run,
        help="mark photos as not near-duplicates of each other, for every later scan",
        description="Record that these photos are not near-duplicates of one another (every"
        " pair among them): every later scan leaves those pairs out before it groups. A photo"
        " is known by its content (size and SHA-256), so it stays ignored when it is renamed"
        " or moved, and a byte copy of it is ignored too."
        f"\n\nThe list is {default_path()}; 'simplugin cache clear' never touches it.",
    )
    parser.add_argument("photos", nargs="*", metavar="PHOTO", help="two photos or more")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--list",
        action="store_true",
        help="print each ignored pair, with the paths the photos had when marked",
    )
    action.add_argument(
        "--forget",
        action="store_true",
        help="remove every pair that involves these photos (by content or by the path shown"
        " by --list)",
    )
    parser.add_argument("--all", action="store_true", help="with --forget: empty the list")
    parser.add_argument(
        "--ignore-list",
        metavar="PATH",
        default=None,
        help=f"the list to use (default: {default_path()})",
    )


def run(arguments: argparse.Namespace) -> int:
    if arguments.all and not arguments.forget:
        raise UsageError("--all goes with --forget")
    if arguments.list and arguments.photos:
        raise UsageError("--list takes no photo")
    if arguments.forget and bool(arguments.photos) == arguments.all:
        raise UsageError("--forget takes photos, or --all (not both)")
    if not (arguments.list or arguments.forget) and len(arguments.photos) < 2:
        raise UsageError("give two photos or more: each pair among them is marked")
    path = os.path.expanduser(arguments.ignore_list or default_path())
    ignore_list = _loaded(path, writing=not arguments.list)
    if arguments.list:
        return _show(ignore_list)
    if arguments.forget:
        return _forget(ignore_list, arguments.photos)
    return _record(ignore_list, arguments.photos)


def _loaded(path: str, writing: bool) -> IgnoreList:
    try:
        return load(path)
    except UnreadableList as error:
        refusal = "; not writing over it (move it away to start a new list)" if writing else ""
        raise OutputIncomplete(
            f"could not read the ignore list {printable(path)}: {error}{refusal}"
        ) from None


def _show(ignore_list: IgnoreList) -> int:
    if not ignore_list.pairs:
        warn(f"no pair is ignored ({printable(ignore_list.path)})")
    for pair in sorted(ignore_list.pairs, key=ignore_list.shown):
        print("\t".join(ignore_list.shown(pair)))
    return ExitCode.OK


def _contents(paths: list[str]) -> tuple[list[Content], bool]:
    """What each photo holds (one line for each that cannot be read), and whether all
    could be read. A photo given twice, or a byte copy of one given before, counts once."""
    found: dict[str, Content] = {}
    all_read = True
    for path in paths:
        try:
            photo = content(path)
        except OSError as error:
            warn(f"could not read {printable(path)}: {error_reason(error)}")
            all_read = False
            continue
        same = found.setdefault(photo.sha256, photo)
        if same is not photo and same.path != photo.path:
            warn(
                f"{printable(path)} holds the same bytes as {printable(same.path)}:"
                " it is the same photo to the ignore list"
            )
    return list(found.values()), all_read


def _record(ignore_list: IgnoreList, paths: list[str]) -> int:
    photos, all_read = _contents(paths)
    if len(photos) < 2:
        warn("nothing recorded: fewer than two different photos to mark")
        return ExitCode.FAILED
    updated, added = ignore_list.with_photos(photos)
    save(updated)
    pairs = len(photos) * (len(photos) - 1) // 2
    already = f" ({counted(pairs - added, 'pair')} marked before)" if added < pairs else ""
    print(
        f"marked {counted(added, 'pair')} as not duplicates{already} in {printable(updated.path)}"
    )
    return ExitCode.OK if all_read else ExitCode.FAILED


def _forget(ignore_list: IgnoreList, paths: list[str]) -> int:
    """Forget the pairs of the photos named: by what they hold now, and by the path the
    list shows, so that a photo since deleted can still be forgotten."""
    digests, all_found = set(), True
    for path in paths:
        shown_here = {
            d for d, photo in ignore_list.photos.items() if photo.path == os.path.abspath(path)
        }
        try:
            digests.add(content(path).sha256)
        except OSError as error:
            if not shown_here:
                warn(f"could not read {printable(path)}: {error_reason(error)}")
                all_found = False
        digests |= shown_here
    updated, forgotten = ignore_list.without(digests if paths else set(ignore_list.photos))
    if not forgotten:
        about = "the list is empty" if not paths else "no ignored pair involves them"
        warn(f"nothing to forget: {about} ({printable(updated.path)})")
        return ExitCode.OK if all_found else ExitCode.FAILED
    save(updated)
    for pair in forgotten:
        print("forgot\t" + "\t".join(ignore_list.shown(pair)))
    return ExitCode.OK if all_found else ExitCode.FAILED
