"""Writing the files that sinks produce (a JSON result, an HTML report): whole or not at all."""

from __future__ import annotations

import os
import tempfile

from .errors import OutputIncomplete
from .text import error_reason


def write_atomically(path: str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it, renamed over it at the
    end, so a reader never sees half a file. A folder that cannot be written into raises
    `OutputIncomplete` naming `path`."""
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
