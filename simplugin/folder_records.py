"""Folder records: a re-scan of an unchanged folder finds its photos' summaries at once.

The signature cache (`simplugin.cache`) keeps one row per photo and kind. Looking up
100,000 photos that way fetches and decodes 200,000 rows, one by one: about a second,
a fifth of an unchanged re-scan. So next to those rows the cache keeps, per folder and
per metric and bucketer, a record of the photos the last scan found in that folder:
their names and stamps (size and modification time) and, as columns, what reading
them gave (size in pixels, format, signature, bucket key), and the digest of each
signature and key that the pair cache compares (`pair_digests.digests_of`, another
~0.25 s of hashing when made anew). A photo whose name and stamps are in its folder's
record is answered from there, with the same trust the rows get; every other photo is
looked up by its rows, as before.

The rows stay the truth, and a record only repeats them: that is its cost, each
signature kept twice. A record is kept in parts of about `PART_SPAN` photos, cut where
a name's hash says (so that a photo added or removed moves no cut but its own): a part
is rewritten when the photos a scan found in it differ from it (nothing is written for
an unchanged folder, and a photo added to a folder of 100,000 rewrites one part, not
85 MB), and one that does not add up (damaged, or from a metric whose signatures
changed size) is ignored and rewritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field, replace
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from .pair_digests import DIGEST_SIZE, completed
from .reading import Found

if TYPE_CHECKING:
    from .cache import File, Kinds
    from .engine import Summaries

_SCHEMA = """
CREATE TABLE IF NOT EXISTS folder_records (
    folder BLOB NOT NULL,      -- its absolute path, as the file system's bytes, ending in "/"
    kinds TEXT NOT NULL,       -- the kinds of its entries: 'metric:avgdiff:1 bucketer:exif-time:1'
    part BLOB NOT NULL,        -- the name of the part's first photo, as the file system's bytes
    photos INTEGER NOT NULL,   -- how many in this part: a check
    names BLOB NOT NULL,       -- the photos' names, as the file system's bytes, NUL between
    stamps BLOB NOT NULL,      -- each photo's size and mtime_ns: little-endian int64
    dimensions BLOB NOT NULL,  -- each photo's width and height: little-endian int64
    formats TEXT NOT NULL,     -- the photos' formats, as a JSON array
    signatures BLOB NOT NULL,  -- the signatures' bytes, one after the other
    keys TEXT,                 -- the bucket keys as a JSON array; NULL without a bucketer
    digests BLOB NOT NULL,     -- each photo's digest of its signature and key (the pair cache's)
    UNIQUE (folder, kinds, part)
);
"""
COLUMNS = [
    *("folder", "kinds", "part", "photos", "names", "stamps", "dimensions", "formats"),
    *("signatures", "keys", "digests"),
]
PART_SPAN = 1024  # photos in a part of a record, about: one in so many names starts one
RECENT = 8  # records held at once: a folder's photos may come in runs, between its folders'
_INT64 = np.dtype("<i8")
_FILE_SYSTEM_ENCODING, _FILE_SYSTEM_ERRORS = (
    sys.getfilesystemencoding(),
    sys.getfilesystemencodeerrors(),
)


def create_table(connection: sqlite3.Connection) -> None:
    """The records' table, made anew when one of another shape is there (from another
    version: the records only repeat the rows, so nothing is lost)."""
    shape = [row[1] for row in connection.execute("PRAGMA table_info(folder_records)")]
    if shape and shape != COLUMNS:
        connection.execute("DROP TABLE folder_records")
    connection.executescript(_SCHEMA)


@dataclass(frozen=True, eq=False)
class FolderRecord:
    """One folder's record (or a part of it), decoded: its photos as columns."""

    names: list[str]
    position_of: dict[str, int]  # name: position
    sizes: list[int]
    mtimes: list[int]
    widths: list[int]
    heights: list[int]
    formats: list[str]
    signatures: np.ndarray
    keys: list[Any] | None
    digests: list[bytes]

    def __len__(self) -> int:
        return len(self.sizes)

    def found(self, files: Sequence[File], names: Sequence[str]) -> Found:
        """What the record holds for the `files`, named `names`, whose stamps it has."""
        at = list(map(self.position_of.get, names))  # (in C, as the rest: no loop per photo)
        sizes, mtimes = [f.size for f in files], [f.mtime_ns for f in files]
        if (
            None not in at
            and list(map(self.sizes.__getitem__, at)) == sizes
            and list(map(self.mtimes.__getitem__, at)) == mtimes
        ):
            indices = list(range(len(files)))  # all unchanged: most lookups of a re-scan
        else:
            indices = [
                n
                for n, position in enumerate(at)
                if position is not None
                and self.sizes[position] == sizes[n]
                and self.mtimes[position] == mtimes[n]
            ]
            at = [at[n] for n in indices]
        keys = [None] * len(at) if self.keys is None else list(map(self.keys.__getitem__, at))
        first = at[0] if at else 0
        # In the record's order, as a walk finds them: a view, not a copy (the scan
        # copies them all into one array; the record's blob is a copy of them already).
        in_order = at == list(range(first, first + len(at)))
        return Found(
            indices,
            list(map(self.widths.__getitem__, at)),
            list(map(self.heights.__getitem__, at)),
            list(map(self.formats.__getitem__, at)),
            self.signatures[first : first + len(at)] if in_order else self.signatures[at],
            keys,
            list(map(self.digests.__getitem__, at)),
        )

    @classmethod
    def decode(cls, row: tuple, kinds: Kinds) -> FolderRecord | None:
        """The record of a stored row, or None when the row does not add up."""
        photos, names, stamps, dimensions, formats, signatures, keys, digests = row
        try:
            name_list = names.decode(_FILE_SYSTEM_ENCODING, _FILE_SYSTEM_ERRORS).split("\0")
            stamp_array = np.frombuffer(stamps, _INT64).reshape(-1, 2)
            dimension_array = np.frombuffer(dimensions, _INT64).reshape(-1, 2)
            format_list = json.loads(formats)
            key_list = json.loads(keys) if kinds.bucketer else None
            signature_array = np.frombuffer(signatures, kinds.dtype).reshape(-1, *kinds.shape)
            digest_list = _cut(digests, DIGEST_SIZE)
        except (TypeError, ValueError, AttributeError):
            return None  # (a signature blob of the wrong size cannot be reshaped)
        columns = [name_list, stamp_array, dimension_array, format_list, signature_array]
        if len(digests) != DIGEST_SIZE * photos:
            return None
        if key_list is not None:
            columns.append(key_list)
        if not all(isinstance(c, list | np.ndarray) and len(c) == photos for c in columns):
            return None
        if not set(map(type, format_list)) <= {str, type(None)}:
            return None  # they become the photos' formats
        return cls(
            name_list,
            dict(zip(name_list, range(photos), strict=True)),  # made in C
            stamp_array[:, 0].tolist(),
            stamp_array[:, 1].tolist(),
            dimension_array[:, 0].tolist(),
            dimension_array[:, 1].tolist(),
            format_list,
            signature_array,
            key_list,
            digest_list,
        )

    @classmethod
    def joined(cls, parts: Sequence[FolderRecord]) -> FolderRecord:
        """One record of the `parts` of a folder's record, one after the other."""
        if len(parts) == 1:
            return parts[0]
        names = list(chain.from_iterable(part.names for part in parts))
        lists = [
            list(chain.from_iterable(getattr(part, column) for part in parts))
            for column in ("sizes", "mtimes", "widths", "heights", "formats", "digests")
        ]
        sizes, mtimes, widths, heights, formats, digests = lists
        keys = None if parts[0].keys is None else list(chain.from_iterable(p.keys for p in parts))
        return cls(
            names,
            dict(zip(names, range(len(names)), strict=True)),
            *(sizes, mtimes, widths, heights, formats),
            np.concatenate([part.signatures for part in parts]),
            keys,
            digests,
        )


@dataclass
class _Seen:
    """What one scan made of a folder's record so far."""

    photos: int  # in the parts of the record that add up
    # Those parts, by the name they start with: their names and stamps, as stored
    parts: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)
    stored: set[bytes] = field(default_factory=set)  # every part, whether it adds up or not
    answered: int = 0  # photos the record answered
    missed: bool = False  # a file in the folder it did not answer


class FolderRecords:
    """The records of one signature cache and one pair of kinds, during one scan: looked
    up folder by folder, then rewritten where the scan found something else."""

    def __init__(
        self,
        read: Callable[[str, tuple], list[tuple]],
        folder_key: Callable[[str], bytes],
        kinds: Kinds,
    ):
        self.read = read
        self.folder_key = folder_key  # of a folder's path, ending in a separator
        self.kinds = kinds
        self.tag = " ".join(kinds.entries)
        self.recent: OrderedDict[bytes, FolderRecord | None] = OrderedDict()
        self.seen: dict[bytes, _Seen] = {}

    def lookup(self, files: Sequence[File]) -> list[Found]:
        """What the records hold for the `files` (photos in their folders' records, with
        the stamps they have there), one `Found` for each run of files in one folder."""
        found = []
        for start, end, folder in runs([f.path for f in files]):
            run = files[start:end]
            record, seen = self.record(self.folder_key(folder))
            answer = record.found(run, [f.path[len(folder) :] for f in run]) if record else None
            if answer is None or len(answer) < len(run):
                seen.missed = True
            if answer:
                seen.answered += len(answer)
                found.append(_shifted(answer, start))
        return found

    def record(self, folder: bytes) -> tuple[FolderRecord | None, _Seen]:
        """The folder's record, of the parts that add up (None for none), and what this
        scan made of it so far."""
        if folder in self.recent:
            self.recent.move_to_end(folder)
            return self.recent[folder], self.seen[folder]
        rows = self.read(
            "SELECT part, photos, names, stamps, dimensions, formats, signatures, keys, digests"
            " FROM folder_records WHERE folder = ? AND kinds = ? ORDER BY part",
            (folder, self.tag),
        )
        decoded = [(row, FolderRecord.decode(row[1:], self.kinds)) for row in rows]
        parts = [record for _, record in decoded if record is not None]
        record = FolderRecord.joined(parts) if parts else None
        self.recent[folder] = record
        if len(self.recent) > RECENT:
            self.recent.popitem(last=False)
        seen = self.seen.get(folder)
        if seen is None:
            seen = self.seen[folder] = _Seen(
                len(record) if record else 0,
                {row[0]: (row[2], row[3]) for row, part in decoded if part is not None},
                {row[0] for row in rows},
            )
        return record, seen

    def rows(
        self, summaries: Summaries, named: Set[str]
    ) -> tuple[list[tuple], list[tuple[bytes, str, bytes]]]:
        """The rows to write, and the parts to delete, so that the records of the folders
        this scan looked up hold the photos it found there (`summaries`, in the walk's
        order); none for an unchanged library, where every record answered for all its
        photos. The folder of a photo `named` as a root was not listed (`simplugin
        explain` names two photos): its record, of the whole folder, stays as it is."""
        changed = {
            folder
            for folder, seen in self.seen.items()
            if seen.missed or seen.answered != seen.photos
        }
        if not changed:
            return [], []
        in_folder: dict[bytes, list[int]] = {folder: [] for folder in changed}
        for start, end, folder in runs([p.path for p in summaries.photos]):
            members = in_folder.get(self.folder_key(folder))
            if members is not None:
                members.extend(range(start, end))
        for path in named:
            in_folder.pop(self.folder_key(path[: path.rfind(os.sep) + 1]), None)
        writes, deletes = [], []
        for folder, members in in_folder.items():
            if members:  # (no photo left in a folder: its record answers no one)
                folder_writes, folder_deletes = self._folder_rows(folder, members, summaries)
                writes += folder_writes
                deletes += folder_deletes
        return writes, deletes

    def _folder_rows(
        self, folder: bytes, members: list[int], summaries: Summaries
    ) -> tuple[list[tuple], list[tuple[bytes, str, bytes]]]:
        """The parts of `folder`'s record to write, holding the photos `members`, where
        they differ from those stored; and the stored parts that no longer start one."""
        chosen = [summaries.photos[i] for i in members]
        names = "\0".join(os.path.basename(p.path) for p in chosen)
        encoded = names.encode(_FILE_SYSTEM_ENCODING, _FILE_SYSTEM_ERRORS).split(b"\0")
        stamps = np.array([(p.size, p.mtime_ns) for p in chosen], _INT64)
        starts = [0, *(n for n in range(1, len(encoded)) if _starts_part(encoded[n]))]
        stored = self.seen[folder].parts
        writes = []
        for start, end in zip(starts, [*starts[1:], len(encoded)], strict=True):
            part = (b"\0".join(encoded[start:end]), stamps[start:end].tobytes())
            if stored.get(encoded[start]) == part:
                continue  # the same photos as stored: most parts, when a folder changes
            row = self._part_row(encoded[start], part, members[start:end], summaries)
            if row is not None:
                writes.append((folder, self.tag, *row))
        kept = {encoded[start] for start in starts}
        deletes = [(folder, self.tag, part) for part in self.seen[folder].stored - kept]
        return writes, deletes

    def _part_row(
        self, first: bytes, part: tuple[bytes, bytes], members: list[int], summaries: Summaries
    ) -> tuple | None:
        """The row of a part, starting with the photo named `first`, with its names and
        stamps (`part`), holding the photos `members`; None when one of their bucket keys
        has no JSON or no digest (those photos are read every time anyway)."""
        chosen = [summaries.photos[i] for i in members]
        try:
            keys = [summaries.keys[i] for i in members]
            encoded_keys = json.dumps(keys) if self.kinds.bucketer else None
            dimensions = np.array([(p.width, p.height) for p in chosen], _INT64).tobytes()
        except (TypeError, ValueError, OverflowError):
            return None
        signatures = np.ascontiguousarray(summaries.signatures[members])
        kept = summaries.digests
        # Made of the keys as the record gives them back, as a lookup by rows would too
        digests = completed(
            [kept[i] for i in members] if kept else [None] * len(members),
            signatures,
            json.loads(encoded_keys) if encoded_keys else [None] * len(members),
        )
        if None in digests:
            return None
        formats = json.dumps([p.format for p in chosen])
        return (
            first,
            len(members),
            *part,
            dimensions,
            formats,
            signatures.tobytes(),
            encoded_keys,
            b"".join(digests),
        )


def _starts_part(name: bytes) -> bool:
    """Whether the photo `name` starts a part of its folder's record (its first photo
    starts one too): decided by the name alone, so that a photo added or removed moves
    no other cut."""
    return zlib.crc32(name) % PART_SPAN == 0


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def runs(paths: Sequence[str]) -> list[tuple[int, int, str]]:
    """The runs of `paths` in one folder each: (start, end, the folder's path up to and
    including its last separator; "" for the current folder). A walk gives a folder's
    files one after the other, so one check in C tells most batches are one run."""
    if not paths:
        return []
    first = paths[0]
    folder = first[: first.rfind(os.sep) + 1]
    if all(map(str.startswith, paths, repeat(folder))) and os.sep not in "".join(
        path[len(folder) :] for path in paths
    ):
        return [(0, len(paths), folder)]
    found: list[tuple[int, int, str]] = []
    for index, path in enumerate(paths):
        folder = path[: path.rfind(os.sep) + 1]
        if found and found[-1][2] == folder:
            found[-1] = (found[-1][0], index + 1, folder)
        else:
            found.append((index, index + 1, folder))
    return found


def _shifted(found: Found, start: int) -> Found:
    if not start:
        return found
    return replace(found, indices=[start + index for index in found.indices])
