"""Moving a user's files without ever losing or overwriting one, and undoing it.

Every move is written to a journal (JSON lines, synced to disk) before it starts and
after it ends, so that `undo` can put back every file of a run, even one killed in
the middle. A move never replaces an existing file:

* within one filesystem it is one atomic `renameat2(RENAME_NOREPLACE)`: the file is
  at its old path or at its new one, never at both or neither;
* across filesystems the file is copied beside its target under a temporary name,
  synced, read back and compared (size and SHA-256) with the original, renamed into
  place without replacing anything, and only then removed from where it was.

Anything that fails (permission denied, a full disk) leaves the file where it was.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

JOURNAL_FORMAT = "simplugin-journal"
JOURNAL_VERSION = 1
PARTIAL_SUFFIX = ".simplugin-partial"  # a cross-device copy that is not yet verified
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Move:
    """One file to move. Both paths are absolute."""

    source: str
    target: str


class Journal:
    """An append-only record of moves, one JSON object per line, synced on every write."""

    def __init__(self, path: str):
        self.path = path
        self._file = open(path, "ab")  # closed by close()

    @classmethod
    def create(cls, folder: str, **header: object) -> Journal:
        os.makedirs(folder, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            name = f"simplugin-journal-{stamp}" + (f"-{attempt}" if attempt else "") + ".jsonl"
            path = os.path.join(os.path.abspath(folder), name)
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                continue
            journal = cls(path)
            journal.write(format=JOURNAL_FORMAT, version=JOURNAL_VERSION, **header)
            return journal
        raise FileExistsError(f"{folder}: too many journals named {stamp}")

    def write(self, **entry: object) -> None:
        # Lone surrogates (undecodable file names) become \udcXX escapes, as in the
        # JSON sink, so the journal is valid UTF-8 and reads back the exact names.
        line = json.dumps(entry, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self._file.write(line + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_journal(path: str) -> Iterator[dict]:
    """The entries of a journal; a last line cut short by a crash is ignored."""
    with open(path, "rb") as file:
        lines = file.read().split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if number >= len(lines) - 1:  # the line being written when the run died
                return
            raise ValueError(f"{path}: line {number} is not a journal entry") from None
        if number == 1 and entry.get("format") != JOURNAL_FORMAT:
            raise ValueError(f"{path}: not a simplugin journal")
        yield entry


def move(item: Move, journal: Journal) -> None:
    """Move one file, journaled; raises OSError and leaves the file in place on failure."""
    journal.write(event="moving", source=item.source, target=item.target)
    relocate(item.source, item.target)
    journal.write(event="moved", source=item.source, target=item.target)


def relocate(source: str, target: str) -> None:
    """Move `source` to `target`, which must not exist; it is never overwritten."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        _rename_noreplace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        _copy_verified(source, target)
        os.unlink(source)


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


def _copy_verified(source: str, target: str) -> None:
    partial = target + PARTIAL_SUFFIX
    try:
        digest = hashlib.sha256()
        with open(source, "rb") as original, open(partial, "xb") as copy:
            while chunk := original.read(_CHUNK):
                digest.update(chunk)
                copy.write(chunk)
            copy.flush()
            os.fsync(copy.fileno())
        shutil.copystat(source, partial)
        if (
            os.path.getsize(partial) != os.path.getsize(source)
            or file_hash(partial) != digest.digest()
        ):
            raise OSError(errno.EIO, "the copy differs from the original", partial)
        _rename_noreplace(partial, target)
    except BaseException:
        if os.path.lexists(partial):
            os.unlink(partial)
        raise


def file_hash(path: str) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


# --- undo -------------------------------------------------------------------------------


@dataclass
class UndoReport:
    restored: list[Move]
    refused: list[tuple[Move, str]]  # and why: the file is left where it is


def undo(journal_path: str, dry_run: bool = False) -> UndoReport:
    """Put back every file a journal moved, newest first; safe to run again.

    A file is put back only if nothing is at its original path; if something is, the
    moved file is left where it is and reported. An interrupted move is finished
    backwards: a verified copy whose original is still there is simply removed.
    """
    entries = list(read_journal(journal_path))
    moves = [Move(e["source"], e["target"]) for e in entries if e.get("event") == "moving"]
    journal = None if dry_run else Journal(journal_path)
    report = UndoReport([], [])
    try:
        for item in reversed(list(dict.fromkeys(moves))):
            try:
                outcome = _undo_one(item, journal)
            except OSError as error:
                report.refused.append((item, error.strerror or str(error)))
                continue
            if outcome is True:
                report.restored.append(item)
            elif outcome:
                report.refused.append((item, outcome))
    finally:
        if journal is not None:
            journal.close()
    if not dry_run:
        _remove_emptied_folders(report.restored, os.path.dirname(os.path.abspath(journal_path)))
    return report


def _remove_emptied_folders(restored: list[Move], top: str) -> None:
    """Remove the folders a move created and undo emptied, up to the journal's own."""
    for item in restored:
        folder = os.path.dirname(item.target)
        while folder.startswith(top + os.sep):
            try:
                os.rmdir(folder)  # only ever succeeds on an empty folder
            except OSError:
                break
            folder = os.path.dirname(folder)


def _undo_one(item: Move, journal: Journal | None) -> bool | str | None:
    """True when put back, None when there was nothing to do, else why not."""
    partial = item.target + PARTIAL_SUFFIX
    if journal is not None and os.path.lexists(partial):
        os.unlink(partial)  # the copy that was being made when the run stopped
    moved_exists = os.path.lexists(item.target)
    original_exists = os.path.lexists(item.source)
    if not moved_exists:
        if original_exists:
            return None  # never moved, or already put back
        return "neither the original nor the moved file exists any more"
    if original_exists:
        if os.path.samefile(item.source, item.target) or file_hash(item.source) == file_hash(
            item.target
        ):
            # Stopped after the copy and before removing the original: drop the copy.
            if journal is not None:
                journal.write(event="restoring", source=item.target, target=item.source)
                os.unlink(item.target)
                journal.write(event="restored", source=item.target, target=item.source)
            return True
        return f"a different file is now at {item.source}; the moved file stays at {item.target}"
    if journal is not None:
        journal.write(event="restoring", source=item.target, target=item.source)
        relocate(item.target, item.source)
        journal.write(event="restored", source=item.target, target=item.source)
    return True
