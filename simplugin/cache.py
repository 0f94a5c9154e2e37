"""The signature cache: a re-scan of an unchanged library decodes nothing.

One SQLite file (by default `$XDG_CACHE_HOME/simplugin/signatures.sqlite`) holds, per
photo and per metric or bucketer (by name and version), what reading the photo gave:
its size, format, signature and bucket key. An entry is used only while the file's
path, size and modification time are unchanged. WAL mode lets two scans share it.
The same file holds the pairs the last scans found (`simplugin.pair_cache`).

The cache is never worth a failed scan or a lost file: a cache file that is not a
database is set aside (renamed, not deleted) and rebuilt; a database that belongs to
something else is left untouched and the scan runs without a cache. Either way the
user is told, through a `CacheWarning`.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .files import NotRegularFile, open_regular
from .folder_records import FolderRecords, create_table, runs
from .reading import Found, Summary
from .types import Bucketer, Metric
from .xdg import simplugin_folder

if TYPE_CHECKING:
    from .engine import Summaries

FORMAT = "simplugin-signature-cache"
SCHEMA_VERSION = "1"
_SQLITE_HEADER = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summaries (
    path BLOB NOT NULL,        -- the absolute path, as the file system's bytes
    kind TEXT NOT NULL,        -- 'metric:avgdiff:1' or 'bucketer:exif-time:1'
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    format TEXT,
    value BLOB,                -- a signature's bytes, or a bucket key as JSON
    PRIMARY KEY (path, kind)
) WITHOUT ROWID;
-- The pair cache (simplugin.pair_cache): per configuration of the comparison, the last
-- scan's photos and the near-duplicate pairs it found.
CREATE TABLE IF NOT EXISTS pair_configurations (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,  -- metric, threshold, bucketer and its options... as JSON
    generation INTEGER NOT NULL,
    used_ns INTEGER NOT NULL,
    pairs INTEGER NOT NULL DEFAULT 0  -- how many its last scan stored: a check
);
CREATE TABLE IF NOT EXISTS pair_photos (
    configuration INTEGER NOT NULL,
    path BLOB NOT NULL,
    id INTEGER NOT NULL UNIQUE,
    digest BLOB NOT NULL,      -- of its signature and bucket key
    bucket INTEGER,            -- its one bucket last time; NULL: undated, several or none
    PRIMARY KEY (configuration, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pairs (
    configuration INTEGER NOT NULL,
    a INTEGER NOT NULL,        -- pair_photos ids, a < b
    b INTEGER NOT NULL,
    distance REAL NOT NULL,    -- a float64, kept exactly
    PRIMARY KEY (configuration, a, b)
) WITHOUT ROWID;
"""
PAIR_TABLES = ("pairs", "pair_photos", "pair_configurations")
# Per folder, the photos the last scan found there (`simplugin.folder_records`).
RECORD_TABLES = ("folder_records",)
# What `os.fsencode` encodes names with, for `SignatureCache._key_in_folder`.
_FILE_SYSTEM_ENCODING, _FILE_SYSTEM_ERRORS = (
    sys.getfilesystemencoding(),
    sys.getfilesystemencodeerrors(),
)
QUERY_BATCH = 256  # files looked up in one query, 3 variables each: below SQLite's old limit of 999


class CacheWarning(UserWarning):
    """The cache could not be used as it was; the scan goes on."""


def default_path() -> str:
    return os.path.join(simplugin_folder("cache"), "signatures.sqlite")


@dataclass(frozen=True)
class Kinds:
    """Which metric and bucketer the entries are for, by name and version."""

    metric: str
    bucketer: str | None
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def entries(self) -> list[str]:
        """The kinds of a photo's entries: the metric's, then the bucketer's."""
        return [self.metric, *([self.bucketer] if self.bucketer else [])]

    @classmethod
    def of(cls, metric: Metric, bucketer: Bucketer | None) -> Kinds:
        return cls(
            f"metric:{metric.name}:{metric.version}",
            f"bucketer:{bucketer.name}:{bucketer.version}" if bucketer else None,
            np.dtype(metric.signature_dtype),
            tuple(metric.signature_shape),
        )


class File(Protocol):
    path: str
    size: int
    mtime_ns: int


class SignatureCache:
    """Cached summaries, looked up and stored a batch of photos at a time."""

    def __init__(self, connection: sqlite3.Connection, path: str):
        self.connection = connection
        self.path = path
        self._keys: dict[str, bytes] = {}  # see `key`
        self._folder_keys: dict[str, bytes] = {}  # see `folder_key`
        self._records: dict[Kinds, FolderRecords] = {}  # this scan's, by kinds

    @classmethod
    def open(cls, path: str | None = None) -> SignatureCache | None:
        """The cache at `path` (default: the user's cache folder), or None when it
        cannot be used; every problem is reported as a `CacheWarning`."""
        path = os.path.abspath(os.path.expanduser(path or default_path()))
        default = os.path.abspath(default_path())
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if _holds_something_else(path):
                if path != default:  # a file the user named: maybe not ours
                    raise _Foreign(f"{path} is not a database; leaving it as it is")
                _set_aside(path, "is not a database")
            try:
                return cls(_connect(path), path)
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError):
                    raise  # locked, read-only, a foreign database: nothing to rebuild
                _set_aside(path, f"is damaged ({error})")
                return cls(_connect(path), path)
        except (OSError, sqlite3.Error, _Foreign) as error:
            _warn(f"not using the cache {path}: {error}")
            return None

    def lookup(self, files: Sequence[File], kinds: Kinds) -> list[Found]:
        """The entries of the files that are unchanged since: from their folders' records
        (`simplugin.folder_records`) when these hold them, else from their rows. A
        signature of the wrong size for the metric is never found."""
        found = self.records(kinds).lookup(files)
        answered = sum(map(len, found))
        if answered == len(files):
            return found  # an unchanged folder: most lookups of a re-scan
        done = {index for part in found for index in part.indices} if answered else set()
        rest = [index for index in range(len(files)) if index not in done]
        from_rows = self._lookup_rows([files[index] for index in rest], kinds)
        if from_rows:
            indices = [rest[index] for index in from_rows.indices]
            found.append(replace(from_rows, indices=indices))
        return found

    def records(self, kinds: Kinds) -> FolderRecords:
        """The folder records of entries of `kinds`, as this scan uses them."""
        records = self._records.get(kinds)
        if records is None:
            records = self._records[kinds] = FolderRecords(self._read, self.folder_key, kinds)
        return records

    def store_records(self, summaries: Summaries, kinds: Kinds, named: Sequence[str]) -> None:
        """Rewrite the records of the folders where this scan found other photos than
        their records hold (`summaries`: all it found); the folders of the photos
        `named` as roots keep theirs (see `FolderRecords.rows`)."""
        writes, deletes = self.records(kinds).rows(summaries, set(named))
        try:
            with self.connection:
                self.connection.executemany(
                    "DELETE FROM folder_records WHERE folder = ? AND kinds = ? AND part = ?",
                    deletes,
                )
                self.connection.executemany(
                    "INSERT OR REPLACE INTO folder_records (folder, kinds, part, photos, names,"
                    " stamps, dimensions, formats, signatures, keys, digests)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    writes,
                )
        except sqlite3.Error as error:
            _warn(f"could not write to the cache {self.path}: {error}")

    def _lookup_rows(self, files: Sequence[File], kinds: Kinds) -> Found:
        """`lookup` by the files' rows, one query."""
        keys = [self.key(f.path) for f in files]
        index_of = {key: index for index, key in enumerate(keys)}
        size = kinds.dtype.itemsize * math.prod(kinds.shape)
        rows = [
            row
            for row in self._unchanged(files, keys, kinds.entries)
            if isinstance(row[4], bytes) and len(row[4]) == size
        ]
        rows.sort(key=lambda row: index_of[row[0]])
        rows, keys_found = _with_keys(rows) if kinds.bucketer else (rows, [None] * len(rows))
        paths, widths, heights, formats, signatures = (
            list(zip(*rows, strict=True))[:5] if rows else ((),) * 5
        )
        return Found(
            list(map(index_of.__getitem__, paths)),
            widths,
            heights,
            formats,
            signature_array(signatures, kinds),
            keys_found,
            [None] * len(rows),
        )

    def _unchanged(
        self, files: Sequence[File], keys: Sequence[bytes], kinds: Sequence[str]
    ) -> list[tuple]:
        """The stored rows of the files whose entries of all the `kinds` are for their
        size and modification time: (path, width, height, format, then the value of
        each kind, in order). One query; SQLite matches the stamps. A walk lists each
        path once, so a path stands for its file here."""
        if not files:
            return []
        wanted = ",".join("(?, ?, ?)" for _ in files)
        stamps = [
            value for f, key in zip(files, keys, strict=True) for value in (key, f.size, f.mtime_ns)
        ]
        joins = "".join(
            f" JOIN summaries k{n} ON k{n}.path = w.path AND k{n}.kind = ?"
            f" AND k{n}.size = w.size AND k{n}.mtime_ns = w.mtime_ns"
            for n in range(len(kinds))
        )
        values = "".join(f", k{n}.value" for n in range(len(kinds)))
        return self._read(
            f"WITH wanted(path, size, mtime_ns) AS (VALUES {wanted})"
            f" SELECT k0.path, k0.width, k0.height, k0.format{values} FROM wanted w{joins}",
            (*stamps, *kinds),
        )

    def key(self, path: str) -> bytes:
        """`path_key(path)`, worked out once per path while this cache is open: a scan
        asks for a photo's key to look up its rows and again to store what reading it
        gave (the pair cache asks for them all at once: `keys`). A relative
        path is taken from the current folder when its folder is first asked for: the
        engine never changes folder during a scan (its workers are told the folder)."""
        key = self._keys.get(path)
        if key is None:
            key = self._keys[path] = self._key_in_folder(path)
        return key

    def keys(self, paths: Sequence[str]) -> list[bytes]:
        """`key` of each of `paths`, worked out a folder's run of paths at a time: the
        names of a run are encoded in one call (a re-scan asks for 100,000 keys)."""
        keys: list[bytes] = []
        for start, end, folder in runs(paths):
            names = [path[len(folder) :] for path in paths[start:end]]
            if "" in names or "." in names or ".." in names or os.altsep:
                keys.extend(map(self.key, paths[start:end]))  # left to `path_key`
                continue
            folder_key = self.folder_key(folder)
            encoded = "\0".join(names).encode(_FILE_SYSTEM_ENCODING, _FILE_SYSTEM_ERRORS)
            keys.extend(folder_key + name for name in encoded.split(b"\0"))
        return keys

    def _key_in_folder(self, path: str) -> bytes:
        """`path_key(path)`, with the absolute path of its folder worked out once per
        folder: a walk gives thousands of names in a folder, and `abspath` costs about
        as much as the rest of a lookup per photo. A last part that `abspath` would
        change ("", ".", "..") or another separator is left to `path_key`."""
        name = path.rpartition(os.sep)[2]
        if name in ("", ".", "..") or os.altsep:
            return path_key(path)
        folder = self.folder_key(path[: len(path) - len(name)])
        return folder + name.encode(_FILE_SYSTEM_ENCODING, _FILE_SYSTEM_ERRORS)

    def folder_key(self, folder: str) -> bytes:
        """`path_key` of `folder`, a folder's path up to its last separator ("" for the
        current folder), ending in a separator; worked out once per folder."""
        key = self._folder_keys.get(folder)
        if key is None:
            # With a separator at its end, whether the folder is "/" or not.
            key = self._folder_keys[folder] = os.fsencode(os.path.join(os.path.abspath(folder), ""))
        return key

    def lookup_values(self, files: Sequence[File], kind: str) -> dict[int, bytes]:
        """The values of `kind` (other than signatures: a photo's EXIF facts, for one)
        kept for the files that are unchanged since, by index in `files`."""
        values = {}
        for start in range(0, len(files), QUERY_BATCH):
            batch = files[start : start + QUERY_BATCH]
            keys = [self.key(f.path) for f in batch]
            index_of = {key: start + index for index, key in enumerate(keys)}
            for row in self._unchanged(batch, keys, [kind]):
                values[index_of[row[0]]] = row[4]
        return values

    def store(self, items: Iterable[tuple[File, Summary]], kinds: Kinds) -> None:
        """Remember what reading the files gave. A bucket key that is not JSON is not
        kept (and its photo is read again next time)."""
        records = []
        for file, summary in items:
            if kinds.bucketer:
                try:
                    bucket_key = json.dumps(summary.key).encode()
                except (TypeError, ValueError):
                    continue
            path = self.key(file.path)
            stamp = (file.size, file.mtime_ns)
            facts = (summary.width, summary.height, summary.format)
            records.append((path, kinds.metric, *stamp, *facts, summary.signature.tobytes()))
            if kinds.bucketer:
                records.append((path, kinds.bucketer, *stamp, None, None, None, bucket_key))
        self._write(records)

    def store_values(self, items: Iterable[tuple[File, bytes]], kind: str) -> None:
        """Remember values of `kind` of the files as they are (see `lookup_values`)."""
        self._write(
            (self.key(file.path), kind, file.size, file.mtime_ns, None, None, None, value)
            for file, value in items
        )

    def _write(self, records: Iterable[tuple]) -> None:
        try:
            with self.connection:
                self.connection.executemany(
                    "INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", records
                )
        except sqlite3.Error as error:
            _warn(f"could not write to the cache {self.path}: {error}")

    def _read(self, sql: str, parameters: tuple) -> list[tuple]:
        try:
            return self.connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            _warn(f"could not read the cache {self.path}: {error}")
            return []

    def info(self) -> dict:
        query = "SELECT kind, COUNT(*) FROM summaries GROUP BY kind ORDER BY kind"
        counts = dict(self.connection.execute(query).fetchall())
        pairs = self.connection.execute("SELECT COUNT(*) FROM pairs").fetchone()[0]
        folders = self.connection.execute("SELECT COUNT(*) FROM folder_records").fetchone()[0]
        return {
            "path": self.path,
            "bytes": _size_on_disk(self.path),
            "entries": counts,
            "pairs": pairs,  # near-duplicate pairs kept for re-scans, all configurations
            "folder_records": folders,  # see simplugin.folder_records
        }

    def clear(self) -> tuple[int, int]:
        """Empty the cache: the numbers of entries and of pairs removed."""
        with self.connection:
            removed = self.connection.execute("DELETE FROM summaries").rowcount
            pairs = self.connection.execute("DELETE FROM pairs").rowcount
            for table in (*PAIR_TABLES[1:], *RECORD_TABLES):
                self.connection.execute(f"DELETE FROM {table}")
        self.connection.execute("VACUUM")
        return removed, pairs

    def close(self) -> None:
        self.connection.close()


def _with_keys(rows: list[tuple]) -> tuple[list[tuple], list]:
    """The rows whose bucket key (their last value) is JSON, and those keys. Decoded as
    one JSON array: one call, not one per photo; one by one only when that fails or
    gives another count (a cache changed by hand: those rows are missed, not trusted)."""
    rows = [row for row in rows if isinstance(row[5], bytes)]
    try:
        keys = json.loads(b"[" + b",".join(row[5] for row in rows) + b"]")
        if len(keys) == len(rows):
            return rows, keys
    except ValueError:
        pass
    kept, keys = [], []
    for row in rows:
        try:
            keys.append(json.loads(row[5]))
        except ValueError:
            continue
        kept.append(row)
    return kept, keys


def signature_array(signatures: Sequence[bytes | np.ndarray], kinds: Kinds) -> np.ndarray:
    """One array of the `signatures`, each the metric's array or its bytes, made from
    one buffer of their bytes: 100,000 small arrays cost ~0.3 s to make and stack."""
    data = bytearray().join(s if isinstance(s, bytes) else s.tobytes() for s in signatures)
    array = np.frombuffer(data, kinds.dtype)  # writable: a bytearray's
    return array.reshape(len(signatures), *kinds.shape)


def path_key(path: str) -> bytes:
    """A photo's key in the cache: its absolute path, as the file system's bytes."""
    return os.fsencode(os.path.abspath(path))


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


class _Foreign(Exception):
    """A database that is not a simplugin cache: not ours to change."""


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "meta" not in tables:
            raise _Foreign(f"{path} is a database of another program")
        if "meta" in tables:
            meta = dict(connection.execute("SELECT key, value FROM meta"))
            if meta.get("format") != FORMAT:
                raise _Foreign(f"{path} is a database of another program")
            if meta.get("schema") != SCHEMA_VERSION:  # ours, from another version: start anew
                dropped = ("summaries", *PAIR_TABLES, *RECORD_TABLES)
                connection.executescript("".join(f"DROP TABLE IF EXISTS {t};" for t in dropped))
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(_SCHEMA)
        create_table(connection)
        with connection:
            connection.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("format", FORMAT), ("schema", SCHEMA_VERSION)],
            )
        connection.isolation_level = "DEFERRED"
        return connection
    except BaseException:
        connection.close()
        raise


def _holds_something_else(path: str) -> bool:
    """True when `path` is a non-empty file that is not an SQLite database at all.
    Anything but a regular file there (a FIFO would hang SQLite and this check alike)
    is the user's, never a cache: `_Foreign`."""
    try:
        with open_regular(path) as file:
            head = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return False
    except NotRegularFile as error:
        raise _Foreign(f"{path} is {error.kind}, not a cache; leaving it as it is") from None
    return bool(head) and head != _SQLITE_HEADER


def _set_aside(path: str, why: str) -> None:
    aside = f"{path}.unusable-{time.strftime('%Y%m%d-%H%M%S')}"
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    warnings.warn(
        f"the cache {path} {why}: kept as {aside}, starting a new one", CacheWarning, stacklevel=3
    )


def _size_on_disk(path: str) -> int:
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
