"""Opening a user's files safely: only regular files, never a FIFO or a device.

Opening a FIFO blocks until something writes to it, and reading a device (`/dev/zero`
named `IMG_1.jpg`) never ends, so a scan, a move or an undo that opened one by its name
would hang. Every file simplugin reads of the user's is opened here: without blocking,
and checked to be a regular file on the open descriptor itself, so that a file swapped
for a FIFO between a listing and the open is refused too.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from typing import BinaryIO

NOT_REGULAR = "not a regular file"
BLOCK = 1 << 20  # read a file this much at a time: memory stays small whatever its size


class NotRegularFile(OSError):
    """The path holds something other than a regular file (a FIFO, a device, a socket,
    a folder, or a symbolic link where none may be followed). `kind` says which, in a
    user's words ("a FIFO (named pipe)"), as found when the path was opened."""

    def __init__(self, path: str, what: str = NOT_REGULAR, kind: str = NOT_REGULAR):
        super().__init__(errno.EINVAL, what, path)
        self.kind = kind


def open_regular(path: str | os.PathLike, *, follow_symlinks: bool = True) -> BinaryIO:
    """`path` opened for reading in binary, if it is a regular file; else `NotRegularFile`.

    With `follow_symlinks=False` a symbolic link is refused as well (it is not opened
    through). Raises OSError as `open` would for a missing or unreadable file.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP and not follow_symlinks:
            raise NotRegularFile(os.fspath(path), "a symbolic link", "a symbolic link") from None
        raise
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(os.fspath(path), kind=kind_of(info))
        # Regular files never block; reads go back to blocking for clarity's sake.
        os.set_blocking(descriptor, True)
        return open(descriptor, "rb", closefd=True)
    except BaseException:
        os.close(descriptor)
        raise


def kind_of(info: os.stat_result) -> str:
    """What an `lstat` result is, in a user's words, for a one-line refusal."""
    mode = info.st_mode
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def content_of(file: BinaryIO, copy: BinaryIO | None = None) -> dict:
    """What an open file holds, read in blocks to its end: its size and SHA-256 (hex).
    With `copy`, every block is also written there, so copying costs one read."""
    digest = hashlib.sha256()
    size = 0
    while block := file.read(BLOCK):
        digest.update(block)
        size += len(block)
        if copy is not None:
            copy.write(block)
    return {"size": size, "sha256": digest.hexdigest()}
