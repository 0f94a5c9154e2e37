"""The data that flows between the stages of a scan, and the interfaces plugins implement.

Two families live here:

* Results (frozen dataclasses): a `Photo` that was summarised, a `Skipped` file and
  why, a near-duplicate `Pair`, a `Group` with its keeper, and the whole `ScanResult`
  that sinks receive and the Python API returns.
* Plugin contributions (abstract base classes): a `Metric`, a `Bucketer` and a `Sink`.
  A plugin subclasses one, gives it a `name`, and hands an instance to the matching
  `register_*` hook (see `simplugin.hookspecs`). The engine then calls the object
  directly, so no hook runs per photo or per pair.
"""

from __future__ import annotations

import abc
import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from .text import quoted

if TYPE_CHECKING:  # imported for annotations only: keeps `import simplugin` light
    import numpy as np
    from PIL import Image


# --- results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo that was read and summarised.

    `path` is written the way the user would type it: relative when the scanned folder
    was given relative. Width and height are as displayed, after EXIF orientation.
    """

    path: str
    size: int  # bytes on disk
    mtime_ns: int
    width: int
    height: int
    format: str  # Pillow's name for the file format: "JPEG", "PNG", ...
    sidecars: tuple[str, ...] = ()  # .xmp, .aae, .json... files that belong to this photo

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that looked like a photo but could not be used, with a one-line reason."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Pair:
    """Two photos whose distance is below the threshold.

    `identical` is True when the two files hold the same bytes (the same SHA-256).
    """

    a: Photo
    b: Photo
    distance: float
    identical: bool = False


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A member of a group other than its keeper, with its distance to the keeper;
    `identical` when it is a byte-for-byte copy of the keeper. `via` is None when the
    photo and the keeper are a near-duplicate pair; otherwise the photo is in the group
    only through a chain of pairs, and `via` is the photo it is paired with on the
    shortest chain towards the keeper (its distance to the keeper may then be over the
    threshold)."""

    photo: Photo
    distance: float
    identical: bool = False
    via: Photo | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A set of near-duplicates: the connected photos of the near-duplicate pairs.

    `keep` is the photo to keep (chosen by the `choose_keeper` hook); `duplicates` are
    the others, most similar to the keeper first.
    """

    keep: Photo
    duplicates: tuple[Duplicate, ...]

    @property
    def photos(self) -> tuple[Photo, ...]:
        return (self.keep, *(d.photo for d in self.duplicates))


# What the keeper rule prefers by default: the camera's own file over any re-export, then
# the most pixels, the least compressed file and the shortest path.
DEFAULT_KEEP = ("original", "largest", "biggest-file", "shortest-path")


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """What a scan was asked to do, as the `scan_started` hook sees it."""

    roots: tuple[str, ...]
    metric: str
    threshold: float
    bucketer: str | None = None
    bucketer_options: Mapping[str, Any] = field(default_factory=dict)
    undated: str = "compare-all"  # photos without a bucket key: "compare-all" or "separate"
    follow_symlinks: bool = False
    exclude: tuple[str, ...] = ()  # folders not to read, such as where duplicates are moved
    only_identical: bool = False  # only byte-identical copies count as duplicates
    rotations: bool = False  # a photo also matches its turned and mirrored copies
    # the keeper rule's criteria, in order: "original", "largest", "path:FOLDER"...
    keep: tuple[str, ...] = DEFAULT_KEEP
    # folders and files never changed (absolute paths): their photos are kept, never moved
    protect: tuple[str, ...] = ()

    @property
    def compared_below(self) -> float:
        """What the metric compares distances with. "Below 0" would find nothing, so a
        threshold of 0 asks for distance 0 (identical photos): below the smallest float
        above 0, which no distance other than 0 is."""
        return self.threshold if self.threshold > 0 else math.nextafter(0.0, 1.0)

    def protects(self, path: str) -> bool:
        """Whether `path` is a protected file or under a protected folder: as written,
        or once its links are resolved (a protected photo reached through a link to its
        folder is still protected)."""
        if not self.protect:
            return False
        paths = {os.path.abspath(path), os.path.realpath(path)}
        return any(
            os.path.commonpath([candidate, protected]) == protected
            for protected in {*self.protect, *map(os.path.realpath, self.protect)}
            for candidate in paths
        )


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a scan found. Sinks receive it; `simplugin.scan()` returns it."""

    settings: ScanSettings
    photos: tuple[Photo, ...]
    skipped: tuple[Skipped, ...]
    pairs: tuple[Pair, ...]  # most similar first
    groups: tuple[Group, ...]  # most similar first
    undated: int | None = None  # photos the bucketer found no key for; None without one
    from_cache: int = 0  # photos whose summary came from the signature cache
    ignored: int = 0  # near-duplicate pairs left out by the ignore list ('simplugin ignore')
    # near-duplicate pairs taken from the last scan's (the pair cache) rather than compared
    pairs_reused: int = 0

    @property
    def duplicates(self) -> tuple[Photo, ...]:
        """Every photo that a group does not keep."""
        return tuple(d.photo for g in self.groups for d in g.duplicates)

    @property
    def protected_duplicates(self) -> tuple[Photo, ...]:
        """The duplicates that no sink may change: those under `settings.protect` (in a
        group that holds only protected photos)."""
        return tuple(p for p in self.duplicates if self.settings.protects(p.path))

    def closest(self) -> tuple[float, ...]:
        """Each group's "closest" figure, which the text report and the page both show:
        the distance of its most similar near-duplicate pair (the figure groups are
        ordered by), whichever photo is kept. A group none of whose pairs is left (its
        photos protected) falls back to its duplicate nearest the keeper."""
        group_of = {photo.path: n for n, group in enumerate(self.groups) for photo in group.photos}
        closest = [min(d.distance for d in group.duplicates) for group in self.groups]
        for pair in self.pairs:
            n = group_of.get(pair.a.path)
            if n is not None and group_of.get(pair.b.path) == n:
                closest[n] = min(closest[n], pair.distance)
        return tuple(closest)

    def without_protected(self) -> ScanResult:
        """This result as a sink that changes files receives it: the protected
        duplicates left out, and the groups left with no other duplicate."""
        if not self.settings.protect:
            return self
        protected = set(self.protected_duplicates)
        groups = []
        for group in self.groups:
            duplicates = tuple(d for d in group.duplicates if d.photo not in protected)
            if duplicates:
                groups.append(Group(group.keep, duplicates))
        return replace(self, groups=tuple(groups))


# --- plugin contributions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """An option a bucketer or sink accepts, e.g. the JSON sink's `path`.

    The host checks names and converts values (command-line text included) with
    `type` before the plugin sees them, so a plugin never parses its own options.
    `type` is a type (`str`, `int`, `float`, `bool`) or, as for argparse, a function
    that converts a value or raises ValueError.
    """

    type: Callable[[Any], Any]
    help: str
    default: Any = None
    required: bool = False

    def convert(self, value: Any) -> Any:
        if isinstance(self.type, type) and not isinstance(value, str):
            # A typed value (from a TOML file or a script) must have the right type.
            if isinstance(value, self.type) and (self.type is bool) == isinstance(value, bool):
                return value
            if self.type is float and type(value) is int:
                return float(value)
            raise TypeError(f"expected {self.type.__name__}, not {quoted(value)}")
        if self.type is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {quoted(value)}")
        return self.type(value)


class Contribution(abc.ABC):
    """What metrics, bucketers and sinks share: a unique name and a one-line description."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}
    # Bump when what an older version computed (a signature, a bucket key) is no
    # longer valid: simplugin's signature cache keys its entries by name and version.
    version: ClassVar[str] = "1"


class Metric(Contribution):
    """How alike two photos are.

    A metric turns each photo into a fixed-size signature (a numpy array of
    `signature_shape` and `signature_dtype`), then measures the distance between two
    signatures: 0 is identical, and a pair is a near-duplicate when its distance is
    strictly below the threshold (a threshold of 0 asks for distance 0: the engine then
    passes the smallest float above 0). The engine stacks all signatures in one array and
    asks `pairs_within` for the near-duplicate pairs, so a metric can do that bulk work in
    vectorised code; the default implementation calls `distance` for every pair.

    `distance_range` is the lowest and highest distance the metric gives: a threshold
    outside it is refused as a usage error, naming the range. `thresholds` names
    thresholds a user can give as words (`--threshold strict`); "default" is always
    `default_threshold`.

    Some scans ask more of a comparison; the engine then passes a keyword, and passes
    nothing new otherwise, so a metric that knows none of them works unchanged:

    * `rotations=True` (`--rotations`), to `pairs_within`, `pairs_between` and
      `distance`: a photo also matches its copies turned by 90, 180 or 270 degrees or
      mirrored, pixels and all; the distance is the smallest over those orientations.
      Only a metric that sets `supports_rotations = True` is asked; asking for rotations
      with another is a usage error naming it.
    * `burst=True|False`, to `pairs_within` and `pairs_between` of a metric that sets
      `uses_bursts = True`: True when the photos compared are one bucket of the bucketer
      (for `exif-time`, photos within `window` of each other), False otherwise (photos
      without a bucket key, everything compared at once without a bucketer). It may
      then find pairs within a burst that it would not trust across a whole library.

    Whether a pair is a near-duplicate, and its distance, must depend only on the two
    signatures and the keywords asked (not on the other photos compared with them): a
    re-scan takes the pairs of unchanged photos from the cache instead of asking again.
    Bump `version` when that answer changes for the same signatures.

    `unavailable` says why the metric cannot run in this installation (an optional
    library missing); the scan then stops before reading a photo, with that one line.
    """

    default_threshold: ClassVar[float]
    distance_range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    thresholds: ClassVar[Mapping[str, float]] = {}
    signature_shape: ClassVar[tuple[int, ...]]
    signature_dtype: ClassVar[str] = "uint8"
    # The smallest width and height `signature` needs. JPEGs are then decoded at a
    # reduced scale (1/2 to 1/8) no smaller than this: several times faster than a full
    # decode. None decodes every photo at full size.
    decode_size: ClassVar[int | None] = None
    # True: `pairs_within` and `pairs_between` take the keyword `burst` (see above).
    uses_bursts: ClassVar[bool] = False
    # Whether its comparisons take `rotations=True` (see above).
    supports_rotations: ClassVar[bool] = False

    def unavailable(self) -> str | None:
        """Why this metric cannot be used here, in a few words with the fix (such as a
        package to install), or None when it can. Asked once per scan."""
        return None

    def named_thresholds(self) -> dict[str, float]:
        """The words `--threshold` takes for this metric, with their numbers."""
        return {**self.thresholds, "default": self.default_threshold}

    def threshold_of(self, given: float | str) -> float:
        """The threshold a user gave, as a number: a word this metric names, or a number
        within its distances. Anything else is a ValueError saying what it takes."""
        words = self.named_thresholds()
        low, high = self.distance_range
        numbers = f"from {low:g} to {high:g}" if math.isfinite(high) else f"of {low:g} or more"
        *others, last = words
        named = f"{', '.join(others)} or {last}" if others else last
        accepted = f"a number {numbers}, or {named}"
        if isinstance(given, str):
            if given.strip().lower() in words:
                return float(words[given.strip().lower()])
            raise ValueError(f"{quoted(given)} is no threshold of {self.name}: give {accepted}")
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            raise ValueError(f"{quoted(given)} is not a threshold: give {accepted}")
        value = float(given)
        if not (math.isfinite(value) and max(low, 0.0) <= value <= high):
            raise ValueError(f"{value:g} is outside {self.name}'s distances: give {accepted}")
        return value

    @abc.abstractmethod
    def signature(self, image: Image.Image) -> np.ndarray:
        """Summarise a photo, given as displayed: EXIF orientation applied, mode RGB."""

    @abc.abstractmethod
    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """The distance between two signatures: 0.0 when identical."""

    def facts(self, a: np.ndarray, b: np.ndarray) -> Mapping[str, Any]:
        """What else this metric can tell a person about two signatures, for
        `simplugin explain` (such as how many keypoints agree), by name; none by default."""
        return {}

    def pairs_within(
        self, signatures: np.ndarray, threshold: float, **asked: Any
    ) -> Iterable[tuple[int, int, float]]:
        """Every `(i, j, distance)` with `i < j` and `distance < threshold`.

        `signatures` has one row per photo (shape `(n, *signature_shape)`). Override
        this with a vectorised or indexed search; the result must be the same as this
        pairwise reference, which hands `distance` the keywords it is given (`asked`).
        """
        for i, j in itertools.combinations(range(len(signatures)), 2):
            d = self.distance(signatures[i], signatures[j], **asked)
            if d < threshold:
                yield i, j, d

    def pairs_between(
        self, left: np.ndarray, right: np.ndarray, threshold: float, **asked: Any
    ) -> Iterable[tuple[int, int, float]]:
        """Every `(i, j, distance)` with `distance(left[i], right[j]) < threshold`.

        Used to compare photos without a bucket key with all the others. The default
        calls `distance` for every pair; override it as you would `pairs_within`.
        """
        for i, j in itertools.product(range(len(left)), range(len(right))):
            d = self.distance(left[i], right[j], **asked)
            if d < threshold:
                yield i, j, d

    def partition_key(
        self, signatures: np.ndarray, threshold: float, **asked: Any
    ) -> tuple[np.ndarray, float] | None:
        """Optional: a number per signature and a window, such that any two signatures
        nearer than `threshold` have numbers less than the window apart (a 1-Lipschitz
        projection of the distance, such as `avgdiff`'s sum of values).

        The engine then splits a large comparison exactly: the signatures sorted by
        their number are cut into bands, each compared with itself and with the
        following signatures up to the window, on as many workers as the executor has;
        no pair is missed or found twice. None (the default): the engine splits the
        comparison into blocks of the full pair matrix instead. Takes the keywords
        `pairs_within` takes (`asked`).
        """
        return None


class Bucketer(Contribution):
    """Splits the photos into buckets; only photos in the same bucket are compared.

    `key` runs once per photo while it is summarised (in a worker process) and
    returns a small JSON value (a capture time, a camera serial...), which is cached
    with the photo's signature, or None when the photo has none.
    `buckets` then receives every photo with its key and returns the buckets of the
    photos that have a key, as lists of indices into `photos`; a photo may be in
    several buckets. The photos without a key are left to the engine, which compares
    them with every photo or only with each other, as the user chose (`--undated`).
    """

    @abc.abstractmethod
    def key(self, path: str) -> Any:
        """The bucketing key of one photo, or None when it has none."""

    def describe_key(self, key: Any) -> str:
        """A key as a person reads it, for `simplugin explain` (a capture time as a date)."""
        return str(key)

    @abc.abstractmethod
    def buckets(
        self, photos: Sequence[Photo], keys: Sequence[Any], options: Mapping[str, Any]
    ) -> Iterable[Sequence[int]]:
        """Group the indices of photos with a key into buckets worth comparing."""


class Sink(Contribution):
    """Where a scan result goes: a report on stdout, a JSON file, a folder to move to.

    Sinks are the only parts of simplugin that write output or touch the user's files.
    A sink that changes the user's files (moves, trashes, renames, deletes or rewrites the
    photos a scan found, or their sidecars) sets `changes_files = True`: then it runs only
    when the command line asks for it (`--sink NAME`, or `--apply` for the configuration
    file's sinks), never from a configuration file alone and never in `review`. A sink
    that only writes its own report to a path it is given leaves it False.
    """

    changes_files: bool = False

    @abc.abstractmethod
    def write(self, result: ScanResult, options: Mapping[str, Any]) -> None:
        """Deliver `result`. `options` are this sink's declared options, converted.

        Raise `simplugin.OutputIncomplete` when part of the work could not be done
        (after telling the user about each failure); any other exception is reported
        as this sink's plugin failing.
        """

    def excluded_paths(self, options: Mapping[str, Any]) -> Sequence[str]:
        """Folders the scan must not read because this sink writes into them."""
        return ()

    def unavailable(self) -> str | None:
        """Why this sink cannot be used here, in a few words with the fix (such as an
        extra to install), or None when it can. Asked before any photo is read."""
        return None


class Workers(abc.ABC):
    """A running executor: where the engine sends the scan's tasks (reading photos,
    large comparisons). Used as a context manager: leaving it ends the workers; leaving
    it on an exception ends them at once, whatever they are doing.

    Each task is a module-level function called on a worker as `task(context, *args)`,
    `context` being the object the executor was started with (the scan's reader: its
    metric and bucketer). Tasks never start processes of their own: the executor is
    the scan's only source of parallelism.
    """

    # How many tasks run at once: the engine keeps about this many busy.
    slots: int
    # Comparisons with fewer candidate pairs than this stay in the scan's own process:
    # below it, sending the work out costs more than it saves.
    spread_from: int = 0

    @abc.abstractmethod
    def submit(self, task: Callable[..., Any], *args: Any) -> Any:
        """Run `task(context, *args)` on a worker; returns a future (an object with
        `result()`, which returns the task's value or raises what it raised)."""

    @abc.abstractmethod
    def worker_lost(self, error: BaseException) -> bool:
        """Whether `error`, raised by a future's `result()`, means the worker running
        the task died (a decoder crashing, the memory running out), rather than the
        task raising. The engine then retries the photos in flight one by one, and a
        photo that loses a worker again is skipped."""

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(at_once=error is not None)

    @abc.abstractmethod
    def close(self, at_once: bool = False) -> None:
        """Release the workers; `at_once`: without waiting for the tasks running."""


class Executor(Contribution):
    """Where a scan's work runs: `local` (the default) forks processes on this
    machine; others (`dask`) send it to other machines. Registered by
    `register_executors`, chosen with `--executor NAME` and configured with
    `--executor-option KEY=VALUE` for each option it declares.
    """

    @abc.abstractmethod
    def start(self, options: Mapping[str, Any], jobs: int, context: Any) -> Workers:
        """Workers for one scan. `options` are this executor's declared options,
        converted; `jobs` the number of processes the user asked for (`--jobs`, else
        `SIMPLUGIN_JOBS`, else one per core); `context` is passed to every task."""

    def unavailable(self) -> str | None:
        """Why this executor cannot be used here, in a few words with the fix (such as
        an extra to install), or None when it can. Asked before any photo is read."""
        return None
