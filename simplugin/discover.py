"""Walking the scanned folders: which files might be photos, and which cannot be reached.

Photos are recognised by content, not by name, so every regular file is a candidate
except sidecars (.xmp, .aae, .thm, Google Takeout .json), which are never photos
themselves: each is attached to the photo it belongs to (`IMG_1.xmp` and
`IMG_1.jpg.xmp` to `IMG_1.jpg`), so that an action on the photo can take it along.
The same file reached twice (a hard link, or a followed symlink) is listed once.

A folder holding a `CACHEDIR.TAG` (the Cache Directory Tagging Specification, which
backup tools such as tar, borg and restic honour) is passed over: it holds copies made
by a program, like the thumbnails of simplugin's HTML report, not the user's photos.

What the user excludes is passed over silently too (`Excludes`): a folder or file named
by its path, and anything under a root whose path relative to that root matches a
pattern: by default those of `settings.DEFAULT_EXCLUDES`, the folders where NAS boxes,
desktops, trashes and photo programs keep their own copies of photos.
"""

from __future__ import annotations

import operator
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from PIL import Image

from .files import kind_of, open_regular
from .imaging import HEIF_EXTENSIONS, RAW_EXTENSIONS
from .text import error_reason
from .types import Skipped

# Longest first: "IMG_1.jpg.supplemental-metadata.json" belongs to "IMG_1.jpg".
SIDECAR_SUFFIXES = (".supplemental-metadata.json", ".xmp", ".aae", ".thm", ".json")
# Formats people keep photos in that Pillow alone cannot read: a file with one of
# these names that cannot be read is reported, where an unknown .txt is simply ignored.
EXTRA_PHOTO_EXTENSIONS = HEIF_EXTENSIONS | RAW_EXTENSIONS | {".avif"}
CACHEDIR_TAG = "CACHEDIR.TAG"
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


GLOB_CHARACTERS = frozenset("*?[")


class Candidate(NamedTuple):
    """A regular file that may be a photo. (A NamedTuple, immutable like a frozen
    dataclass, is made about twice as fast: a walk makes one per file.)"""

    path: str
    size: int
    mtime_ns: int
    named_like_photo: bool  # when unreadable: skipped with a reason, rather than ignored
    sidecars: tuple[str, ...] = ()


def sidecar_owner(name: str) -> str | None:
    """The name of the photo a sidecar file belongs to, or None if it is not a sidecar:
    `IMG_1.jpg.xmp` -> `IMG_1.jpg`, `IMG_1.XMP` -> `IMG_1`."""
    lowered = name.lower()
    if not lowered.endswith(SIDECAR_SUFFIXES):  # most names, in one test
        return None
    for suffix in SIDECAR_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


@dataclass(frozen=True, slots=True)
class FolderListing:
    """The names in one folder, and its sidecars by the lower-case name of the photo
    they belong to: a folder is listed once for all the photos in it."""

    folder: str
    names: tuple[str, ...]
    sidecars: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, folder: str, names: Iterable[str]) -> FolderListing:
        """The listing of `folder`, which holds `names`."""
        names = tuple(names)
        index: dict[str, list[str]] = {}
        # Most folders hold no sidecar: one search of all their names, in C, tells.
        lowered = "/".join(names).lower()
        if any(suffix in lowered for suffix in SIDECAR_SUFFIXES):
            for name in names:
                owner = sidecar_owner(name)
                if owner is not None:
                    index.setdefault(owner.lower(), []).append(os.path.join(folder, name))
        return cls(folder, names, {owner: tuple(paths) for owner, paths in index.items()})

    @classmethod
    def read(cls, folder: str) -> FolderListing:
        """List `folder` (`""` is the current folder); raises OSError."""
        return cls.of(folder, os.listdir(folder or "."))

    def sidecars_of(self, path: str) -> tuple[str, ...]:
        """The sidecars of the photo at `path`, in this folder: named after its whole
        name (`IMG_1.jpg.xmp`) or its stem (`IMG_1.xmp`)."""
        if not self.sidecars:  # most folders: a walk asks for each of their photos
            return ()
        name = os.path.basename(path).lower()
        stem = os.path.splitext(name)[0]
        return tuple(sorted({*self.sidecars.get(name, ()), *self.sidecars.get(stem, ())}))


class FolderListings:
    """Folders listed on first use, once each, for looking beside many photos: a sink
    taking sidecars along, a plan's photos checked again."""

    def __init__(self) -> None:
        self._listed: dict[str, FolderListing | None] = {}

    def of(self, folder: str) -> FolderListing | None:
        """The listing of `folder`, or None when it cannot be listed."""
        if folder not in self._listed:
            try:
                self._listed[folder] = FolderListing.read(folder)
            except OSError:
                self._listed[folder] = None
        return self._listed[folder]

    def sidecars_of(self, path: str) -> tuple[str, ...]:
        """The sidecars of the photo at `path`; none when its folder cannot be listed."""
        listing = self.of(os.path.dirname(path))
        return listing.sidecars_of(path) if listing is not None else ()


def photo_extensions() -> frozenset[str]:
    Image.init()
    return frozenset(Image.registered_extensions()) | EXTRA_PHOTO_EXTENSIONS


def walk(
    roots: tuple[str, ...], follow_symlinks: bool = False, exclude: tuple[str, ...] = ()
) -> Iterator[Candidate | Skipped]:
    """Every candidate file under `roots`, in a stable order, and every path that
    cannot be scanned, with the reason. A root that is a file is always a candidate;
    the `exclude` folders are passed over silently."""
    excludes = Excludes.of(exclude)
    walker = _Walk(photo_extensions(), follow_symlinks, excludes)
    # Folders are known by identity, so an excluded folder is recognised by any path.
    walker.seen.update(excludes.identities())
    for root in roots:
        yield from walker.visit(root, "", explicit=True)


@dataclass(frozen=True, slots=True)
class Excludes:
    """What a walk passes over: the folders and files named by their path (absolute, or
    from the current folder), and the paths, relative to a root, that a pattern matches.

    A pattern is matched with "/" between folders, case-sensitively: `*` matches any
    characters but "/" (so within one name), `?` one character but "/", `[abc]` and
    `[!abc]` one of (or none of) those characters, `**` as a whole name any number of
    folders (none too: `**/x` matches `x`, `a/**` matches `a` and all under it). A
    pattern without "/" matches a name at any depth; one with "/" matches from the root.
    An absolute path is only a path; a relative one without pattern characters is both.
    """

    paths: tuple[str, ...]
    matches: re.Pattern[str] | None
    # The walk's one quick test of a name, for most files excluded by no pattern: a
    # name the group "name" matches is excluded (a pattern without "/" matches a path
    # by its last name alone); one only the group "path" matches may be, by its path.
    names: re.Pattern[str] | None

    @classmethod
    def of(cls, entries: Iterable[str]) -> Excludes:
        entries = tuple(entries)
        paths = tuple(e for e in entries if not is_pattern(e))
        patterns = [e for e in entries if not os.path.isabs(e)]
        if not patterns:
            return cls(paths, None, None)
        tests = [_last_name_test(p) for p in patterns]
        # (?!) matches nothing
        by_name = "|".join(regex for regex, alone in tests if alone) or "(?!)"
        by_path = "|".join(regex for regex, alone in tests if not alone) or "(?!)"
        return cls(
            paths,
            # DOTALL: a name may hold a newline, and `**`, `a/**` must match it too
            re.compile("|".join(pattern_regex(p) for p in patterns), re.DOTALL),
            re.compile(f"(?P<name>{by_name})|(?P<path>{by_path})", re.DOTALL),
        )

    def identities(self) -> Iterator[tuple[int, int]]:
        for path in self.paths:
            try:
                info = os.stat(path)
            except OSError:
                continue  # not created yet: nothing in it to pass over
            yield info.st_dev, info.st_ino

    def match(self, relative: str) -> bool:
        """Whether the path `relative` to a root (with "/" between names) is excluded."""
        return self.matches is not None and self.matches.fullmatch(relative) is not None

    def match_in(self, folder: str, name: str) -> bool:
        """`match` for the path `name` in the path `folder` ("" for the root), testing
        the name alone first: the whole path is made and matched only when that may tell."""
        if self.names is None:
            return False
        found = self.names.fullmatch(name)
        if found is None:
            return False
        return found.group("name") is not None or self.match(f"{folder}/{name}" if folder else name)


def is_pattern(entry: str) -> bool:
    """Whether an exclude entry is only a pattern: relative, with pattern characters."""
    return not os.path.isabs(entry) and bool(GLOB_CHARACTERS & set(entry))


def _pattern_names(pattern: str) -> tuple[list[str], bool]:
    """The names of the exclude `pattern`, from the root, and whether it matches all
    under the last of them too (`a/**`)."""
    pattern = pattern.replace(os.sep, "/").rstrip("/")
    if "/" not in pattern:
        pattern = "**/" + pattern
    names = pattern.split("/")
    under = names[-1] == "**" and len(names) > 1  # `a/**`: `a` and everything under it
    if under:
        names.pop()
    return names, under


def _last_name_test(pattern: str) -> tuple[str, bool]:
    """A regular expression that the last name of every path the exclude `pattern`
    matches matches too (any name for `a/**`), and whether a name that matches it is
    excluded on that alone: for `x` and `**/x`, a name at any depth."""
    names, under = _pattern_names(pattern)
    if under or names[-1] == "**":
        return "(?:.*)", False
    return f"(?:{_name_regex(names[-1])})", len(names) == 2 and names[0] == "**"


def pattern_regex(pattern: str) -> str:
    """A regular expression for what the exclude `pattern` matches (see `Excludes`)."""
    names, under = _pattern_names(pattern)
    regex = ""
    for index, name in enumerate(names):
        last = index == len(names) - 1
        if name == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _name_regex(name) + ("" if last else "/")
    return f"(?:{regex}{'(?:/.*)?' if under else ''})"


def _name_regex(name: str) -> str:
    """`*`, `?` and `[...]` within one name; every other character as itself."""
    regex, index = "", 0
    while index < len(name):
        character = name[index]
        index += 1
        if character == "*":
            regex += "[^/]*"
        elif character == "?":
            regex += "[^/]"
        elif character == "[" and name.find("]", index + 1) > 0:
            end = name.find("]", index + 1)  # a "]" just after "[" is one of them
            inside = name[index:end]
            negated = inside.startswith("!")
            if negated:
                inside = inside[1:]
            for special in "\\^[":
                inside = inside.replace(special, "\\" + special)
            regex += "[" + ("^/" if negated else "") + inside + "]"
            index = end + 1
        else:
            regex += re.escape(character)
    return regex


class _Walk:
    """One walk: what it has seen (by identity), and how it treats what it finds."""

    def __init__(self, extensions: frozenset[str], follow_symlinks: bool, excludes: Excludes):
        self.extensions = extensions
        self.follow_symlinks = follow_symlinks
        self.excludes = excludes
        self.seen: set[tuple[int, int]] = set()
        self.beside_roots = FolderListings()  # the folders of photos named as roots

    def visit(
        self,
        path: str,
        relative: str,
        explicit: bool = False,
        listing: FolderListing | None = None,
    ) -> Iterator[Candidate | Skipped]:
        """What is at `path`, which is `relative` to its root ("" for a root), not excluded."""
        try:
            info = os.lstat(path)
        except OSError as error:  # deleted since its folder was listed, for one
            yield Skipped(path, error_reason(error))
            return
        if stat.S_ISLNK(info.st_mode):
            if not (self.follow_symlinks or explicit):
                yield Skipped(path, "symbolic link, not followed (use --follow-symlinks)")
                return
            try:
                info = os.stat(path)
            except OSError as error:
                yield Skipped(path, f"broken symbolic link: {error_reason(error)}")
                return
        if stat.S_ISDIR(info.st_mode):
            yield from self.folder(path, relative, info)
        elif stat.S_ISREG(info.st_mode):
            if listing is None:  # a photo named on the command line: look beside it
                listing = self.beside_roots.of(os.path.dirname(path))
            found = self.candidate(path, os.path.basename(path), info, explicit, listing)
            if found is not None:
                yield found
        elif explicit:
            yield Skipped(path, f"not a regular file or folder: {kind_of(info)}")
        elif self.named_like_photo(os.path.basename(path)):
            # A FIFO or a device named IMG_1.jpg is never opened (reading it would
            # block or never end), but the person who put it there hears of it.
            yield Skipped(path, f"not a regular file: {kind_of(info)}")

    def folder(
        self, path: str, relative: str, info: os.stat_result
    ) -> Iterator[Candidate | Skipped]:
        identity = (info.st_dev, info.st_ino)
        if identity in self.seen:
            if os.path.islink(path):
                yield Skipped(path, "symbolic link to a folder already scanned (a loop?)")
            return  # otherwise an excluded folder
        self.seen.add(identity)
        try:
            with os.scandir(path) as scanned:
                # Links last: a file reached both directly and through a link is
                # then listed under its real path. (Sorted by name in C, then split:
                # a folder may hold 100,000 photos.)
                by_name = sorted(scanned, key=operator.attrgetter("name"))
                entries = [e for e in by_name if not e.is_symlink()]
                entries += [e for e in by_name if e.is_symlink()]
        except OSError as error:
            yield Skipped(path, f"cannot open folder: {error_reason(error)}")
            return
        if any(entry.name == CACHEDIR_TAG for entry in entries) and is_cache(path):
            return
        yield from self.entries(
            relative, entries, FolderListing.of(path, [e.name for e in entries])
        )

    def entries(
        self, relative: str, entries: list[os.DirEntry[str]], listing: FolderListing
    ) -> Iterator[Candidate | Skipped]:
        """What is at the `entries` of the folder `relative` to its root, in their order.
        A regular file is taken here, from the stat its entry makes (one syscall, and no
        generator per file: a folder may hold 100,000 photos); the rest is `visit`ed."""
        excluded, candidate = self.excludes.match_in, self.candidate  # looked up once
        is_regular = stat.S_ISREG
        for entry in entries:
            name = entry.name
            if excluded(relative, name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)  # an lstat, as `visit` makes
            except OSError:
                info = None  # `visit` tells why
            if info is not None and is_regular(info.st_mode):
                found = candidate(entry.path, name, info, False, listing)
                if found is not None:
                    yield found
            else:
                inside = f"{relative}/{name}" if relative else name
                yield from self.visit(entry.path, inside, listing=listing)

    def candidate(
        self,
        path: str,
        name: str,
        info: os.stat_result,
        explicit: bool,
        listing: FolderListing | None,
    ) -> Candidate | None:
        """The regular file at `path`, named `name`, in the folder `listing` lists (None
        if it cannot be listed), unless it was seen already or is a sidecar."""
        identity = (info.st_dev, info.st_ino)
        if identity in self.seen:
            return None
        self.seen.add(identity)
        # A folder without sidecars has none to find by name.
        maybe_sidecar = listing is None or bool(listing.sidecars)
        if not explicit and maybe_sidecar and sidecar_owner(name) is not None:
            return None
        # Made by tuple.__new__, not Candidate(...): the NamedTuple's own __new__ is a
        # Python function that would cost about as much as all the rest here.
        return tuple.__new__(
            Candidate,
            (
                path,
                info.st_size,
                info.st_mtime_ns,
                explicit or self.named_like_photo(name),
                listing.sidecars_of(path) if listing is not None else (),
            ),
        )

    def named_like_photo(self, name: str) -> bool:
        return _extension(name).lower() in self.extensions


def _extension(name: str) -> str:
    """`os.path.splitext(name)[1]` of a file's name, without its general case: what the
    walk asks of every file. A name's leading dots start no extension (".jpg" has none)."""
    dot = name.rfind(".")
    if dot > 0 and name[0] != ".":  # most names: no need to look for leading dots
        return name[dot:]
    return name[dot:] if dot > 0 and name[:dot].lstrip(".") else ""


def is_cache(folder: str) -> bool:
    """Whether `folder` is tagged as a cache: it holds a CACHEDIR.TAG that starts with
    the specification's signature."""
    try:
        with open_regular(os.path.join(folder, CACHEDIR_TAG)) as tag:
            return tag.read(len(CACHEDIR_SIGNATURE)) == CACHEDIR_SIGNATURE
    except OSError:  # NotRegularFile too: a FIFO named CACHEDIR.TAG tags nothing
        return False


def tag_as_cache(folder: str, made_by: str) -> None:
    """Mark `folder` as a cache with a CACHEDIR.TAG, so that scans and backups skip it.
    Whatever already has that name (a tag, a file of the user's, a FIFO) is left as it is."""
    try:
        with open(os.path.join(folder, CACHEDIR_TAG), "xb") as tag:
            tag.write(
                CACHEDIR_SIGNATURE
                + f"\n# This folder holds {made_by}, made by simplugin.\n".encode()
                + b"# For information about cache directory tags see https://bford.info/cachedir/\n"
            )
    except FileExistsError:
        pass
