"""Plans: the groups to act on, decided in the HTML report or written by `scan --json`.

A plan is a JSON file whose `groups` have the JSON sink's schema: each names the photo
to `keep` and its `duplicates` (with their `distances`, which are informational). The
report exports plans with absolute paths; a relative path is read from the current
folder, as `scan --json` wrote it. `load_plan` turns a plan back into a `ScanResult`,
so that any sink (the move sink, for `simplugin apply --move-to`) can carry it out.

A plan may be applied long after it was made, so every photo is checked again: a
duplicate that is gone or no longer a photo is left out, and a group whose keeper is
gone is left alone entirely, so that no photo is moved away from a library that no
longer has the copy the user chose to keep. The report's plans also record each file's
size and modification time (`files`): a file changed since is treated as gone, since
what the user decided about it was decided about other content. Each is reported as
skipped, with why.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

from .discover import sidecars_beside, sidecars_of
from .errors import UsageError
from .imaging import Unreadable, probe
from .types import Duplicate, Group, Photo, ScanResult, ScanSettings, Skipped

PLAN_VERSION = 1  # the version of the JSON sink's schema, whose groups a plan shares


def load_plan(path: str | os.PathLike) -> ScanResult:
    """The plan at `path` as a scan result of its groups, each photo checked again.

    Raises `UsageError` naming the file when it is not a plan, or names a photo in
    two places (which would make the plan ambiguous).
    """
    path = os.fspath(path)
    document = _read(path)
    seen_as = _files(path, document)
    folders: dict[str, dict[str, list[str]]] = {}  # each folder's sidecars, listed once
    groups: list[Group] = []
    skipped: list[Skipped] = []
    for keep, duplicates in _groups(path, document):
        keeper = _photo(keep, seen_as.get(keep), folders)
        if isinstance(keeper, Skipped):
            skipped.append(Skipped(keep, f"{keeper.reason}; its group is left alone"))
            continue
        members = []
        for duplicate, distance in duplicates:
            photo = _photo(duplicate, seen_as.get(duplicate), folders)
            if isinstance(photo, Skipped):
                skipped.append(photo)
            else:
                members.append(Duplicate(photo, distance))
        if members:
            groups.append(Group(keeper, tuple(members)))
    photos = tuple(photo for group in groups for photo in group.photos)
    settings = ScanSettings(
        roots=tuple(document.get("roots") or _common_folder(photos)),
        metric=str(document.get("metric") or "unknown"),
        threshold=float(document.get("threshold") or math.nan),
        bucketer=document.get("bucketer"),
    )
    return ScanResult(settings, photos, tuple(skipped), (), tuple(groups))


def _read(path: str) -> dict:
    try:
        with open(path, "rb") as file:
            document = json.loads(file.read().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such plan") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read the plan: {error.strerror or error}") from error
    except ValueError as error:  # not UTF-8, or not JSON
        raise UsageError(f"{path}: not a plan (not JSON: {error})") from error
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise UsageError(f"{path}: not a plan (no list of groups)")
    if document.get("version", PLAN_VERSION) != PLAN_VERSION:
        raise UsageError(
            f"{path}: a plan of version {document['version']!r}; this simplugin reads"
            f" version {PLAN_VERSION}"
        )
    return document


def _groups(path: str, document: dict) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """Each group's keeper and duplicates with their distances, checked for shape."""
    seen: dict[str, int] = {}
    for number, group in enumerate(document["groups"], start=1):
        where = f"{path}: group {number}"
        if not isinstance(group, dict) or not isinstance(group.get("keep"), str):
            raise UsageError(f"{where}: expected an object with a 'keep' path")
        duplicates = group.get("duplicates")
        if not isinstance(duplicates, list) or not all(isinstance(d, str) for d in duplicates):
            raise UsageError(f"{where}: expected 'duplicates', a list of paths")
        distances = group.get("distances") or []
        for member in [group["keep"], *duplicates]:
            identity = os.path.abspath(member)
            if identity in seen:
                raise UsageError(f"{where}: {member} is already in group {seen[identity]}")
            seen[identity] = number
        yield (
            group["keep"],
            [
                (duplicate, _distance(distances, index))
                for index, duplicate in enumerate(duplicates)
            ],
        )


def _distance(distances: list[Any], index: int) -> float:
    """A duplicate's distance to its keeper; NaN where the plan does not say (the report
    writes null for a keeper the reader chose that the scan did not measure against)."""
    value = distances[index] if index < len(distances) else None
    return float(value) if isinstance(value, (int, float)) else math.nan


def _files(path: str, document: dict) -> dict[str, tuple[int, str]]:
    """Each file's size and modification time when the plan was made, where it says."""
    files = document.get("files") or {}
    try:
        return {name: (int(f["size"]), str(f["mtime_ns"])) for name, f in files.items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UsageError(f"{path}: 'files' must map each path to its size and mtime_ns") from None


def _photo(
    path: str, seen_as: tuple[int, str] | None, folders: dict[str, dict[str, list[str]]]
) -> Photo | Skipped:
    try:
        info = os.stat(path)
        if seen_as is not None and seen_as != (info.st_size, str(info.st_mtime_ns)):
            return Skipped(path, "changed since the plan was made")
        width, height, format = probe(path)
    except FileNotFoundError:
        return Skipped(path, "no longer exists")
    except OSError as error:
        return Skipped(path, error.strerror or str(error))
    except Unreadable as reason:
        return Skipped(path, str(reason))
    folder = os.path.dirname(path)
    if folder not in folders:
        folders[folder] = sidecars_beside(path)
    sidecars = sidecars_of(path, folders[folder])
    return Photo(path, info.st_size, info.st_mtime_ns, width, height, format, sidecars)


def _common_folder(photos: tuple[Photo, ...]) -> list[str]:
    folders = [os.path.dirname(os.path.abspath(photo.path)) for photo in photos]
    return [os.path.commonpath(folders)] if folders else []
