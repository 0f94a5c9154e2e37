"""Moving a user's files without ever losing or overwriting one, and undoing it.

Every move is written to a journal (JSON lines, synced to disk) before it starts and
after it ends, so that `undo` can put back every file of a run, even one killed in
the middle. Only regular files and symbolic links move (a link moves as a link, never
what it points to); anything else (a FIFO, a device, a folder) is refused and stays.
A move never replaces an existing file:

* within one filesystem it is one atomic `renameat2(RENAME_NOREPLACE)`: the file is
  at its old path or at its new one, never at both or neither;
* across filesystems the file is copied beside its target under a short temporary
  name (journaled before it is made), synced, read back and compared (size and
  SHA-256) with the original, journaled as `copied` with its inode, renamed into place
  without replacing anything, and only then removed from where it was.

Anything that fails (permission denied, a full disk) leaves the file where it was.

A journal belongs to its run: its header records a random run id and the destination
folder, which must be the folder the journal is in. `undo` reads and checks the whole
journal before it changes anything, and acts only on what the run recorded doing: a
moved file inside that folder, a regular file (or the link it moved), a temporary
file it made. One line it cannot trust, and it changes nothing at all. A path that
holds anything (a file, a link, a folder) where a file is to be put back is in the
way, judged without following links, unless the journal proves it is the run's own:
the original of a verified copy the run stopped before removing. A journal whose
header says `real_sources` (the move sink's, since it records each source in its real
folder) puts nothing back through a folder that has become a symbolic link.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .files import NotRegularFile, content_of, kind_of, open_regular
from .text import error_reason, human_size, printable

JOURNAL_FORMAT = "simplugin-journal"
JOURNAL_VERSION = 2  # 2 records the run id and destination; 1 (before) is read too
JOURNAL_LIMIT = 128 << 20  # an undo reads a journal up to this size (some 400,000 moves)
LINE_LIMIT = 256 << 10  # and lines up to this (a few paths of PATH_MAX, escaped)
_TEMPORARY_NAME = re.compile(r"\.simplugin-[0-9a-f]{8}-[0-9]+\.tmp\Z")


@dataclass(frozen=True, slots=True)
class Move:
    """One file to move. Both paths are absolute."""

    source: str
    target: str


def is_temporary(name: str) -> bool:
    """Whether `name` is that of a copy being made across filesystems."""
    return _TEMPORARY_NAME.match(os.path.basename(name)) is not None


class Journal:
    """An append-only record of moves, one JSON object per line, synced on every write.

    A sink that moves the user's files makes one with `Journal.create(folder)` in the
    folder it moves them into, hands it to `move` for each file, closes it, and tells
    the user `simplugin undo JOURNAL` puts everything back.
    """

    def __init__(self, file: BinaryIO, path: str, token: str):
        self.path = path
        self.destination = os.path.realpath(os.path.dirname(path))  # moves land inside it
        self._file = file
        self._token = token  # 8 hex digits naming this run's temporary files
        self._temporaries = 0

    @classmethod
    def create(cls, folder: str, **header: object) -> Journal:
        """A new journal in `folder` (made if missing), named after the time, never
        replacing a file; its first line records this run and `header` (the move sink
        records the scanned `roots`). Raises OSError."""
        os.makedirs(folder, exist_ok=True)
        run = secrets.token_hex(16)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        for attempt in range(1000):
            name = f"simplugin-journal-{stamp}" + (f"-{attempt}" if attempt else "") + ".jsonl"
            path = os.path.join(os.path.abspath(folder), name)
            try:
                descriptor = os.open(path, flags, 0o644)
            except FileExistsError:
                continue
            journal = cls(os.fdopen(descriptor, "ab"), path, run[:8])
            destination = os.path.realpath(folder)
            journal.write(
                format=JOURNAL_FORMAT,
                version=JOURNAL_VERSION,
                run=run,
                destination=destination,
                **header,
            )
            return journal
        raise FileExistsError(f"{folder}: too many journals named {stamp}")

    @classmethod
    def reopen(cls, read: JournalRead) -> Journal:
        """The journal `undo` read, to add to. A last line cut short by a crash is
        dropped first, so that the lines undo adds are whole lines."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        descriptor = os.open(read.path, flags)
        try:
            info = os.fstat(descriptor)
            if (info.st_dev, info.st_ino) != read.identity:
                raise OSError(errno.ESTALE, "the journal was replaced while undo read it")
            if info.st_size > read.length:
                os.ftruncate(descriptor, read.length)
            if read.unterminated:
                os.write(descriptor, b"\n")
            return cls(os.fdopen(descriptor, "ab"), read.path, read.token)
        except BaseException:
            os.close(descriptor)
            raise

    def write(self, **entry: object) -> None:
        """Add one line, and sync it to disk before going on."""
        # Lone surrogates (undecodable file names) become \udcXX escapes, as in the
        # JSON sink, so the journal is valid UTF-8 and reads back the exact names.
        line = json.dumps(entry, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self._file.write(line + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def temporary_beside(self, target: str) -> str:
        """An unused name for a copy being made in the folder of `target`: short, so
        that a long file name still fits, and named after this run."""
        for _ in range(10_000):
            self._temporaries += 1
            name = f".simplugin-{self._token}-{self._temporaries}.tmp"
            path = os.path.join(os.path.dirname(target), name)
            if not os.path.lexists(path):
                return path
        raise FileExistsError(errno.EEXIST, "no free temporary name", os.path.dirname(target))

    def close(self) -> None:
        self._file.close()


# --- moving ------------------------------------------------------------------------------


def move(item: Move, journal: Journal) -> None:
    """Move one file or symbolic link, journaled, never replacing anything at the target:
    an atomic rename, or across filesystems a verified copy before the original goes.
    Raises OSError and leaves it in place on failure (NotRegularFile for anything but a
    regular file or a link, which is never touched)."""
    info = os.lstat(item.source)
    link = stat.S_ISLNK(info.st_mode)
    if not link and not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(item.source, f"{kind_of(info)}, not a regular file")
    if not _lands_inside(item.target, journal.destination):
        # A folder of DEST that is a link to elsewhere: the file would leave DEST, and
        # undo, which acts only inside DEST, could not put it back.
        raise OSError(
            errno.EXDEV, f"its target leads out of {journal.destination} through a symbolic link"
        )
    journal.write(event="moving", source=item.source, target=item.target, link=link)
    _relocate_journaled(item.source, item.target, link, journal, finished="moved")


def _lands_inside(target: str, folder: str) -> bool:
    """Whether `target` would be created inside `folder` (a real path): judged on the
    real path of the deepest of its folders that exists, as the move will create the rest."""
    existing, rest = os.path.dirname(target), []
    while not os.path.lexists(existing) and existing != os.path.dirname(existing):
        existing, rest = os.path.dirname(existing), [os.path.basename(existing), *rest]
    real = os.path.join(os.path.realpath(existing), *rest)
    return os.path.commonpath([real, folder]) == folder


def _relocate_journaled(source: str, target: str, link: bool, journal: Journal, finished: str):
    try:
        relocate(source, target, link, journal)
    except OSError:
        # relocate left the file at `source` and removed its copy, if it made one.
        journal.write(event="failed", source=source, target=target)
        raise
    journal.write(event=finished, source=source, target=target)


def relocate(source: str, target: str, link: bool, journal: Journal) -> None:
    """Move `source` (a regular file, or a symbolic link if `link`) to `target`, which
    must not exist; it is never overwritten. On OSError the file is still at `source`."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        _rename_noreplace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        copy = _copy_across(source, target, link, journal)
        try:
            os.unlink(source)
        except OSError:
            _remove_if_same(target, copy)  # the file stays where it was, and only there
            raise


def _rename_noreplace(source: str, target: str) -> None:
    if not _renameat2(source, target):
        # No renameat2 here (not Linux, or a filesystem without RENAME_NOREPLACE): a
        # hard link also refuses to replace a file, and the unlink completes the move.
        os.link(source, target, follow_symlinks=False)
        os.unlink(source)


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
try:
    _libc_renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
except (OSError, AttributeError):
    _libc_renameat2 = None


def _renameat2(source: str, target: str) -> bool:
    """Rename without replacing; False when the system cannot do that atomically."""
    if _libc_renameat2 is None:
        return False
    paths = (os.fsencode(source), os.fsencode(target))
    if _libc_renameat2(_AT_FDCWD, paths[0], _AT_FDCWD, paths[1], _RENAME_NOREPLACE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), source, None, target)


@dataclass(frozen=True, slots=True)
class Copy:
    """A verified copy as the journal records it: the file the copy is (its device and
    inode, kept by the rename into place) and what it holds (see `fingerprint`)."""

    device: int
    inode: int
    fingerprint: dict


def _copy_across(source: str, target: str, link: bool, journal: Journal) -> Copy:
    """Copy `source` to `target` on another filesystem, verified; on failure nothing of
    the copy is left."""
    temporary = journal.temporary_beside(target)
    # Journaled before it exists, so that undo may remove it if this run dies.
    journal.write(event="temporary", source=source, target=target, temporary=temporary)
    written = _make_copy(source, temporary, link)
    landed = False
    try:
        shutil.copystat(source, temporary, follow_symlinks=False)
        info = os.lstat(temporary)
        copy = Copy(info.st_dev, info.st_ino, written)
        if fingerprint(temporary, link) != written:
            raise OSError(errno.EIO, "the copy differs from the original", temporary)
        where = {"device": copy.device, "inode": copy.inode}
        journal.write(event="copied", source=source, target=target, **where, **written)
        _rename_noreplace(temporary, target)
        landed = True
        _sync_folder(os.path.dirname(target))  # the copy is there before the original goes
    except BaseException:
        if landed:
            _remove_if_same(target, copy)
        elif os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    return copy


def _make_copy(source: str, temporary: str, link: bool) -> dict:
    """Copy `source` to the new path `temporary`, synced; what was copied (see
    `fingerprint`). On failure nothing is left at `temporary`, nor ever replaced there."""
    if link:
        points_to = os.readlink(source)
        os.symlink(points_to, temporary)
        return {"points_to": points_to}
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with open_regular(source, follow_symlinks=False) as original:
        descriptor = os.open(temporary, flags, 0o600)
        try:
            with open(descriptor, "wb", closefd=True) as copy:
                written = content_of(original, copy)
                copy.flush()
                os.fsync(copy.fileno())
        except BaseException:
            os.unlink(temporary)
            raise
    return written


def fingerprint(path: str, link: bool) -> dict:
    """What a moved file holds, to know its copy: a link's text, or a regular file's
    size and SHA-256. Never follows a link; raises OSError for anything else."""
    if link:
        return {"points_to": os.readlink(path)}
    with open_regular(path, follow_symlinks=False) as file:
        return content_of(file)


def _remove_if_same(path: str, copy: Copy) -> None:
    """Remove the copy this run made at `path`, and nothing that replaced it since."""
    info = os.lstat(path)
    if (info.st_dev, info.st_ino) == (copy.device, copy.inode):
        os.unlink(path)


def _sync_folder(folder: str) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):  # folders that cannot sync
            raise
    finally:
        os.close(descriptor)


# --- reading a journal back --------------------------------------------------------------


class NotAJournal(ValueError):
    """The file given to undo is not a simplugin journal at all (missing, a FIFO, a
    folder, another kind of file); the message names it."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A journal line undo does not trust, and why; with any of them, undo does nothing."""

    line: int | None  # None: the journal as a whole
    reason: str


@dataclass(slots=True)
class _Attempt:
    """One way of a move (there, or back by undo), as far as the journal tells."""

    copy: Copy | None = None  # the verified copy made across filesystems, if any
    finished: bool = False  # moved there, or restored back
    failed: bool = False  # relocate failed and left the file where it was
    temporaries: list[str] = field(default_factory=list)  # made, maybe never removed


@dataclass(slots=True)
class _Record:
    move: Move
    link: bool  # a symbolic link was moved, as a link
    there: _Attempt = field(default_factory=_Attempt)
    back: _Attempt = field(default_factory=_Attempt)


@dataclass(slots=True)
class JournalRead:
    """A journal, read and checked: what each move it records went through."""

    path: str  # absolute
    identity: tuple[int, int]  # device and inode, so that undo writes to the file it read
    destination: str  # the real path of the folder it is in
    real_sources: bool = False  # the run recorded each source in its real folder
    token: str = ""  # names the temporary files undo makes
    length: int = 0  # bytes up to the end of its last whole line
    unterminated: bool = False  # its last line is whole but has no newline yet
    records: dict[Move, Any] = field(default_factory=dict)  # a _Record for a move run
    named: dict[str, int] = field(default_factory=dict)  # each moved path: its line
    rejected: list[Rejected] = field(default_factory=list)
    real_folders: dict[str, str] = field(default_factory=dict)  # each folder looked up once

    def real_path(self, path: str) -> str:
        """Where `path` really is, judged by its folder: its last component, a link or
        not, is never followed."""
        folder = os.path.dirname(path)
        if folder not in self.real_folders:
            self.real_folders[folder] = os.path.realpath(folder)
        return os.path.join(self.real_folders[folder], os.path.basename(path))


# Checks one entry, its event and move already checked (`_checked_entry`), and records
# what it tells in the JournalRead; returns why it is not trusted, or None.
Take = Callable[[dict, str, Move, "JournalRead", int], "str | None"]


def journal_action(path: str) -> str:
    """What kind of run a journal records, as its header says: "move" (the default, and
    every journal before trash runs) or "trash". Raises NotAJournal."""
    with _open_journal(path) as file:
        header = _parse(file.readline(LINE_LIMIT + 1))
    action = header.get("action", "move") if isinstance(header, dict) else "move"
    return action if isinstance(action, str) else "move"


def read_journal(
    path: str,
    action: str = "move",
    take: Take | None = None,
    events: frozenset[str] | None = None,
) -> JournalRead:
    """Read and check a whole journal of an `action` run; raises NotAJournal. Reads at
    most JOURNAL_LIMIT bytes, a line at a time; a last line cut short by a crash is left
    out. Each entry must name one of `events` and a move (`_checked_entry`); `take`
    checks the rest and records it (by default, those of a move run)."""
    take, events = take or _take, events or _EVENTS
    with _open_journal(path) as file:
        info = os.fstat(file.fileno())
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        read = JournalRead(os.path.abspath(path), (info.st_dev, info.st_ino), folder)
        if info.st_size > JOURNAL_LIMIT:
            size, limit = human_size(info.st_size), human_size(JOURNAL_LIMIT)
            read.rejected.append(Rejected(None, f"it is {size}, more than undo reads ({limit})"))
            return read
        header = file.readline(LINE_LIMIT + 1)
        try:
            run = _check_header(header, path, folder, action)
        except _Refused as refusal:
            read.rejected.append(Rejected(1, str(refusal)))
            return read
        read.token = run[:8] if run else secrets.token_hex(4)
        read.real_sources = _parse(header).get("real_sources") is True
        read.length, read.unterminated = file.tell(), not header.endswith(b"\n")
        for number, (line, whole) in enumerate(_lines(file), start=2):
            entry = _parse(line) if line is not None else _TOO_LONG
            if entry is _NOT_JSON and not whole:
                break  # the line being written when the run died
            if entry is _BLANK:
                why = None
            elif entry is _TOO_LONG:
                why = f"it is longer than {human_size(LINE_LIMIT)}"
            elif entry is _NOT_JSON:
                why = "it is not a journal entry (a JSON object in UTF-8)"
            else:
                checked = _checked_entry(entry, events)
                why = checked if isinstance(checked, str) else take(entry, *checked, read, number)
            if why is not None:
                read.rejected.append(Rejected(number, why))
            read.length, read.unterminated = file.tell(), not whole
    return read


def _open_journal(path: str) -> BinaryIO:
    try:
        return open_regular(path, follow_symlinks=False)
    except FileNotFoundError:
        raise NotAJournal(f"{printable(path)}: no such journal") from None
    except NotRegularFile as error:
        if error.kind == "a symbolic link":  # its folder is the destination: it must be the file
            why = "a symbolic link; give the journal itself"
        else:
            why = f"{error.kind}, not a simplugin journal"
        raise NotAJournal(f"{printable(path)}: {why}") from None
    except OSError as error:
        raise NotAJournal(f"{printable(path)}: {error_reason(error)}") from None


class _Refused(Exception):
    """The journal's header says it cannot be trusted here."""


def _check_header(line: bytes, path: str, folder: str, action: str) -> str | None:
    """The run id a journal's first line records (None for a version-1 journal, whose
    destination is the folder it is in). Raises NotAJournal, or _Refused."""
    header = _parse(line) if len(line) <= LINE_LIMIT else _TOO_LONG
    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        raise NotAJournal(f"{printable(path)}: not a simplugin journal")
    if header.get("action", "move") != action:
        raise _Refused(f"it is not the journal of a {action} run")
    version = header.get("version")
    if version == 1 and type(version) is int:
        return None
    if version != JOURNAL_VERSION or type(version) is not int:
        raise _Refused(f"it is a journal of version {_quoted(version)}, which undo cannot read")
    run, destination = header.get("run"), header.get("destination")
    if not isinstance(run, str) or re.fullmatch("[0-9a-f]{32}", run) is None:
        raise _Refused("its header has no run id")
    if not isinstance(destination, str):
        raise _Refused("its header has no destination folder")
    if destination != folder:
        raise _Refused(
            f"it was written for the destination {_shown(destination)}, but it is in"
            f" {_shown(folder)} (copied or moved from elsewhere?)"
        )
    return run


def _lines(file: BinaryIO) -> Iterator[tuple[bytes | None, bool]]:
    """Each line of `file` (None for one longer than LINE_LIMIT, which is never held in
    memory), and whether it ends with a newline."""
    while line := file.readline(LINE_LIMIT + 1):
        whole = line.endswith(b"\n")
        if len(line) > LINE_LIMIT and not whole:
            while line and not line.endswith(b"\n"):
                line = file.readline(LINE_LIMIT + 1)
            yield None, bool(line)
        else:
            yield line, whole


_NOT_JSON = object()
_TOO_LONG = object()
_BLANK = object()


def _parse(line: bytes) -> object:
    """A journal line as JSON, _BLANK, or _NOT_JSON."""
    if not line.strip():
        return _BLANK
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


def _shown(path: str) -> str:
    """A path from a journal, for one line: printable, and not too long to read."""
    return printable(path if len(path) <= 300 else path[:300] + "…")


def _quoted(value: object) -> str:
    """A value from a journal, for one line: short, and a list or an object by name."""
    if isinstance(value, list | dict):
        return "a JSON array" if isinstance(value, list) else "a JSON object"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:60] + "…"


_EITHER_WAY = frozenset({"temporary", "copied", "failed"})
_EVENTS = _EITHER_WAY | {"moving", "moved", "restoring", "restored"}


def _checked_entry(entry: object, events: frozenset[str]) -> tuple[str, Move] | str:
    """A journal entry's event (one of `events`) and the move it names, both paths
    checked (absolute, canonical, a name this system can hold); or why it is not trusted."""
    if not isinstance(entry, dict):
        return "it is not a journal entry (a JSON object)"
    event = entry.get("event")
    if not isinstance(event, str) or event not in events:
        return f"unknown event {_quoted(event)}"
    for key in ("source", "target"):
        why = _path_problem(entry.get(key))
        if why is not None:
            return f"its {key} {why}"
    return event, Move(entry["source"], entry["target"])


def _take(entry: dict, event: str, item: Move, read: JournalRead, number: int) -> str | None:
    """Check one entry of a move run and add what it tells to `read.records`; why it is
    not trusted, or None."""
    if item.source == item.target:
        return f"its source and target are the same path, {_shown(item.source)}"
    if event == "moving":
        return _start(entry, item, read, number)
    # temporary, copied and failed are written both ways: by a move and by its undo
    there = event == "moved" or (item in read.records and event in _EITHER_WAY)
    record = read.records.get(item if there else Move(item.target, item.source))
    if record is None:
        return f"it names no move started before it ({event} {_shown(item.source)})"
    attempt = record.there if there else record.back
    if event == "temporary":
        return _add_temporary(entry.get("temporary"), item.target, attempt)
    if event == "copied":
        return _add_copy(entry, record, attempt)
    if event == "restoring":  # another undo begins: what an earlier one did is known
        attempt.copy, attempt.finished, attempt.failed = None, False, False
    elif event == "failed":
        attempt.failed, attempt.temporaries = True, []
    else:  # moved or restored
        attempt.finished, attempt.temporaries = True, []
    return None


def _path_problem(value: object) -> str | None:
    if value is None:
        return "is missing"
    if not isinstance(value, str) or not value or "\0" in value:
        return f"is not a path: {_quoted(value)}"
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        return f"is not a file name this system can hold: {_quoted(value)}"
    # POSIX lets a path start with exactly two slashes and mean something else: no run
    # writes one, and it would name a file twice.
    if not os.path.isabs(value) or os.path.normpath(value) != value or value.startswith("//"):
        return f"is not an absolute path: {_shown(value)}"
    return None


def _start(entry: dict, item: Move, read: JournalRead, number: int) -> str | None:
    """A `moving` entry: a move the run started, which undo may put back."""
    link = entry.get("link", False)  # version-1 journals moved only what they called files
    if not isinstance(link, bool):
        return f"its link flag is not true or false: {_quoted(link)}"
    for path in (item.source, item.target):
        if path in read.named:
            return f"{_shown(path)} is already in the move of line {read.named[path]}"
    if read.real_path(item.source) == read.real_path(item.target):
        return f"its source and target are the same file, {_shown(item.target)}"
    destination, real = read.destination, read.real_path(item.target)
    inside = os.path.commonpath([os.path.dirname(real), destination]) == destination
    if not inside or os.path.basename(item.target) in ("", os.curdir, os.pardir):
        return f"the moved file {_shown(item.target)} is not inside {_shown(destination)}"
    if real == read.real_path(read.path):
        return "the moved file is the journal itself"
    why = _kind_problem(item.target, link)
    if why is not None:
        return why
    read.records[item] = _Record(item, link)
    read.named.update({item.source: number, item.target: number})
    return None


def _kind_problem(target: str, link: bool) -> str | None:
    """Why what is at a moved file's path is not what the run moved there."""
    try:
        info = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None  # put back already, or never moved
    except OSError as error:
        return f"the moved file {_shown(target)} cannot be examined: {error_reason(error)}"
    if _is_kind(info, link):
        return None
    moved = "symbolic link" if link else "regular file"
    return f"the moved file {_shown(target)} is {kind_of(info)}, not the {moved} the run moved"


def _is_kind(info: os.stat_result, link: bool) -> bool:
    return stat.S_ISLNK(info.st_mode) if link else stat.S_ISREG(info.st_mode)


def _add_temporary(temporary: object, target: str, attempt: _Attempt) -> str | None:
    why = _path_problem(temporary)
    if why is not None:
        return f"its temporary file {why}"
    if os.path.dirname(temporary) != os.path.dirname(target) or not is_temporary(temporary):
        return f"{_shown(temporary)} is not a temporary file simplugin makes for {_shown(target)}"
    attempt.temporaries.append(temporary)
    return None


def _add_copy(entry: dict, record: _Record, attempt: _Attempt) -> str | None:
    device, inode = entry.get("device"), entry.get("inode")
    held = _held(entry, record.link)
    if held is None or not all(type(n) is int and n >= 0 for n in (device, inode)):
        return "its copy is not recorded with its device, inode and what it holds"
    attempt.copy = Copy(device, inode, held)
    return None


def _held(entry: dict, link: bool) -> dict | None:
    """What a `copied` entry says the copy holds (as `fingerprint` has it), if it says."""
    if link:
        points_to = entry.get("points_to")
        if isinstance(points_to, str) and points_to and "\0" not in points_to:
            return {"points_to": points_to}
        return None
    size, sha256 = entry.get("size"), entry.get("sha256")
    if type(size) is not int or size < 0 or not isinstance(sha256, str):
        return None
    return {"size": size, "sha256": sha256} if re.fullmatch("[0-9a-f]{64}", sha256) else None


# --- undo -------------------------------------------------------------------------------


@dataclass
class UndoReport:
    restored: list[Move]
    refused: list[tuple[Move, str]]  # and why: the file is left where it is
    rejected: list[Rejected]  # lines of the journal not trusted: then nothing was done


def undo(journal_path: str, dry_run: bool = False) -> UndoReport:
    """Put back every file a journal moved, newest first; safe to run again.

    The whole journal is checked first; if any line of it is not trusted, nothing is
    done and the report says why. A file is put back only if nothing at all is at its
    original path; if something is, the moved file is left where it is and reported,
    unless the journal proves that the run stopped between a verified copy and the
    removal of the original: then the copy, identical to it, is removed. Temporary
    copies a killed run left are removed.
    """
    read = read_journal(journal_path)
    partial: list[tuple[Move, str]] = []  # copies an interrupted undo left in the library

    def undo_one(record: _Record, journal: Journal | None) -> bool | str | None:
        if journal is not None:
            for left in _remove_temporaries(record, read):
                partial.append((record.move, _partial_left(left, read)))
        return _undo_one(record, journal, read.real_sources)

    report = undo_records(read, dry_run, undo_one)
    report.refused += partial
    if not dry_run and not report.rejected:
        _remove_emptied_folders(report.restored, read.destination)
    return report


def undo_records(
    read: JournalRead,
    dry_run: bool,
    undo_one: Callable[[Any, Journal | None], bool | str | None],
) -> UndoReport:
    """Undo every record of a journal read and checked, newest first, with `undo_one`
    (given no journal on a dry run): True when it put the file back (or would), None
    when there was nothing to do, else why not. Nothing is done when a line of the
    journal was not trusted. The undo of a move and of a trash run share this."""
    report = UndoReport([], [], read.rejected)
    if report.rejected or not read.records:
        return report
    journal = None
    if not dry_run:
        try:
            journal = Journal.reopen(read)
        except OSError as error:
            report.rejected.append(Rejected(None, f"cannot add to it: {error_reason(error)}"))
            return report
    try:
        for record in reversed(read.records.values()):
            try:
                outcome = undo_one(record, journal)
            except OSError as error:
                report.refused.append((record.move, error_reason(error)))
                continue
            if outcome is True:
                report.restored.append(record.move)
            elif outcome:
                report.refused.append((record.move, outcome))
    finally:
        if journal is not None:
            journal.close()
    return report


def _remove_temporaries(record: _Record, read: JournalRead) -> list[str]:
    """Remove the copies a killed run was making: those the journal records it made,
    still there and of the kind it makes, inside the destination. One outside it (an
    undo killed while copying back into the library) is not removed, since a journal
    cannot prove it is not a file of the user's: it is returned, to be reported."""
    left = []
    for attempt in (record.there, record.back):
        for temporary in attempt.temporaries:
            try:
                info = os.lstat(temporary)
            except FileNotFoundError:
                continue
            real = read.real_path(temporary)
            if os.path.commonpath([real, read.destination]) != read.destination:
                left.append(temporary)
            elif _is_kind(info, record.link):
                os.unlink(temporary)
    return left


def _partial_left(temporary: str, read: JournalRead) -> str:
    return (
        f"an interrupted undo may have left a partial copy at {printable(temporary)};"
        f" undo removes nothing outside {printable(read.destination)}: check it and delete it"
    )


def _remove_emptied_folders(restored: list[Move], top: str) -> None:
    """Remove the folders a move created and undo emptied, up to the journal's own."""
    for item in restored:
        folder = os.path.realpath(os.path.dirname(item.target))
        while folder.startswith(top + os.sep):
            try:
                os.rmdir(folder)  # only ever succeeds on an empty folder
            except OSError:
                break
            folder = os.path.dirname(folder)


def _undo_one(record: _Record, journal: Journal | None, real_sources: bool) -> bool | str | None:
    """True when put back (or it would be, without a journal to write), None when
    there was nothing to do, else why not. A journal that recorded the real folders of
    the sources is never followed through a folder that became a symbolic link."""
    item, there = record.move, record.there
    if there.failed and not there.finished:
        return None  # the move failed and left the file where it was
    moved, original = _lstat(item.target), _lstat(item.source)
    if moved is None:
        if original is not None:
            return None  # never moved, or already put back
        return "neither the original nor the moved file exists any more"
    if not _is_kind(moved, record.link):
        return f"it is {kind_of(moved)} now, not what the run moved there"
    folder = os.path.dirname(item.source)
    if real_sources and os.path.realpath(folder) != folder:
        return (
            f"{printable(folder)} leads elsewhere now (through a symbolic link); the moved"
            f" file stays at {printable(item.target)}"
        )
    if original is None:
        if journal is not None:
            journal.write(event="restoring", source=item.target, target=item.source)
            _relocate_journaled(item.target, item.source, record.link, journal, "restored")
        return True
    if _is_leftover(record, original, moved):
        # Stopped after the verified copy and before removing what it copied: the two
        # are the same bytes, and the one at the original path stays.
        if journal is not None:
            journal.write(event="restoring", source=item.target, target=item.source)
            os.unlink(item.target)
            journal.write(event="restored", source=item.target, target=item.source)
        return True
    what = "a different file" if stat.S_ISREG(original.st_mode) else kind_of(original)
    source, target = printable(item.source), printable(item.target)
    return f"{what} is now at {source}; the moved file stays at {target}"


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _is_leftover(record: _Record, original: os.stat_result, moved: os.stat_result) -> bool:
    """Whether a move (or an undo) stopped between a verified copy and the removal of
    what it copied: the journal records the copy, which is still that same file (by its
    inode), and both paths hold what it recorded, the original never through a link."""
    item = record.move
    if (original.st_dev, original.st_ino) == (moved.st_dev, moved.st_ino):
        return False  # one file by two names: removing either name would lose it
    for attempt, copy in ((record.there, moved), (record.back, original)):
        made = attempt.copy
        if made is None or attempt.finished or attempt.failed:
            continue
        if (copy.st_dev, copy.st_ino) != (made.device, made.inode):
            continue
        if not _is_kind(original, record.link):
            return False
        held = made.fingerprint
        return (
            fingerprint(item.source, record.link) == held == fingerprint(item.target, record.link)
        )
    return False
