"""The ignore list: pairs of photos the user said are not near-duplicates of each other
(`simplugin ignore`), which every later scan leaves out before it groups.

A photo is known by its content, its size and SHA-256, not by its path: a pair stays
ignored when a photo is renamed or moved, and a byte copy of an ignored photo is ignored
too (it is the same photo). The path each photo had when it was last named to
`simplugin ignore` is kept only to show the list.

The list is the user's decision, not a cache: it lives in `$XDG_DATA_HOME/simplugin`
(`~/.local/share/simplugin/ignored.json`), which `simplugin cache clear` never touches.
It is JSON, written whole or not at all; a list that cannot be read is named in one line
and the scan goes on without it, and `simplugin ignore` refuses to write over it.

A scan hashes only the photos of the pairs it found whose size is a size of the list,
so that a scan with an empty or unrelated list reads no file again.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace

from .errors import OutputIncomplete
from .files import content_of, open_regular
from .identical import Digests
from .output import write_atomically
from .text import error_reason, printable, quoted, tell
from .xdg import simplugin_folder

FORMAT = "simplugin ignore list"
VERSION = 1
FILE_NAME = "ignored.json"
MOST_BYTES = 32 << 20  # about 100,000 pairs: a longer file is not one simplugin wrote


def default_path() -> str:
    return os.path.join(simplugin_folder("data"), FILE_NAME)


@dataclass(frozen=True, slots=True)
class Content:
    """A photo as the list knows it: what its file holds, and where it was last seen."""

    sha256: str
    size: int
    path: str


DigestPair = tuple[str, str]  # two photos' SHA-256, the smaller first


def digest_pair(a: str, b: str) -> DigestPair:
    return (a, b) if a <= b else (b, a)


class UnreadableList(Exception):
    """The list's file exists but is not a list simplugin can read; the message says why."""


@dataclass(frozen=True)
class IgnoreList:
    """The ignored pairs, by content, and the photos they name (by SHA-256)."""

    path: str
    photos: Mapping[str, Content] = field(default_factory=dict)
    pairs: frozenset[DigestPair] = frozenset()

    @property
    def sizes(self) -> frozenset[int]:
        """The sizes of the photos in a pair: only a file of one of them can be in one."""
        return frozenset(self.photos[digest].size for pair in self.pairs for digest in pair)

    def ignores(self, a: str, b: str) -> bool:
        return digest_pair(a, b) in self.pairs

    def with_photos(self, photos: Sequence[Content]) -> tuple[IgnoreList, int]:
        """This list with every pair among `photos` (each seen where it is now), and how
        many of those pairs are new."""
        pairs = {digest_pair(a.sha256, b.sha256) for a, b in itertools.combinations(photos, 2)}
        known = {**self.photos, **{photo.sha256: photo for photo in photos}}
        added = len(pairs - self.pairs)
        return replace(self, photos=known, pairs=self.pairs | pairs), added

    def without(self, digests: Set[str]) -> tuple[IgnoreList, list[DigestPair]]:
        """This list without the pairs that involve any of `digests`, and those pairs."""
        forgotten = sorted(pair for pair in self.pairs if not digests.isdisjoint(pair))
        pairs = self.pairs - set(forgotten)
        named = {digest for pair in pairs for digest in pair}
        photos = {digest: photo for digest, photo in self.photos.items() if digest in named}
        return replace(self, photos=photos, pairs=pairs), forgotten

    def shown(self, pair: DigestPair) -> tuple[str, str]:
        """The paths where the pair's photos were last seen, for a person to read."""
        return (printable(self.photos[pair[0]].path), printable(self.photos[pair[1]].path))


# --- reading and writing the list --------------------------------------------------------


def load(path: str) -> IgnoreList:
    """The list at `path`; an empty one when there is no file. Raises `UnreadableList`
    for a file that is not a regular file, too big, not JSON or not an ignore list."""
    try:
        with open_regular(path) as file:
            data = file.read(MOST_BYTES + 1)
    except FileNotFoundError:
        return IgnoreList(path)
    except OSError as error:
        raise UnreadableList(error_reason(error)) from error
    if len(data) > MOST_BYTES:
        raise UnreadableList(f"larger than {MOST_BYTES >> 20} MiB, too large for an ignore list")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableList(f"not JSON ({error})") from error
    except RecursionError:  # "[[[[..." nested deeper than the parser goes
        raise UnreadableList("not an ignore list (nested too deep)") from None
    return _parsed(path, document)


def _parsed(path: str, document: object) -> IgnoreList:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UnreadableList(f'not a simplugin ignore list (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise UnreadableList(
            f"version {document.get('version')!r}; this simplugin reads version {VERSION}"
        )
    try:
        photos = {
            digest: Content(digest, _whole(entry["size"]), str(entry["path"]))
            for digest, entry in document["photos"].items()
        }
        pairs = frozenset(digest_pair(a, b) for a, b in document["pairs"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UnreadableList(
            f"not a simplugin ignore list ({type(error).__name__}: {error})"
        ) from error
    unknown = next((d for pair in pairs for d in pair if d not in photos), None)
    if unknown is not None:
        raise UnreadableList(f'a pair names a photo that is not in "photos": {quoted(unknown)}')
    return IgnoreList(path, photos, pairs)


def _whole(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"a size must be a whole number, not {value!r}")
    return value


def save(ignore_list: IgnoreList) -> None:
    """Write the list whole, or raise `OutputIncomplete` naming it."""
    named = {digest for pair in ignore_list.pairs for digest in pair}
    document = {
        "format": FORMAT,
        "version": VERSION,
        "photos": {
            digest: {"size": photo.size, "path": photo.path}
            for digest, photo in sorted(ignore_list.photos.items())
            if digest in named
        },
        "pairs": [list(pair) for pair in sorted(ignore_list.pairs)],
    }
    folder = os.path.dirname(os.path.abspath(ignore_list.path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OutputIncomplete(
            f"could not write {printable(ignore_list.path)}: {error_reason(error)}"
        ) from error
    # ASCII: a name that is not valid UTF-8 is kept as its \\udcXX escapes and read back
    write_atomically(ignore_list.path, (json.dumps(document, indent=1) + "\n").encode("ascii"))


def content(path: str) -> Content:
    """What the photo at `path` holds, read through `open_regular` (never a FIFO or a
    device). Raises OSError as opening it would."""
    with open_regular(path) as file:
        found = content_of(file)
    return Content(found["sha256"], found["size"], os.path.abspath(path))


# --- a scan ------------------------------------------------------------------------------


def for_scan(setting: str | os.PathLike | bool | None) -> IgnoreList:
    """The list a scan's `ignore_list` setting names (True: the default one; False or
    None: none). One that cannot be read, or a list named that is not there (the default
    one is not until a pair is marked), is named in one line, and no pair is left out."""
    if not setting:
        return IgnoreList("")
    path = default_path() if setting is True else os.path.expanduser(os.fspath(setting))
    if setting is not True and not os.path.lexists(path):  # a list named but not there
        tell(f"there is no ignore list {printable(path)}; no pair is left out")
    try:
        return load(path)
    except UnreadableList as error:
        tell(f"could not read the ignore list {printable(path)}: {error}; no pair is left out")
        return IgnoreList(path)


def ignored_pairs(
    ignore_list: IgnoreList, pairs: Iterable[tuple[int, int]], digests: Digests
) -> set[tuple[int, int]]:
    """The pairs `(i, j)` of indices into `digests.photos` that the list ignores. Only the
    photos of pairs whose both sizes are sizes of the list are hashed."""
    sizes = ignore_list.sizes
    photos = digests.photos
    return {
        (i, j)
        for i, j in pairs
        if photos[i].size in sizes
        and photos[j].size in sizes
        and (a := digests.of(i)) is not None
        and (b := digests.of(j)) is not None
        and ignore_list.ignores(a, b)
    }
