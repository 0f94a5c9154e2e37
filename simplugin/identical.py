"""Which near-duplicate pairs are identical copies: the same bytes, by SHA-256.

Only photos that are in a pair are hashed, and only when another photo of the same size
is paired with them: files of different sizes cannot hold the same bytes, so most scans
hash nothing or a few files. Each file is read once, in blocks (memory stays small
whatever its size), through `open_regular`, so a file swapped for a FIFO is never waited
on. A file that cannot be read now (removed since it was summarised) gets one line and
counts as identical to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .files import content_of, open_regular
from .text import error_reason, printable, tell
from .types import Photo


def identical_pairs(
    photos: Sequence[Photo], pairs: Iterable[tuple[int, int]], follow_symlinks: bool
) -> set[tuple[int, int]]:
    """The pairs `(i, j)` of indices into `photos` whose files hold the same bytes.
    A symbolic link is read through only when the scan followed them."""
    same_size = [(i, j) for i, j in pairs if photos[i].size == photos[j].size]
    digests: dict[int, str | None] = {}
    for index in sorted({index for pair in same_size for index in pair}):
        digests[index] = _digest(photos[index].path, follow_symlinks)
    return {(i, j) for i, j in same_size if digests[i] is not None and digests[i] == digests[j]}


def _digest(path: str, follow_symlinks: bool) -> str | None:
    """The SHA-256 of the file's bytes; None, after one line, when it cannot be read."""
    try:
        with open_regular(path, follow_symlinks=follow_symlinks) as file:
            return content_of(file)["sha256"]
    except OSError as error:
        tell(f"could not compare the bytes of {printable(path)}: {error_reason(error)}")
        return None
