"""Plans: the groups to act on, decided in the HTML report or written by `scan --json`.

A plan is a JSON file whose `groups` have the JSON sink's schema: each names the photo
to `keep` and its `duplicates` (with their `distances`, which are informational). The
report exports plans with absolute paths; `scan --json` writes the paths as the scan
was given them, and the folder they are relative to as `base` (a plan without `base`,
from an older simplugin, is read from the current folder). `load_plan` turns a plan
back into a `ScanResult`, so that any sink (the move sink, for `simplugin apply
--move-to`) can carry it out.

Which file a path names is decided on its real path (symbolic links, `.` and `..`
resolved), so that a photo named twice, through a linked folder or another spelling,
is one photo: a duplicate that is its group's keeper is not moved, and a plan that
names a photo in two groups is refused as ambiguous before anything moves. Only a
duplicate inside the plan's `roots` moves (without `roots`: the folder that holds all
the plan's paths as written), and only a regular file: a duplicate that is itself a
symbolic link is left (moving the link would not move the photo), and a FIFO or a
device is never opened.

A plan may be applied long after it was made, so every photo is checked again: a
duplicate that is gone or no longer a photo is left out, and a group whose keeper is
gone is left alone entirely, so that no photo is moved away from a library that no
longer has the copy the user chose to keep. Both writers of plans record each file's
size and modification time (`files`): a file changed since is treated as gone, since
what the user decided about it was decided about other content. A photo in a folder a
scan never reads by default (`settings.DEFAULT_EXCLUDES`: a trash, a thumbnail cache)
or in the home trash is left out too, as a scan would never have found it: a forged
plan cannot send a file manager's trashed files elsewhere. Each is reported as
skipped, with why.

A plan is read whole, so it is refused unread when larger than `PLAN_SIZE_LIMIT` or
with more values than `PLAN_VALUE_LIMIT`, and every field is checked for its type: a
malformed plan is one `UsageError` naming the file and the key, never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .discover import Excludes, FolderListings
from .errors import UsageError
from .files import NotRegularFile, kind_of, open_regular
from .imaging import Unreadable, probe
from .settings import DEFAULT_EXCLUDES
from .text import error_reason, human_size, printable
from .trash import home_trash
from .types import Duplicate, Group, Photo, ScanResult, ScanSettings, Skipped

PLAN_VERSION = 1  # the version of the JSON sink's schema, whose groups a plan shares
PLAN_FORMAT = "simplugin-plan"  # what the report's plans say they are
# A plan is parsed whole. The report's plan of 100,000 photos is about 30 MB; the JSON
# of a scan that found 100,000 photos in groups of four, 63 MB (its `pairs` included,
# which a plan does not use), parsed in 320 MB. Parsing makes an object of every value,
# so a plan of millions of `[]` or `{"a": 0}` would take twenty times its size: the
# values are bounded too (that JSON has 1.15 million), which keeps any plan under 500 MB.
PLAN_SIZE_LIMIT = 64 * 1024 * 1024
PLAN_VALUE_LIMIT = 4_000_000
# Each photo a plan names costs far more than its JSON value (its real path, a check of
# the file, a Photo): a plan naming a million photos (missing ones, the cheapest) took
# 800 MB. Three times a library of 100,000 photos, every one of them in a group, is the
# most a plan may name (a larger library is cleaned up by `scan --move-to` itself).
PLAN_PHOTO_LIMIT = 300_000
LONGEST_PATH = 4096  # bytes: PATH_MAX on Linux; no longer string names a file
_INTEGER = re.compile(r"-?[0-9]{1,30}")  # how the plans write mtime_ns: a string


@dataclass(frozen=True, slots=True)
class _Name:
    """A path the plan names: as shown to the user (joined to the plan's `base`), and
    its real path, which decides which file it is (None: too many links to resolve)."""

    shown: str
    real: str | None


@dataclass(frozen=True, slots=True)
class _Fields:
    """A plan's fields, each checked for its type."""

    base: str | None
    roots: tuple[str, ...] | None
    protect: tuple[str, ...]  # the scan's protected folders: never moved from
    metric: str | None
    threshold: float | None
    bucketer: str | None
    groups: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]  # keep, (duplicate, distance)
    files: tuple[tuple[str, int, int], ...]  # path, size, mtime_ns when the plan was made


def load_plan(path: str | os.PathLike, protect: Sequence[str] = ()) -> ScanResult:
    """The plan at `path` as a scan result of its groups, each photo checked again.
    The folders the scan protected (its `protect`), and those of `protect`, stay
    protected: no sink that changes files is given a photo under them.

    Raises `UsageError` naming the file when it is not a plan (not a regular file,
    larger than `PLAN_SIZE_LIMIT`, not JSON, a field of the wrong type), or names a
    photo in two groups (which would make the plan ambiguous).
    """
    path = os.fspath(path)
    return plan_from_document(read_document(path), printable(path), protect)


def plan_from_document(document: Any, shown: str, protect: Sequence[str] = ()) -> ScanResult:
    """`load_plan` of a plan already parsed (`parse_document`), named `shown` in errors:
    the review page's server receives its plans this way, and checks them the same."""
    fields = _fields(shown, document)
    named: dict[str, _Name] = {}  # `files` names the grouped paths again: resolve each once

    def name(written: str) -> _Name:
        if written not in named:
            named[written] = _name(written, fields.base)
        return named[written]

    groups = [
        (name(keep), [(name(d), dist) for d, dist in duplicates])
        for keep, duplicates in fields.groups
    ]
    _refuse_a_photo_in_two_groups(shown, groups)
    seen_as: dict[str, set[tuple[int, int]]] = {}
    for written, size, mtime_ns in fields.files:
        real = name(written).real
        if real is not None:
            seen_as.setdefault(real, set()).add((size, mtime_ns))
    check = _Check(_real_roots(fields, groups), seen_as)
    checked: list[Group] = []
    skipped: list[Skipped] = []
    for keep, duplicates in groups:
        keeper = check.photo(keep)
        if isinstance(keeper, Skipped):
            skipped.append(Skipped(keeper.path, f"{keeper.reason}; its group is left alone"))
            continue
        members = _members(keep, duplicates, check, skipped)
        if members:
            checked.append(Group(keeper, tuple(members)))
    photos = tuple(photo for group in checked for photo in group.photos)
    settings = ScanSettings(
        # Duplicates move to the same place under DEST as from the roots; without roots,
        # as from the folder that holds them all.
        roots=check.roots if fields.roots is not None else _common_folder(photos),
        metric=fields.metric or "unknown",
        threshold=math.nan if fields.threshold is None else float(fields.threshold),
        bucketer=fields.bucketer,
        protect=(*fields.protect, *(os.path.abspath(os.path.expanduser(p)) for p in protect)),
    )
    return ScanResult(settings, photos, tuple(skipped), (), tuple(checked))


def _members(
    keep: _Name, duplicates: list[tuple[_Name, float]], check: _Check, skipped: list[Skipped]
) -> list[Duplicate]:
    """The duplicates of a group that may move; the others go to `skipped`, with why.
    The same file named twice is one file, and never the keeper."""
    members: list[Duplicate] = []
    placed = {keep.real}
    for name, distance in duplicates:
        if name.real == keep.real:
            reason = f"the same photo as its group's keeper, {printable(keep.shown)}: not moved"
            skipped.append(Skipped(name.shown, reason))
            continue
        if name.real is not None and name.real in placed:
            continue
        placed.add(name.real)
        photo = check.duplicate(name)
        if isinstance(photo, Skipped):
            skipped.append(photo)
        else:
            members.append(Duplicate(photo, distance))
    return members


@dataclass(frozen=True, slots=True)
class _Check:
    """What each photo of a plan is checked against, as it is now."""

    roots: tuple[str, ...]  # real paths: only a duplicate inside one moves
    seen_as: Mapping[str, set[tuple[int, int]]]  # real path: its (size, mtime_ns) in the plan
    folders: FolderListings = field(default_factory=FolderListings)  # for the sidecars

    def duplicate(self, name: _Name) -> Photo | Skipped:
        """A duplicate, if it may move: inside the roots, and not a symbolic link."""
        if name.real is not None and not _inside(name.real, self.roots):
            really = "" if os.path.abspath(name.shown) == name.real else f" ({name.real})"
            return Skipped(name.shown, f"outside the plan's roots{printable(really)}: left alone")
        try:
            if stat.S_ISLNK(os.lstat(name.shown).st_mode):
                reason = "a symbolic link (moving it would not move the photo): left alone"
                return Skipped(name.shown, reason)
        except OSError as error:
            return Skipped(name.shown, _why(error))
        return self.photo(name)

    def photo(self, name: _Name) -> Photo | Skipped:
        """The photo `name` is now, if it is a regular file that has not changed since
        the plan was made and is still a photo. Opens only a regular file."""
        if name.real is None:
            return Skipped(name.shown, "too many symbolic links to resolve")
        folder = _never_read_folder(name.real)
        if folder is not None:
            reason = f"in {folder}, a folder a scan never reads (a trash or a thumbnail cache)"
            return Skipped(name.shown, printable(reason) + ": left alone")
        try:
            info = os.lstat(name.real)
            if not stat.S_ISREG(info.st_mode):
                return Skipped(name.shown, f"not a regular file: {kind_of(info)}")
            with open_regular(name.real, follow_symlinks=False) as file:
                info = os.fstat(file.fileno())
            recorded = self.seen_as.get(name.real)
            if recorded and recorded != {(info.st_size, info.st_mtime_ns)}:
                return Skipped(name.shown, "changed since the plan was made")
            width, height, format = probe(name.real)
        except OSError as error:
            return Skipped(name.shown, _why(error))
        except Unreadable as reason:
            return Skipped(name.shown, str(reason))
        sidecars = self.folders.sidecars_of(name.real)
        return Photo(name.real, info.st_size, info.st_mtime_ns, width, height, format, sidecars)


_NEVER_READ = Excludes.of(DEFAULT_EXCLUDES)


def _never_read_folder(real: str) -> str | None:
    """The folder holding `real` (a real path) that a scan never reads by default, or
    the home trash, if `real` is under one."""
    trash = os.path.realpath(home_trash())
    if _inside(real, (trash,)):
        return trash
    names = real.strip(os.sep).split(os.sep)[:-1]
    for end in range(1, len(names) + 1):
        if _NEVER_READ.match("/".join(names[:end])):
            return os.sep + os.path.join(*names[:end])
    return None


def _why(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no longer exists"
    return error_reason(error)


def _inside(real: str, roots: tuple[str, ...]) -> bool:
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _name(written: str, base: str | None) -> _Name:
    shown = os.path.join(base, written) if base is not None else written
    try:
        real: str | None = os.path.realpath(shown)
    except (OSError, RecursionError):  # Python follows a chain of links recursively
        real = None
    return _Name(shown, real)


def _real_roots(fields: _Fields, groups: list[tuple[_Name, list]]) -> tuple[str, ...]:
    """The real paths of the plan's roots; without roots, of the folder that holds all
    the plan's paths as written (so a linked folder still cannot lead out of it)."""
    if fields.roots is not None:
        names = [_name(root, fields.base) for root in fields.roots]
    else:
        folders = [
            os.path.dirname(os.path.abspath(name.shown))
            for keep, duplicates in groups
            for name in [keep, *(duplicate for duplicate, _ in duplicates)]
        ]
        names = [_name(os.path.commonpath(folders), None)] if folders else []
    return tuple(name.real for name in names if name.real is not None)


def _common_folder(photos: tuple[Photo, ...]) -> tuple[str, ...]:
    folders = [os.path.dirname(photo.path) for photo in photos]
    return (os.path.commonpath(folders),) if folders else ()


def _refuse_a_photo_in_two_groups(shown: str, groups: list[tuple[_Name, list]]) -> None:
    first: dict[str, tuple[int, _Name]] = {}  # real path: the group that named it first
    for number, (keep, duplicates) in enumerate(groups, start=1):
        for name in [keep, *(duplicate for duplicate, _ in duplicates)]:
            if name.real is None:
                continue
            group, earlier = first.setdefault(name.real, (number, name))
            if group != number:
                spelled = "" if earlier.shown == name.shown else f" (as {earlier.shown})"
                raise UsageError(
                    f"{shown}: group {number}: {printable(name.shown)} is already in group"
                    f" {group}{printable(spelled)}"
                )


def read_document(path: str) -> Any:
    """The plan's (or a --json result's) JSON, read only from a regular file within the limits."""
    shown = printable(path)
    try:
        with open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            data = file.read(PLAN_SIZE_LIMIT + 1) if size <= PLAN_SIZE_LIMIT else b""
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such plan") from None
    except NotRegularFile as error:
        raise UsageError(f"{shown}: not a plan ({error.kind}, not a regular file)") from None
    except OSError as error:
        raise UsageError(f"{shown}: cannot read the plan: {error_reason(error)}") from None
    if size > PLAN_SIZE_LIMIT:
        raise UsageError(_too_large(shown))
    return parse_document(data, shown)


def _too_large(shown: str) -> str:
    return f"{shown}: not read: larger than a plan can be ({human_size(PLAN_SIZE_LIMIT)})"


def parse_document(data: bytes, shown: str) -> Any:
    """A plan's JSON from its bytes, within the limits; `shown` names it in errors."""
    if len(data) > PLAN_SIZE_LIMIT:
        raise UsageError(_too_large(shown))
    # A value follows a comma, opens a list or an object, or is the first in one: the
    # values are at most twice this count, which is made without parsing.
    if sum(data.count(mark) for mark in (b",", b"[", b"{")) > PLAN_VALUE_LIMIT:
        raise UsageError(
            f"{shown}: not read: more values than a plan can have ({PLAN_VALUE_LIMIT:,})"
        )
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise UsageError(f"{shown}: not a plan (nested too deeply)") from None
    except ValueError as error:  # not UTF-8, or not JSON
        raise UsageError(f"{shown}: not a plan (not JSON: {error})") from None


def _fields(shown: str, document: Any) -> _Fields:
    """The plan's fields, checked for type; a `UsageError` naming the first bad key."""
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise UsageError(f"{shown}: not a plan (no list of groups)")

    def refuse(problem: str) -> UsageError:
        return UsageError(f"{shown}: not a plan ({problem})")

    version = document.get("version", PLAN_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise refuse("'version' must be a number")
    if version != PLAN_VERSION:
        raise UsageError(
            f"{shown}: a plan of version {version}; this simplugin reads version {PLAN_VERSION}"
        )
    if document.get("format", PLAN_FORMAT) != PLAN_FORMAT:
        raise refuse(f"'format' must be {PLAN_FORMAT!r}")
    for key in ("metric", "bucketer"):
        if not isinstance(document.get(key), (str, type(None))):
            raise refuse(f"'{key}' must be a name")
    threshold = document.get("threshold")
    if threshold is not None and not _is_number(threshold):
        raise refuse("'threshold' must be a number")
    base = document.get("base")
    if base is not None and not (_is_path(base) and os.path.isabs(base)):
        raise refuse("'base' must be an absolute path")
    roots = document.get("roots")
    if roots is not None and not (
        isinstance(roots, list) and roots and all(_is_path(root) for root in roots)
    ):
        raise refuse("'roots' must be a list of paths")
    protect = document.get("protect") or []
    if not (isinstance(protect, list) and all(_is_path(p) and os.path.isabs(p) for p in protect)):
        raise refuse("'protect' must be a list of absolute paths")
    return _Fields(
        base=base,
        roots=None if roots is None else tuple(roots),
        protect=tuple(protect),
        metric=document.get("metric"),
        threshold=threshold,
        bucketer=document.get("bucketer"),
        groups=_groups(shown, document["groups"]),
        files=_files(shown, document.get("files")),
    )


def _groups(shown: str, groups: list[Any]) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """Each group's keeper and duplicates with their distances, checked for type."""
    checked = []
    named = 0
    for number, group in enumerate(groups, start=1):
        where = f"{shown}: group {number}"
        named += 1 + len(group.get("duplicates") or ()) if isinstance(group, dict) else 1
        if named > PLAN_PHOTO_LIMIT:
            raise UsageError(f"{shown}: not read: it names more than {PLAN_PHOTO_LIMIT:,} photos")
        if not isinstance(group, dict) or not _is_path(group.get("keep")):
            raise UsageError(f"{where}: expected an object with a 'keep' path")
        duplicates = group.get("duplicates")
        if not isinstance(duplicates, list) or not all(_is_path(d) for d in duplicates):
            raise UsageError(f"{where}: expected 'duplicates', a list of paths")
        distances = group.get("distances")
        distances = [] if distances is None else distances
        if not isinstance(distances, list) or not all(
            d is None or _is_number(d) for d in distances
        ):
            raise UsageError(f"{where}: expected 'distances', a list of numbers")
        pairs = tuple((d, _distance(distances, index)) for index, d in enumerate(duplicates))
        checked.append((group["keep"], pairs))
    return tuple(checked)


def _distance(distances: list[Any], index: int) -> float:
    """A duplicate's distance to its keeper; NaN where the plan does not say (the report
    writes null for a keeper the reader chose that the scan did not measure against)."""
    value = distances[index] if index < len(distances) else None
    return math.nan if value is None else float(value)


def _files(shown: str, files: Any) -> tuple[tuple[str, int, int], ...]:
    """Each file's size and modification time when the plan was made, where it says."""
    if files is None:
        return ()
    problem = "'files' must map each path to its size and mtime_ns"
    refused = UsageError(f"{shown}: not a plan ({problem})")
    if not isinstance(files, dict):
        raise refused
    checked = []
    for name, seen in files.items():
        if not (_is_path(name) and isinstance(seen, dict)):
            raise refused
        size, mtime_ns = _integer(seen.get("size")), _integer(seen.get("mtime_ns"))
        if size is None or size < 0 or mtime_ns is None:
            raise refused
        checked.append((name, size, mtime_ns))
    return tuple(checked)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> int | None:
    """An integer written as a number or, as the plans write mtime_ns, a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _is_path(value: Any) -> bool:
    """A string that can name a file: not empty, no NUL, encodable as a file name, and
    no longer than a path can be."""
    if not isinstance(value, str) or not value or "\0" in value:
        return False
    try:
        return len(os.fsencode(value)) <= LONGEST_PATH
    except UnicodeEncodeError:  # a lone surrogate that is not an undecodable byte
        return False
