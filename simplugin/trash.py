"""Sending files to the desktop's trash (the freedesktop.org Trash specification, on
Linux), journaled so that `simplugin undo` can put every one back.

A file goes to the home trash, `$XDG_DATA_HOME/Trash` (`~/.local/share/Trash`), when it
is on the same filesystem; otherwise to the trash of its filesystem's top folder:
`$topdir/.Trash/$uid` when `$topdir/.Trash` is a real folder with the sticky bit set,
else `$topdir/.Trash-$uid`, which must be a real folder of this user's. A file is never
copied from one filesystem to another: if neither trash can take it, it stays.

Each file is trashed as a file manager does it, in the order the specification asks:
its `info/NAME.trashinfo` (the original path and the time) is created without
replacing anything and synced, the journal records it with its inode, and then the
file is renamed to `files/NAME` without replacing anything (`moves`'s rename). If the
rename fails, the .trashinfo this run made is removed and the file stays where it was.

`undo` reads the whole journal first and trusts only what a file manager's "Restore"
would do: a file in `files/` of a trash folder of this user's, whose `.trashinfo` is
beside it in `info/`, names the original path the journal records (on the trash's own
volume, for a per-volume trash) and is the very .trashinfo the run made (its device and
inode). A file the journal says was restored already is never restored again. Anything
at the original path (judged without following links), a folder on its way that is a
symbolic link now, and the file stays in the trash.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
import urllib.parse
from dataclasses import dataclass, field

from . import moves
from .files import NotRegularFile, kind_of, open_regular
from .moves import Journal, JournalRead, Move, UndoReport
from .text import error_reason, printable
from .xdg import base_folder, simplugin_folder

# The specification is that of freedesktop.org desktops: Linux and the BSDs. macOS and
# Windows have trash cans of their own, which this module does not write.
TRASH_SUPPORTED = sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))
NOT_SUPPORTED = "--trash is supported on Linux (freedesktop.org desktops) only for now"
INFO_LIMIT = 64 << 10  # a .trashinfo undo reads (a path of PATH_MAX, percent-encoded)
NAME_LIMIT = 255  # bytes in a file name, on the filesystems a trash is on


@dataclass(frozen=True, slots=True)
class TrashFolder:
    """A trash folder: `files/` and `info/` inside `path`; `top` is the filesystem's top
    folder for a per-volume trash (its .trashinfo paths are relative to it), None for
    the home trash (absolute paths)."""

    path: str
    top: str | None

    def files(self, name: str) -> str:
        return os.path.join(self.path, "files", name)

    def info(self, name: str) -> str:
        return os.path.join(self.path, "info", name + ".trashinfo")


class NoTrash(OSError):
    """No trash folder can take this file without copying it to another filesystem."""


def trash_journal(**header: object) -> Journal:
    """A new journal for a trash run, in `$XDG_STATE_HOME/simplugin/journals`; its header
    says it is one (`action: "trash"`) and records `header` (the sink's `roots`)."""
    return Journal.create(journals_folder(), action="trash", **header)


def journals_folder() -> str:
    return os.path.join(simplugin_folder("state"), "journals")


def send_to_trash(path: str, journal: Journal) -> str:
    """Send the file or symbolic link at `path` to its trash, journaled; where it went.
    Raises OSError (NoTrash, NotRegularFile...) and leaves it where it was on failure."""
    info = os.lstat(path)
    link = stat.S_ISLNK(info.st_mode)
    if not link and not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(path, f"{kind_of(info)}, not a regular file")
    # The real path of its folder: what undo puts it back to, and what the .trashinfo says.
    original = os.path.join(
        os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path)
    )
    folder = trash_folder_for(original, info.st_dev)
    name, made = _write_info(folder, original)
    target = folder.files(name)
    # Its modification time too: a .trashinfo a file manager makes later, after this one
    # is gone, may well get the same inode.
    where = {"device": made.st_dev, "inode": made.st_ino, "info_mtime_ns": made.st_mtime_ns}
    journal.write(
        event="trashing", source=original, target=target, info=folder.info(name), link=link, **where
    )
    try:
        moves._rename_noreplace(original, target)
    except OSError as error:
        _remove_info(folder.info(name), _identity(made))
        journal.write(event="failed", source=original, target=target)
        if error.errno == errno.EXDEV:
            raise NoTrash(
                errno.EXDEV,
                f"its trash {printable(folder.path)} is on another"
                " mount; nothing is copied across filesystems",
            ) from error
        raise
    journal.write(event="trashed", source=original, target=target)
    return target


def _write_info(folder: TrashFolder, original: str) -> tuple[str, os.stat_result]:
    """A free NAME in the trash (free in files/ and info/: `a.jpg`, `a.2.jpg`...) and the
    `info/NAME.trashinfo` made for it, created without replacing anything, synced."""
    recorded = original if folder.top is None else os.path.relpath(original, folder.top)
    text = (
        "[Trash Info]\n"
        f"Path={urllib.parse.quote(os.fsencode(recorded), safe='/')}\n"
        f"DeletionDate={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    ).encode("ascii")
    stem, extension = os.path.splitext(os.path.basename(original))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for number in range(1, 100_000):
        name = _trash_name(stem, extension if number == 1 else f".{number}{extension}")
        if os.path.lexists(folder.files(name)):
            continue
        try:
            descriptor = os.open(folder.info(name), flags, 0o600)
        except FileExistsError:
            continue  # another program's file: the next name
        try:
            os.write(descriptor, text)
            os.fsync(descriptor)
            made = os.fstat(descriptor)
        except BaseException:
            os.close(descriptor)
            os.unlink(folder.info(name))
            raise
        os.close(descriptor)
        return name, made
    raise NoTrash(errno.EEXIST, f"no free name in {printable(folder.path)}")


def _trash_name(stem: str, ending: str) -> str:
    """`stem + ending`, the stem shortened (whole characters) so that `NAME.trashinfo`
    fits in a file name; the .trashinfo keeps the full original path for undo."""
    budget = NAME_LIMIT - len(os.fsencode(ending + ".trashinfo"))
    excess = len(os.fsencode(stem)) - budget
    while excess > 0 and stem:
        cut = max(1, excess // 4)  # a character is at most 4 bytes in UTF-8
        stem = stem[:-cut]
        excess = len(os.fsencode(stem)) - budget
    return stem + ending


# A .trashinfo as the run made it: device, inode and modification time (None in the
# journals of runs that did not record it).
InfoIdentity = tuple[int, int, int | None]


def _identity(info: os.stat_result) -> InfoIdentity:
    return info.st_dev, info.st_ino, info.st_mtime_ns


def _is_made(info: os.stat_result | None, identity: InfoIdentity) -> bool:
    """Whether `info` is that of the .trashinfo the run made."""
    if info is None or (info.st_dev, info.st_ino) != identity[:2]:
        return False
    return identity[2] is None or info.st_mtime_ns == identity[2]


def _remove_info(path: str, identity: InfoIdentity) -> bool:
    """Remove the .trashinfo this run made at `path`, and nothing that replaced it."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not _is_made(info, identity):
        return False
    os.unlink(path)
    return True


# --- which trash -------------------------------------------------------------------------


def home_trash() -> str:
    return os.path.join(base_folder("data"), "Trash")


def trash_folder_for(path: str, device: int) -> TrashFolder:
    """The trash a file on `device` goes to (made if missing); raises NoTrash saying why
    none can take it."""
    home = home_trash()
    if _device_of_nearest(home) == device:
        _make_private(home, parents=True)
        return _with_subfolders(TrashFolder(home, None))
    top = mount_point(os.path.dirname(path), device)
    shared = os.path.join(top, ".Trash")
    if _is_shared_trash(shared):
        try:
            return _with_subfolders(TrashFolder(_make_private(os.path.join(shared, _uid())), top))
        except OSError:
            pass  # the specification's fallback: the user's own trash folder
    try:
        return _with_subfolders(
            TrashFolder(_make_private(os.path.join(top, f".Trash-{_uid()}")), top)
        )
    except OSError as error:
        raise NoTrash(
            error.errno or errno.EPERM,
            f"it is not on the filesystem of the home trash, and the trash of its"
            f" filesystem ({printable(top)}) cannot be used: {error_reason(error)}",
        ) from error


def _uid() -> str:
    return str(os.getuid())


def _device_of_nearest(path: str) -> int | None:
    """The device of `path`, or of the nearest of its folders that exists."""
    while True:
        try:
            return os.stat(path).st_dev
        except (FileNotFoundError, NotADirectoryError):
            if path == os.path.dirname(path):
                return None
            path = os.path.dirname(path)


def mount_point(folder: str, device: int) -> str:
    """The top folder of the filesystem `folder` (a real path) is on: up while the device
    stays the same."""
    folder = os.path.realpath(folder)
    while folder != os.path.dirname(folder):
        parent = os.path.dirname(folder)
        if os.stat(parent).st_dev != device:
            break
        folder = parent
    return folder


def _is_shared_trash(path: str) -> bool:
    """Whether `$topdir/.Trash` is an administrator's trash: a real folder, sticky."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and bool(info.st_mode & stat.S_ISVTX)


def _make_private(path: str, parents: bool = False) -> str:
    """`path`, a folder of this user's (made 0700 if missing), never through a link."""
    try:
        os.makedirs(path, 0o700) if parents else os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    why = _not_private(path)
    if why:
        raise OSError(errno.EPERM, f"{printable(path)} is {why}")
    return path


def _not_private(path: str) -> str | None:
    """Why `path` is not a folder of this user's (a link, a file, another's), or None."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        return f"{kind_of(info)}, not a folder"
    if info.st_uid != os.getuid():
        return "not a folder of this user's"
    return None


def _with_subfolders(folder: TrashFolder) -> TrashFolder:
    for sub in ("files", "info"):
        _make_private(os.path.join(folder.path, sub))
    return folder


def is_trash_folder(path: str) -> TrashFolder | None:
    """`path` (a real path) as a trash folder of this user's, if it is one: the home
    trash, or the `.Trash/$uid` or `.Trash-$uid` of its filesystem's top folder."""
    try:
        if _not_private(path):
            return None
        if path == os.path.realpath(home_trash()):
            return TrashFolder(path, None)
        device = os.lstat(path).st_dev
        parent = os.path.dirname(path)
        name = os.path.basename(path)
        if name == f".Trash-{_uid()}" and mount_point(parent, device) == parent:
            return TrashFolder(path, parent)
        top = os.path.dirname(parent)
        if name == _uid() and os.path.basename(parent) == ".Trash" and _is_shared_trash(parent):
            return TrashFolder(path, top) if mount_point(top, device) == top else None
    except OSError:
        return None
    return None


# --- undo --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Trashed:
    """A file a trash run sent to the trash, as its journal tells."""

    move: Move  # from the original path to files/NAME
    info: str  # info/NAME.trashinfo
    identity: InfoIdentity  # the .trashinfo's device, inode and modification time
    link: bool
    folder: TrashFolder
    failed: bool = False  # the rename failed and left the file where it was
    restored: bool = False  # an undo put it back: final, whatever is in the trash later
    events: list[str] = field(default_factory=list)


def read_journal(journal_path: str) -> JournalRead:
    """A trash run's journal, read and checked: its `records` are keyed by each file's
    move from its original path into the trash. Raises `moves.NotAJournal`."""
    return moves.read_journal(journal_path, action="trash", take=_take, events=_EVENTS)


def undo(journal_path: str, dry_run: bool = False) -> UndoReport:
    """Put back every file a trash journal sent to the trash, newest first; safe to run
    again. Nothing is done if any line of the journal is not trusted (see the module
    docstring); a file whose original path holds anything stays in the trash."""
    return moves.undo_records(read_journal(journal_path), dry_run, _undo_one)


def _undo_one(record: _Trashed, journal: Journal | None) -> bool | str | None:
    """True when put back (or it would be, without a journal), None when there was
    nothing to do, else why not."""
    item = record.move
    if record.restored:
        return None  # a file of the same name trashed since is the user's, not the run's
    in_trash, original = moves._lstat(item.target), moves._lstat(item.source)
    if in_trash is None:
        # Never trashed (a failed or killed run), or put back already: by an earlier
        # undo or by the file manager. A .trashinfo the run left without its file goes.
        if journal is not None:
            _remove_info(record.info, record.identity)
        if original is not None or record.failed:
            return None
        return "neither the original nor the trashed file exists any more"
    if not moves._is_kind(in_trash, record.link):
        return f"it is {kind_of(in_trash)} now, not what the run sent to the trash"
    if not _is_made(moves._lstat(record.info), record.identity):
        return (
            f"{printable(item.target)} is not the file the run trashed: its .trashinfo is not"
            " the one the run made; it stays in the trash"
        )
    if original is not None:
        what = "a different file" if stat.S_ISREG(original.st_mode) else kind_of(original)
        return (
            f"{what} is now at {printable(item.source)}; the trashed file stays at"
            f" {printable(item.target)}"
        )
    why = _folder_problem(os.path.dirname(item.source), in_trash.st_dev)
    if why is not None:
        return f"{why}; the trashed file stays at {printable(item.target)}"
    if journal is not None:
        journal.write(event="restoring", source=item.target, target=item.source)
        try:
            os.makedirs(os.path.dirname(item.source), exist_ok=True)
            moves._rename_noreplace(item.target, item.source)
        except OSError:
            journal.write(event="failed", source=item.target, target=item.source)
            raise
        journal.write(event="restored", source=item.target, target=item.source)
        _remove_info(record.info, record.identity)
    return True


def _folder_problem(folder: str, device: int) -> str | None:
    """Why a file cannot go back into `folder` (the real path the run recorded): a
    folder on its way is a symbolic link now, or it is on another filesystem than the
    trash. Nothing is created before this is known."""
    if os.path.realpath(folder) != folder:
        return f"{printable(folder)} leads elsewhere now (through a symbolic link)"
    if _device_of_nearest(folder) != device:
        return f"{printable(folder)} is on another filesystem than its trash now"
    return None


_EVENTS = frozenset({"trashing", "trashed", "failed", "restoring", "restored"})


def _take(entry: dict, event: str, item: Move, read: JournalRead, number: int) -> str | None:
    """Check one entry of a trash journal and record what it tells; why it is not
    trusted, or None."""
    if event == "trashing":
        return _start(entry, item, read, number)
    record = read.records.get(item) or read.records.get(Move(item.target, item.source))
    if record is None:
        return f"it names no file sent to the trash before it ({event} {moves._shown(item.source)})"
    if event == "failed" and record.move == item:
        record.failed = True
    if event == "restored" and record.move != item:
        record.restored = True
    return None


def _start(entry: dict, item: Move, read: JournalRead, number: int) -> str | None:
    """A `trashing` entry: a file the run sent to the trash, which undo may put back
    only as a file manager would."""
    link, info = entry.get("link", False), entry.get("info")
    device, inode = entry.get("device"), entry.get("inode")
    mtime_ns = entry.get("info_mtime_ns")
    if not isinstance(link, bool):
        return f"its link flag is not true or false: {moves._quoted(link)}"
    if not all(type(n) is int and n >= 0 for n in (device, inode)):
        return "its .trashinfo is not recorded with its device and inode"
    if mtime_ns is not None and type(mtime_ns) is not int:
        return f"its .trashinfo's time is not a number: {moves._quoted(mtime_ns)}"
    why = moves._path_problem(info)
    if why is not None:
        return f"its info {why}"
    for path in (item.source, item.target):
        if path in read.named:
            return f"{moves._shown(path)} is already in the trashing of line {read.named[path]}"
    folder, why = _checked_place(item.target, info)
    if why is not None:
        return why
    if folder.top is not None and not _is_inside(item.source, folder.top):
        trash = moves._shown(folder.path)
        return f"{moves._shown(item.source)} is not on the volume of its trash {trash}"
    why = _in_trash_problem(item, info, link, folder)
    if why is not None:
        return why
    read.records[item] = _Trashed(item, info, (device, inode, mtime_ns), link, folder)
    read.named.update({item.source: number, item.target: number})
    return None


def _checked_place(target: str, info: str) -> tuple[TrashFolder, None] | tuple[None, str]:
    """The trash folder of `target`, if it is `<trash>/files/NAME` of a trash folder of
    this user's and `info` is its `<trash>/info/NAME.trashinfo`; else why not."""
    files, name = os.path.split(target)
    trash_path = os.path.dirname(files)
    real = os.path.realpath(trash_path)
    folder = is_trash_folder(real) if os.path.basename(files) == "files" else None
    place_ok = (
        folder is not None
        and name not in ("", os.curdir, os.pardir)
        and os.path.realpath(files) == os.path.join(real, "files")
    )
    if not place_ok:
        return None, f"{moves._shown(target)} is not in the files of a trash folder of this user's"
    expected = os.path.join(trash_path, "info", name + ".trashinfo")
    if info != expected or os.path.realpath(os.path.dirname(info)) != os.path.join(real, "info"):
        return None, f"its info file {moves._shown(info)} is not {moves._shown(expected)}"
    return folder, None


def _in_trash_problem(item: Move, info: str, link: bool, folder: TrashFolder) -> str | None:
    """Why what is in the trash at the journaled name is not what the run put there:
    another kind of file, or a .trashinfo missing or naming another path."""
    try:
        found = os.lstat(item.target)
    except (FileNotFoundError, NotADirectoryError):
        return None  # restored already, or never trashed
    except OSError as error:
        return f"{moves._shown(item.target)} cannot be examined: {error_reason(error)}"
    if not moves._is_kind(found, link):
        return f"{moves._shown(item.target)} is {kind_of(found)}, not what the run trashed"
    named = _original_in_info(info, folder)
    if named != item.source:
        shown = "no path" if named is None else moves._shown(named)
        return f"its .trashinfo {moves._shown(info)} names {shown}, not {moves._shown(item.source)}"
    return None


def _original_in_info(info: str, folder: TrashFolder) -> str | None:
    """The original path a .trashinfo names (absolute), or None if it names none."""
    try:
        with open_regular(info, follow_symlinks=False) as file:
            text = file.read(INFO_LIMIT + 1)
    except OSError:
        return None
    lines = text.decode("utf-8", "replace").splitlines()
    if len(text) > INFO_LIMIT or not lines or lines[0].strip() != "[Trash Info]":
        return None
    value = next((line[5:] for line in lines if line.startswith("Path=")), None)
    if value is None:
        return None
    path = os.fsdecode(urllib.parse.unquote_to_bytes(value))
    if folder.top is not None and not os.path.isabs(path):
        path = os.path.normpath(os.path.join(folder.top, path))
        # A per-volume trash holds only files of its volume: `../` leads out of it.
        return path if _is_inside(path, folder.top) else None
    return os.path.normpath(path) if os.path.isabs(path) else None


def _is_inside(path: str, top: str) -> bool:
    return os.path.commonpath([path, top]) == top and path != top
