"""Writing the files that sinks produce (a JSON result, an HTML report): whole or not at all."""

from __future__ import annotations

import os
import stat
import tempfile

from .errors import OutputIncomplete
from .files import kind_of
from .text import error_reason


def check_replaceable(path: str) -> None:
    """Raise `OutputIncomplete` unless `path` is free or holds a regular file, which a
    sink's output may replace. A device, a FIFO, a folder or a symbolic link there is
    the user's (renaming a file over `/dev/null` would break the whole system), so
    nothing is written in its place."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise OutputIncomplete(f"could not write {path}: {error_reason(error)}") from error
    if not stat.S_ISREG(info.st_mode):
        raise OutputIncomplete(
            f"not writing {path}: it is {kind_of(info)}, which simplugin never replaces;"
            " give the path of a file"
        )


def write_atomically(path: str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it, renamed over it at the
    end, so a reader never sees half a file. Only a regular file is ever replaced (see
    `check_replaceable`); a folder that cannot be written into raises `OutputIncomplete`
    naming `path`."""
    check_replaceable(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=".simplugin-", suffix=os.path.splitext(path)[1], dir=folder
        )
    except OSError as error:
        raise OutputIncomplete(f"could not write {path}: {error_reason(error)}") from error
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # as an ordinary new file, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
