"""The pair cache: a re-scan compares only what changed.

Next to the signatures, the cache file keeps, per configuration of the comparison
(metric and version, threshold, rotations, bucketer with its version and options,
`--undated`), what the last scan under it compared: each photo (by path) with a digest
of its signature and bucket key and the bucket it was in, and the near-duplicate pairs
it found, with their distances.

A photo whose digest is unchanged is "kept"; every other photo is "fresh". A pair of
two kept photos that the last scan compared, and this scan compares the same way, has
the same answer as then, because a metric's pair decision depends only on the two
signatures and the keywords the engine asks (see `Metric`). So the engine asks the
metric only about the pairs with a fresh photo, and the pairs of kept photos that the
last scan did not compare (a new photo joining two bursts into one bucket makes their
photos comparable), and takes the rest from here. The result is the same as a scan
without a cache, always.

The comparisons are those `engine.bucket` makes: one per bucket (`burst=True`), the
photos without a bucket key among themselves, and those against the dated photos
(`--undated compare-all`). Two kept photos were compared by the last scan when both
have no key, when one has none and `--undated` is compare-all (the configuration
holds it), or when both were in the same bucket; a photo that was in several buckets
or none is counted fresh, so that one bucket number per photo says it all.

What is stored is the difference from the last state only: a re-scan of an unchanged
library writes next to nothing. Only the last `CONFIGURATIONS` configurations used are
kept. Two scans writing the same configuration at once: the second one to finish
leaves the first one's state in place (a generation number tells).
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING

from .cache import CacheWarning, SignatureCache
from .pair_digests import completed

if TYPE_CHECKING:
    from .engine import Comparison, ScanContext, Summaries

CONFIGURATIONS = 4  # configurations kept, the most recently used
UNDATED = -1  # the class of the photos without a bucket key

IndexPairs = dict[tuple[int, int], float]


def configuration(context: ScanContext) -> str:
    """What decides which pairs a scan compares, and how: the key of its stored pairs."""
    settings, metric, bucketer = context.settings, context.metric, context.bucketer
    return json.dumps(
        {
            "metric": [metric.name, metric.version],
            "threshold": repr(settings.threshold),  # exactly, not rounded
            "rotations": settings.rotations,
            "bucketer": [bucketer.name, bucketer.version] if bucketer else None,
            "bucketer_options": settings.bucketer_options,
            "undated": settings.undated,
        },
        sort_keys=True,
        default=repr,
    )


@dataclass(frozen=True)
class Stored:
    """One configuration's state, as the last scan under it left it."""

    configuration: int  # its row
    generation: int  # bumped by each scan that stores a state
    # The photos, as columns of one row each (100,000 tuples of 4 cost ~10 MB more)
    paths: Sequence[bytes]
    ids: Sequence[int]
    digests: Sequence[bytes]
    buckets: Sequence[int | None]
    row_of: Mapping[bytes, int]  # path: its row
    pairs: Mapping[tuple[int, int], float]  # (id, id), smaller first: distance

    @classmethod
    def empty(cls, configuration: int = -1, generation: int = -1) -> Stored:
        return cls(configuration, generation, (), (), (), (), {}, {})


@dataclass(frozen=True, eq=False)
class Recalled:
    """The stored state matched against this scan's photos (indices into them)."""

    stored: Stored
    keys: tuple[bytes, ...]  # each photo's path, as stored
    digests: tuple[bytes | None, ...]
    rows: Sequence[int | None]  # each photo's stored row, None for a new path
    kept_class: Sequence[int | None]  # each photo's bucket last time, or UNDATED; None: fresh
    pairs: IndexPairs  # the stored pairs of two kept photos
    compare_all: bool  # undated photos were and are compared with the dated ones

    def fresh(self, index: int) -> bool:
        return self.kept_class[index] is None

    def compared_then(self, a: int, b: int) -> bool:
        """Whether the last scan compared two kept photos, given that this one does."""
        first, second = self.kept_class[a], self.kept_class[b]
        return first == second or (self.compare_all and UNDATED in (first, second))

    def needed(self, comparisons: Sequence[Comparison]) -> list[Comparison]:
        """What is left to compare: each comparison's pairs that have a fresh photo,
        or that the last scan did not compare."""
        return [part for comparison in _pairing(comparisons) for part in self._needed(comparison)]

    def _needed(self, comparison: Comparison) -> Iterator[Comparison]:
        if comparison.right is None:
            yield from self._needed_within(comparison)
            return
        fresh_left, kept_left = self._split(comparison.left)
        fresh_right, kept_right = self._split(comparison.right)
        if fresh_left:
            yield replace(comparison, left=fresh_left)
        if kept_left and fresh_right:
            yield replace(comparison, left=kept_left, right=fresh_right)
        for members in self._classes(kept_left):
            others = [j for j in kept_right if not self.compared_then(members[0], j)]
            if others:
                yield replace(comparison, left=members, right=others)

    def _needed_within(self, comparison: Comparison) -> Iterator[Comparison]:
        classes = {self.kept_class[i] for i in comparison.left}
        if len(classes) == 1 and None not in classes:
            return  # kept photos of one bucket, all compared last time: most buckets
        fresh_left, kept_left = self._split(comparison.left)
        if len(fresh_left) > 1:
            yield replace(comparison, left=fresh_left)
        if fresh_left and kept_left:
            yield replace(comparison, left=fresh_left, right=kept_left)
        kept_classes = self._classes(kept_left)
        for n, members in enumerate(kept_classes[:-1]):
            yield replace(comparison, left=members, right=_joined(kept_classes[n + 1 :]))

    def _split(self, members: Iterable[int]) -> tuple[list[int], list[int]]:
        fresh, kept = [], []
        for i in members:
            (fresh if self.fresh(i) else kept).append(i)
        return fresh, kept

    def _classes(self, kept: Iterable[int]) -> list[list[int]]:
        """Kept photos by their bucket last time: photos of one class were compared
        with each other. Undated photos, when they were compared with every photo,
        need no comparison among kept photos at all: they are left out."""
        classes: dict[int, list[int]] = defaultdict(list)
        for i in kept:
            if not (self.compare_all and self.kept_class[i] == UNDATED):
                classes[self.kept_class[i]].append(i)
        return list(classes.values())

    def reused(self, comparisons: Sequence[Comparison]) -> IndexPairs:
        """The stored pairs that this scan compares, as the last scan did."""
        wanted = {i for pair in self.pairs for i in pair}
        within: dict[int, set[int]] = defaultdict(set)
        left: dict[int, set[int]] = defaultdict(set)
        right: dict[int, set[int]] = defaultdict(set)
        for number, comparison in enumerate(_pairing(comparisons)):
            for i in comparison.left:
                if i in wanted:
                    (within if comparison.right is None else left)[i].add(number)
            for i in comparison.right or ():
                if i in wanted:
                    right[i].add(number)
        return {
            (a, b): distance
            for (a, b), distance in self.pairs.items()
            if self.compared_then(a, b)
            and (within[a] & within[b] or left[a] & right[b] or left[b] & right[a])
        }


def _pairing(comparisons: Iterable[Comparison]) -> list[Comparison]:
    """The comparisons that hold a pair: not the buckets of one photo, most of them in a
    library of few bursts (skipping them at once saves ~0.1 s per 100,000)."""
    return [c for c in comparisons if c.right is not None or len(c.left) > 1]


def _joined(classes: Iterable[list[int]]) -> list[int]:
    return [i for members in classes for i in members]


class PairCache:
    """The stored pairs of one configuration, in a signature cache's file."""

    def __init__(self, cache: SignatureCache, context: ScanContext):
        self.cache = cache
        self.configuration = configuration(context)
        self.below = context.settings.compared_below  # what every stored distance is below
        self.reused = 0  # pairs the last `recall`ed scan took from here

    def recall(self, summaries: Summaries, compare_all: bool) -> Recalled:
        """The stored state, matched against `summaries`' photos."""
        stored = self._load()
        keys = tuple(self.cache.keys([photo.path for photo in summaries.photos]))
        # As the cache kept them (`Summaries.digests`), else made now
        kept = summaries.digests or (None,) * len(summaries.photos)
        digests = completed(kept, summaries.signatures, summaries.keys)
        rows = tuple(map(stored.row_of.get, keys))  # in C: no Python loop per photo
        known, buckets = stored.digests, stored.buckets
        # A stored bucket of None, for a dated photo: in several buckets or none last time
        kept_class = [
            None
            if row is None or found is None or known[row] != found
            else UNDATED
            if bucket_key is None
            else buckets[row]
            for row, found, bucket_key in zip(rows, digests, summaries.keys, strict=True)
        ]
        pairs = _kept_pairs(stored, rows, kept_class)
        return Recalled(stored, keys, digests, rows, kept_class, pairs, compare_all)

    def remember(
        self, recalled: Recalled, comparisons: Sequence[Comparison], found: IndexPairs
    ) -> None:
        """Store this scan's state, writing only what differs from the stored one."""
        buckets = _buckets(recalled, comparisons)
        try:
            with self.cache.connection:
                self.cache.connection.execute("BEGIN IMMEDIATE")
                _Writing(self.cache.connection, recalled, buckets, found).run()
                _forget_unused(self.cache.connection)
        except sqlite3.Error as error:
            _warn(f"could not write the pairs to the cache {self.cache.path}: {error}")

    def _load(self) -> Stored:
        connection = self.cache.connection
        try:
            with connection:
                connection.execute(
                    "INSERT OR IGNORE INTO pair_configurations (key, generation, used_ns)"
                    " VALUES (?, 0, ?)",
                    (self.configuration, time.time_ns()),
                )
            connection.execute("BEGIN")  # one snapshot, whatever another scan writes
            try:
                stored = self._read(connection)
            finally:
                connection.execute("COMMIT")
            if stored is not None:
                return stored
            _warn(
                f"the pairs kept in the cache {self.cache.path} do not add up (changed by"
                " hand, or damaged): comparing every photo again"
            )
            with connection:
                _forget_state(connection, self.configuration)
            return self._load()  # empty now: this scan stores its state anew
        except sqlite3.Error as error:
            _warn(f"could not read the pairs in the cache {self.cache.path}: {error}")
            return Stored.empty()

    def _read(self, connection: sqlite3.Connection) -> Stored | None:
        """The stored state; None when it does not add up: a pair of photos it does not
        hold, a distance that is no number below the threshold, fewer or more pairs
        than were written. (A pair made up at a likely distance would pass: the cache is
        the user's own file, and this is no defence against them.)"""
        row = connection.execute(
            "SELECT id, generation, pairs FROM pair_configurations WHERE key = ?",
            (self.configuration,),
        ).fetchone()
        if row is None:  # just forgotten by a scan under other configurations
            return Stored.empty()
        number, generation, count = row
        photo_rows = connection.execute(
            "SELECT path, id, digest, bucket FROM pair_photos WHERE configuration = ?", (number,)
        ).fetchall()
        paths, ids, digests, buckets = _columns(photo_rows)
        pair_rows = connection.execute(
            "SELECT a, b, distance FROM pairs WHERE configuration = ?", (number,)
        )
        pairs = {(a, b): distance for a, b, distance in pair_rows}
        known = set(ids)
        if len(pairs) != count or not all(
            a < b and a in known and b in known and type(d) is float and 0.0 <= d < self.below
            for (a, b), d in pairs.items()
        ):
            return None
        row_of = _positions(paths)
        return Stored(number, generation, paths, ids, digests, buckets, row_of, pairs)


def _columns(rows: list[tuple]) -> tuple[list, ...]:
    """Rows of four as four columns, made in C (by item: ~40% less time than
    `zip(*rows)`, which makes an iterator per row)."""
    return tuple(list(map(itemgetter(n), rows)) for n in range(4))


def _positions(items: Sequence) -> dict:
    """Each item: its position. Made in C, ~4 times faster than by a loop."""
    return dict(zip(items, range(len(items)), strict=True))


def _kept_pairs(stored: Stored, rows: Sequence[int | None], kept_class: Sequence) -> IndexPairs:
    """The stored pairs of two kept photos, by their indices in this scan."""
    ids = stored.ids
    # One dict from the stored ids straight to this scan's indices (two dicts, through
    # the rows, took ~10 ms more for 100,000 photos). None: new photos, never looked up.
    index_of_id = _positions([None if row is None else ids[row] for row in rows])
    pairs = {}
    for (a, b), distance in stored.pairs.items():
        first, second = index_of_id.get(a), index_of_id.get(b)
        if first is None or second is None:
            continue
        if kept_class[first] is not None and kept_class[second] is not None:
            pairs[_ordered(first, second)] = distance
    return pairs


def _buckets(recalled: Recalled, comparisons: Sequence[Comparison]) -> list[int | None]:
    """Each photo's bucket number for the next scan, for the dated photos in exactly one
    bucket (None for the others). A bucket keeps the number its kept photos had when
    they all had one (so that an unchanged library rewrites none), else takes a new one."""
    bursts = [c.left for c in comparisons if c.burst and c.right is None]
    members = list(chain.from_iterable(bursts))
    several = set()
    if len(set(members)) != len(members):  # rare: counting them all costs ~30 ms
        several = {i for i, count in Counter(members).items() if count > 1}
    stored = [number for number in recalled.stored.buckets if number is not None]
    following = max(stored, default=-1) + 1
    claimed: set[int] = set()
    numbers: list[int | None] = [None] * len(recalled.keys)
    kept_class = recalled.kept_class
    for burst in bursts:
        if len(burst) == 1:  # most are: no set to make
            number = kept_class[burst[0]]
        else:
            before = {kept_class[i] for i in burst} - {None}
            number = before.pop() if len(before) == 1 else None
        if number is None or number in claimed:
            number, following = following, following + 1
        claimed.add(number)
        for i in burst:
            numbers[i] = number
    for i in several:
        numbers[i] = None
    return numbers


class _Writing:
    """Turning the stored state into this scan's, by differences, in one transaction."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        recalled: Recalled,
        buckets: Sequence[int | None],
        found: IndexPairs,
    ):
        self.connection = connection
        self.recalled = recalled
        self.stored = recalled.stored
        self.buckets = buckets
        self.found = found

    def run(self) -> None:
        stored = self.stored
        row = self.connection.execute(
            "SELECT generation FROM pair_configurations WHERE id = ?", (stored.configuration,)
        ).fetchone()
        if row is None or row[0] != stored.generation:
            return  # another scan stored its state meanwhile: that one stays
        self.connection.execute(
            "UPDATE pair_configurations SET generation = generation + 1, used_ns = ? WHERE id = ?",
            (time.time_ns(), stored.configuration),
        )
        ids = self.photos()
        self.pairs(ids)

    def photos(self) -> list[int]:
        """Write the photos that are new or differ; return every photo's id."""
        unchanged = self._unchanged()
        if unchanged is not None:
            return unchanged
        stored, recalled = self.stored, self.recalled
        query = "SELECT COALESCE(MAX(id), 0) + 1 FROM pair_photos"
        following = self.connection.execute(query).fetchone()[0]
        ids, inserted, updated = [], [], []
        for key, found, number, at in zip(
            recalled.keys, recalled.digests, self.buckets, recalled.rows, strict=True
        ):
            row = (found or b"", number)
            if at is None:
                ids.append(following)
                inserted.append((stored.configuration, key, following, *row))
                following += 1
                continue
            ids.append(stored.ids[at])
            if (stored.digests[at], stored.buckets[at]) != row:
                updated.append((*row, stored.ids[at]))
        gone = set(range(len(stored.paths))) - set(recalled.rows)
        self.connection.executemany(
            "DELETE FROM pair_photos WHERE id = ?", ((stored.ids[at],) for at in gone)
        )
        self.connection.executemany("INSERT INTO pair_photos VALUES (?, ?, ?, ?, ?)", inserted)
        self.connection.executemany(
            "UPDATE pair_photos SET digest = ?, bucket = ? WHERE id = ?", updated
        )
        return ids

    def _unchanged(self) -> list[int] | None:
        """Every photo's id when the stored photos are exactly this scan's, with the same
        digests and buckets: checked with lists compared in C, ~10 ms for 100,000 photos
        where writing them row by row takes ~0.2 s. None otherwise."""
        stored, rows, digests = self.stored, self.recalled.rows, self.recalled.digests
        if None in rows or None in digests or len(set(rows)) != len(stored.paths):
            return None
        if list(map(stored.digests.__getitem__, rows)) != list(digests):
            return None
        if list(map(stored.buckets.__getitem__, rows)) != self.buckets:
            return None
        return list(map(stored.ids.__getitem__, rows))

    def pairs(self, ids: Sequence[int]) -> None:
        """The stored pairs become the found ones; those found again stay as they are."""
        found = {_ordered(ids[a], ids[b]): d for (a, b), d in self.found.items()}
        stored, number = self.stored.pairs, self.stored.configuration
        self.connection.executemany(
            "DELETE FROM pairs WHERE configuration = ? AND a = ? AND b = ?",
            ((number, *pair) for pair in stored.keys() - found.keys()),
        )
        self.connection.executemany(
            "INSERT OR REPLACE INTO pairs VALUES (?, ?, ?, ?)",
            ((number, *pair, d) for pair, d in found.items() if stored.get(pair) != d),
        )
        self.connection.execute(
            "UPDATE pair_configurations SET pairs = ? WHERE id = ?", (len(found), number)
        )


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _forget_state(connection: sqlite3.Connection, key: str) -> None:
    """Drop a configuration's stored state: its next scan compares everything."""
    found = connection.execute("SELECT id FROM pair_configurations WHERE key = ?", (key,))
    _forget(connection, found.fetchall())


def _forget(connection: sqlite3.Connection, configurations: list[tuple[int]]) -> None:
    for table in ("pairs", "pair_photos"):
        connection.executemany(f"DELETE FROM {table} WHERE configuration = ?", configurations)
    connection.executemany("DELETE FROM pair_configurations WHERE id = ?", configurations)


def _forget_unused(connection: sqlite3.Connection) -> None:
    """Keep only the most recently used configurations."""
    old = connection.execute(
        "SELECT id FROM pair_configurations ORDER BY used_ns DESC LIMIT -1 OFFSET ?",
        (CONFIGURATIONS,),
    ).fetchall()
    _forget(connection, old)


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)
