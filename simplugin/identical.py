"""The bytes of the photos in near-duplicate pairs: which pairs are identical copies (the
same bytes, by SHA-256), and each file's digest for the ignore list (`ignored`).

Only photos that are in a pair are hashed, and only when their size says the digest may
matter: another photo of the same size paired with them, or a size of the ignore list.
Files of different sizes cannot hold the same bytes, so most scans hash nothing or a few
files. Each file is read at most once per scan (`Digests` remembers), in blocks (memory
stays small whatever its size), through `open_regular`, so a file swapped for a FIFO is
never waited on. A file that cannot be read now (removed since it was summarised) gets
one line and counts as identical to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .files import content_of, open_regular
from .text import error_reason, printable, tell
from .types import Photo


class Digests:
    """The SHA-256 of the scan's photos, by index, each file read once when first asked
    for. A symbolic link is read through only when the scan followed them."""

    def __init__(self, photos: Sequence[Photo], follow_symlinks: bool):
        self.photos = photos
        self.follow_symlinks = follow_symlinks
        self._known: dict[int, str | None] = {}

    def of(self, index: int) -> str | None:
        """The photo's digest (hex); None, after one line, when it cannot be read."""
        if index not in self._known:
            self._known[index] = file_digest(self.photos[index].path, self.follow_symlinks)
        return self._known[index]


def identical_pairs(pairs: Iterable[tuple[int, int]], digests: Digests) -> set[tuple[int, int]]:
    """The pairs `(i, j)` of indices into `digests.photos` whose files hold the same bytes."""
    photos = digests.photos
    same_size = [(i, j) for i, j in pairs if photos[i].size == photos[j].size]
    return {
        (i, j)
        for i, j in same_size
        if (digest := digests.of(i)) is not None and digest == digests.of(j)
    }


def file_digest(path: str, follow_symlinks: bool) -> str | None:
    """The SHA-256 of the file's bytes; None, after one line, when it cannot be read."""
    try:
        with open_regular(path, follow_symlinks=follow_symlinks) as file:
            return content_of(file)["sha256"]
    except OSError as error:
        tell(f"could not compare the bytes of {printable(path)}: {error_reason(error)}")
        return None
