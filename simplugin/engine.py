"""The scan: find the files, summarise each photo, compare within buckets, group, deliver.

    walk -> summarise -> bucket -> compare -> group -> sinks

Each stage is one function below, given the scan's `ScanContext` (its plugins, settings,
metric and bucketer) and what the stage before found. Plugins contribute the objects
the stages call (the metric, the bucketer, the sinks); the stages call those objects
directly, and call hooks only once per scan, per group or per skipped file.
"""

from __future__ import annotations

import gc
import itertools
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import numpy as np

from . import exif
from .cache import Kinds, SignatureCache, signature_array
from .discover import Candidate, is_pattern, walk
from .errors import PluginError, SimpluginError, UsageError
from .executors import LocalWorkers
from .identical import Digests, identical_pairs
from .ignored import for_scan, ignored_pairs
from .laplacian import measure_all
from .pair_cache import PairCache
from .partition import Search, candidate_pairs, holds_no_pair, plan_tasks, run_tasks
from .plugins import PluginHost, PluginWarning, load_plugins, resolve_options
from .reading import Found, Reader, Summary, jobs_to_use, read_all
from .settings import DEFAULT_EXCLUDES, UNDATED_CHOICES, checked_keep, resolve, with_settings
from .text import printable, tell
from .types import (
    Bucketer,
    Duplicate,
    Executor,
    Group,
    Metric,
    Pair,
    Photo,
    ScanResult,
    ScanSettings,
    Sink,
    Skipped,
    Workers,
)


class Progress(Protocol):
    """Where the engine reports how far it is; the command line draws it on stderr."""

    def stage(self, name: str, total: int | None) -> None: ...

    def found(self, total: int, finished: bool = False) -> None:
        """The walk has found `total` files to read so far; `finished`: all of them."""

    def advance(self, count: int = 1) -> None: ...


class NoProgress:
    def stage(self, name: str, total: int | None) -> None:
        pass

    def found(self, total: int, finished: bool = False) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


@dataclass(frozen=True)
class SinkRequest:
    """A sink to run after the scan, by name, with its options as given by the user."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """Compare every pair within `left`, or, when `right` is given, each photo of
    `left` with each of `right`. Indices are into the scan's photos. `burst`: the photos
    are one bucket of the bucketer (taken close together, for `exif-time`)."""

    left: Sequence[int]
    right: Sequence[int] | None = None
    burst: bool = False


@dataclass(frozen=True)
class Execution:
    """Where a scan's work runs: the executor, its options (checked and converted) and
    the number of processes the user asked for."""

    executor: Executor
    options: Mapping[str, Any]
    jobs: int

    def start(self, context: ScanContext) -> Workers:
        """The workers of the scan `context`, the scan's reader their tasks' context. An
        executor that cannot start (a scheduler out of reach) fails the scan naming its
        plugin, in one line."""
        with context.host.blame(self.executor, "start", (SimpluginError,)):
            return self.executor.start(self.options, self.jobs, reader_of(context))


@dataclass(frozen=True, eq=False)
class Summaries:
    """What the summarise stage found: photos, their signatures (one row each) and
    bucketing keys, in the walk's order; and the files it skipped."""

    photos: tuple[Photo, ...]
    signatures: np.ndarray
    keys: tuple[Any, ...]
    skipped: tuple[Skipped, ...]
    from_cache: int
    # Each photo's `pair_digests` digest when the cache kept it; None: to be made
    digests: tuple[bytes | None, ...] = ()


CACHE_BATCH = 256  # photos looked up in the cache at once (one query)
READ_BATCH = 8  # photos read by one worker task: enough to make the cost of a task negligible

_default_host: PluginHost | None = None


def default_host() -> PluginHost:
    """The installed plugins, loaded once per process. A plugin that could not be loaded
    is a `PluginWarning`, so that no caller scans without a word of it."""
    global _default_host
    if _default_host is None:
        _default_host = load_plugins()
        for problem in _default_host.problems:
            warnings.warn(problem, PluginWarning, stacklevel=3)
    return _default_host


@with_settings
def scan(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    plugins: PluginHost | None = None,
    progress: Progress | None = None,
    **settings: Any,
) -> ScanResult:
    """Scan folders (recursively) and files for near-duplicate photos.

    `paths` may use `~`. `threshold` defaults to the metric's own default (0.07 for
    `avgdiff`). By default only photos taken close together are compared (the
    `exif-time` bucketer); `bucketer=None` compares every photo with every other.
    Photos the bucketer has no key for (no capture time) are compared with every photo
    (`undated="compare-all"`) or only with each other (`"separate"`).

    Photos are read, and large comparisons run, on the `executor`'s workers (default
    `local`: `jobs` processes forked on this machine; `jobs` defaults to the
    `SIMPLUGIN_JOBS` environment variable, else one per core; at most 4 per core),
    configured with `executor_options`. What reading gave is
    kept in the signature cache (`cache=True`: the user's cache folder; a path; or
    False for none), so that a re-scan reads only new and changed photos. The pairs
    marked as not duplicates (`simplugin ignore`) are left out before grouping
    (`ignore_list=True`: the user's list; a path; or False for none).

    No photo is written or touched: hand the result to a sink (`write`) for that.
    Raises `UsageError` for a missing path or an unknown name, and `PluginError` when
    a plugin fails in a way the scan cannot go on from. `plugins` are the loaded plugins
    to use (default: the installed ones), `progress` is told how far the scan is.
    """
    chosen = resolve(settings)
    host = plugins or default_host()
    progress = progress or NoProgress()
    host.check_conflicts()
    scan_settings, metric, bucketer, execution = configure_scan(host, paths, chosen)
    _check_not_excluded(scan_settings)
    ignore_list = for_scan(chosen["ignore_list"])
    host.notify("scan_started", settings=scan_settings)

    context = ScanContext(host, scan_settings, metric, bucketer, progress)
    with open_signature_cache(chosen["cache"]) as signature_cache, sparing_the_collector():
        with execution.start(context) as workers:  # reading and comparing run on them
            working = replace(context, workers=workers)
            summaries = summarise(working, signature_cache)
            settle()
            comparisons = bucket(working, summaries)
            settle()
            remembered = PairCache(signature_cache, working) if signature_cache else None
            found = compare(working, summaries, comparisons, remembered)
        digests = Digests(summaries.photos, scan_settings.follow_symlinks)
        # The pairs the user marked as not duplicates go before grouping, so that the
        # groups are what the other pairs connect.
        left_out = ignored_pairs(ignore_list, [pair[:2] for pair in found], digests)
        pairs = [pair for pair in found if pair[:2] not in left_out]
        identical = identical_pairs([pair[:2] for pair in pairs], digests)
        if scan_settings.only_identical:
            pairs = [pair for pair in pairs if pair[:2] in identical]
        groups = group(context, summaries, pairs, identical, signature_cache)
    result = _result(context, summaries, pairs, groups, identical, len(left_out))
    if remembered is not None:
        result = replace(result, pairs_reused=remembered.reused)
    host.notify("scan_finished", result=result)
    return result


_sparing = 0  # scans inside `sparing_the_collector` in this process


@contextmanager
def sparing_the_collector() -> Iterator[None]:
    """While inside, what the scan keeps to its end can be set aside from Python's cycle
    collector with `settle()`. A scan holds hundreds of thousands of objects (photos,
    summaries, buckets, pairs), none of them garbage; a full collection walks every one,
    and a growing heap sets one off at every quarter more: about 1 s of an unchanged
    re-scan of 100,000 photos. Young objects are still collected as usual, and before
    each `settle()`; a cycle among settled objects that dies later in the scan is
    reclaimed after it."""
    global _sparing
    _sparing += 1
    try:
        yield
    finally:
        _sparing -= 1
        gc.unfreeze()


def settle() -> None:
    """Set every object alive now aside from the cycle collector, until the end of
    `sparing_the_collector` (a constant-time move of the collector's lists); outside
    it (a stage called alone, as `explain` does), nothing."""
    if _sparing:
        # Young garbage first (a metric's cycles, read in this process with one job):
        # frozen, it would stay to the end of the scan. Cheap: young objects only.
        gc.collect(1)
        gc.freeze()


def configure_scan(
    host: PluginHost, paths: str | os.PathLike | Iterable[str | os.PathLike], chosen: dict
) -> tuple[ScanSettings, Metric, Bucketer | None, Execution]:
    """The scan's settings, checked, with the metric and bucketer they name and where
    the work runs."""
    metric = host.metric(chosen["metric"])
    with host.blame(metric, "unavailable"):
        missing = metric.unavailable()
    if missing:
        raise UsageError(f"metric {metric.name!r} cannot run here: {missing}")
    bucketer_name = None if chosen["bucketer"] == "none" else chosen["bucketer"]
    bucketer = host.bucketer(bucketer_name) if bucketer_name else None
    options = chosen["bucketer_options"]
    if options and bucketer is None:
        raise UsageError(f"bucketer options ({', '.join(options)}) need a bucketer")
    undated = chosen["undated"]
    if undated not in UNDATED_CHOICES:
        raise UsageError(f"undated must be one of {', '.join(UNDATED_CHOICES)}, not {undated!r}")
    if chosen["rotations"] and not metric.supports_rotations:
        supporting = [m.name for m in host.registered["metric"].values() if m.supports_rotations]
        raise UsageError(
            f"metric {chosen['metric']!r} cannot find rotated copies: rotations need a metric"
            f" that supports them ({', '.join(supporting) or 'none is installed'})"
        )
    execution = _execution(host, chosen)
    try:
        keep = checked_keep(chosen["keep"])
    except ValueError as error:
        raise UsageError(str(error)) from None
    settings = ScanSettings(
        roots=_roots(paths),
        metric=chosen["metric"],
        threshold=_threshold(metric, chosen["threshold"]),
        bucketer=bucketer_name,
        bucketer_options=(
            resolve_options(
                "bucketer", bucketer, options or {}, host.provider("bucketer", bucketer.name)
            )
            if bucketer
            else {}
        ),
        undated=undated,
        follow_symlinks=chosen["follow_symlinks"],
        exclude=_exclude(chosen["exclude"], chosen["default_excludes"]),
        only_identical=bool(chosen["only_identical"]),
        rotations=bool(chosen["rotations"]),
        keep=keep,
        protect=tuple(_absolute(chosen["protect"])),
    )
    return settings, metric, bucketer, execution


def _execution(host: PluginHost, chosen: dict) -> Execution:
    """The executor the settings name, checked as the sinks are before a photo is read."""
    executor = host.executor(chosen["executor"])
    with host.blame(executor, "unavailable"):
        missing = executor.unavailable()
    if missing:
        raise UsageError(f"executor {executor.name!r} cannot run here: {missing}")
    options = resolve_options(
        "executor", executor, chosen["executor_options"] or {}, host.provider_of(executor)
    )
    return Execution(executor, options, jobs_to_use(chosen["jobs"]))


def _absolute(given: str | os.PathLike | Iterable[str | os.PathLike]) -> Iterator[str]:
    """Paths as absolute paths, `~` expanded; one path alone is one, not its letters."""
    if isinstance(given, (str, os.PathLike)):
        given = [given]
    for path in given:
        yield os.path.abspath(os.path.expanduser(os.fspath(path)))


def _exclude(given: Iterable[str | os.PathLike], default_excludes: bool) -> tuple[str, ...]:
    """What the walk passes over: the paths and patterns given, then the defaults."""
    if isinstance(given, (str, os.PathLike)):
        given = [given]  # one pattern, not its letters
    excluded = tuple(os.path.expanduser(os.fspath(p)) for p in given)
    return excluded + (DEFAULT_EXCLUDES if default_excludes else ())


def _roots(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> tuple[str, ...]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    roots = tuple(os.path.expanduser(os.fspath(p)) for p in paths)
    if not roots:
        raise UsageError("nothing to scan: give at least one folder or photo")
    for root in roots:
        if not os.path.lexists(root):
            raise UsageError(f"{root}: no such file or folder")
    return roots


def _check_not_excluded(settings: ScanSettings) -> None:
    """A root inside a folder excluded by its path (one a sink writes into, for one) is
    a contradiction; a pattern applies only under the roots, and the defaults are names
    a user may well scan into on purpose."""
    paths = [e for e in settings.exclude if e not in DEFAULT_EXCLUDES and not is_pattern(e)]
    for root in settings.roots:
        for excluded in paths:
            relative = os.path.relpath(os.path.abspath(root), os.path.abspath(excluded))
            if not relative.startswith(os.pardir):
                raise UsageError(f"{root} is inside {excluded}, which this scan excludes")


def _threshold(metric: Metric, threshold: float | str | None) -> float:
    """The number `threshold` means for `metric` (None: its default)."""
    if threshold is None:
        return float(metric.default_threshold)
    try:
        return metric.threshold_of(threshold)
    except ValueError as error:
        raise UsageError(f"threshold {error}") from None


def asked_of_metric(
    settings: ScanSettings, metric: Metric, comparison: Comparison | None = None
) -> dict[str, Any]:
    """The keywords a scan gives its metric's `pairs_within` and `pairs_between` for
    `comparison` (and `distance`, without one): only what this scan asks for and what
    the metric declares it uses, so a metric that knows none of them (one written before
    they were added) is called as it always was."""
    asked: dict[str, Any] = {}
    if settings.rotations:
        asked["rotations"] = True
    if comparison is not None and metric.uses_bursts:
        asked["burst"] = comparison.burst
    return asked


# --- stages ------------------------------------------------------------------------------

Node = TypeVar("Node")
IndexPair = tuple[int, int, float]  # a near-duplicate pair: indices into the photos, distance


@dataclass(frozen=True)
class ScanContext:
    """What every stage of one scan works with: the plugins, the settings, the metric
    and bucketer they chose, where progress goes, and the workers that read and compare
    (None: all in this process)."""

    host: PluginHost
    settings: ScanSettings
    metric: Metric
    bucketer: Bucketer | None
    progress: Progress
    workers: Workers | None = None


def reader_of(context: ScanContext) -> Reader:
    """What reads the photos of the scan `context`: its metric and bucketer, with the
    plugins that registered them (the context of the scan's workers)."""
    host, metric, bucketer = context.host, context.metric, context.bucketer
    return Reader(
        metric,
        host.provider_of(metric),
        bucketer,
        host.provider_of(bucketer) if bucketer is not None else None,
        folder=_current_folder(),
        roots=context.settings.roots,
    )


def _current_folder() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed since: the scan was given absolute paths, or finds nothing
        return ""


@contextmanager
def open_signature_cache(cache: str | os.PathLike | bool) -> Iterator[SignatureCache | None]:
    """The cache `scan(cache=...)` asks for, open while inside; None for none."""
    opened = SignatureCache.open(None if cache is True else os.fspath(cache)) if cache else None
    try:
        yield opened
    finally:
        if opened is not None:
            opened.close()


def summarise(context: ScanContext, cache: SignatureCache | None) -> Summaries:
    """Read every candidate photo once, from the cache or on the scan's workers (in
    this process without): its facts, its signature and its bucket key. Photos are read
    while the walk goes on."""
    workers = context.workers
    if workers is None:
        workers = LocalWorkers(1, reader_of(context))
    return _Summarising(context, cache).run(workers)


class _Summarising:
    """The summarise stage of one scan as it goes: the photos found so far (from the
    cache or read), the walk's order, which the results keep, and the files skipped."""

    def __init__(self, context: ScanContext, cache: SignatureCache | None):
        self.context = context
        self.cache = cache
        self.kinds = Kinds.of(context.metric, context.bucketer)
        self.walked = 0  # candidates the walk gave so far
        # What the cache found, as columns: each batch's candidates, the place of its
        # first one in the walk, and what was found for which of them.
        self.cached: list[tuple[list[Candidate], int, Found]] = []
        self.place_of: dict[str, int] = {}  # of the candidates to read
        self.read: list[tuple[int, Candidate, Summary]] = []  # their place in the walk first
        self.unstored: list[tuple[Candidate, Summary]] = []  # read, not yet in the cache
        self.skipped: list[Skipped] = []
        self.from_cache = 0

    def run(self, workers: Workers) -> Summaries:
        self.context.progress.stage("reading photos", None)
        try:
            for candidate, outcome in read_all(workers, self.to_read()):
                self.context.progress.advance()
                self.take(candidate, outcome)
        finally:  # a scan that stops (Ctrl-C, its workers lost) keeps what it read
            self.store()
        summaries = self.summaries()
        if self.cache is not None:  # only whole: a scan that stopped saw part of a folder
            named = [root for root in self.context.settings.roots if not os.path.isdir(root)]
            self.cache.store_records(summaries, self.kinds, named)
        return summaries

    def candidates(self) -> Iterator[Candidate]:
        """The walk's candidates, in its order; what it cannot scan is skipped."""
        settings = self.context.settings
        for item in walk(settings.roots, settings.follow_symlinks, settings.exclude):
            if isinstance(item, Skipped):
                self.skip(item)
                continue
            self.walked += 1
            if not self.walked % 64:  # told now and then: a call per file costs ~0.1 s a 100,000
                self.context.progress.found(self.walked)
            yield item
        self.context.progress.found(self.walked, finished=True)

    def to_read(self) -> Iterator[list[Candidate]]:
        """Batches of the candidates to read: those the cache has are found at once."""
        for batch in _batches(self.candidates(), CACHE_BATCH):
            first = self.walked - len(batch)  # the batch's place in the walk
            found = self.cache.lookup(batch, self.kinds) if self.cache is not None else []
            self.cached.extend((batch, first, part) for part in found)
            hits = sum(map(len, found))
            self.from_cache += hits
            self.context.progress.advance(hits)
            settle()  # what was found stays to the end of the scan
            if hits < len(batch):  # an unchanged re-scan has nothing to read, photo by photo
                done = {index for part in found for index in part.indices}
                unread = [index for index in range(len(batch)) if index not in done]
                self.place_of.update((batch[index].path, first + index) for index in unread)
                yield from _batches((batch[index] for index in unread), READ_BATCH)

    def take(self, candidate: Candidate, outcome: Summary | str | None) -> None:
        """What reading a candidate gave: a photo, a reason to skip it, or None for a
        file that is not a photo and not named like one."""
        if outcome is None:
            return
        if isinstance(outcome, str):
            self.skip(Skipped(candidate.path, outcome))
            return
        self.check_signature(outcome.signature)
        self.read.append((self.place_of[candidate.path], candidate, outcome))
        if self.cache is not None:
            self.unstored.append((candidate, outcome))
            if len(self.unstored) >= CACHE_BATCH * 4:
                self.store()

    def check_signature(self, signature: np.ndarray) -> None:
        shape, dtype = self.kinds.shape, self.kinds.dtype
        if signature.shape != shape or signature.dtype != dtype:
            raise PluginError(
                self.context.host.provider_of(self.context.metric),
                "signature",
                ValueError(
                    f"metric {self.context.metric.name!r} returned a {signature.dtype} array"
                    f" of shape {signature.shape}, but declares {dtype} of shape {shape}"
                ),
            )

    def skip(self, item: Skipped) -> None:
        self.skipped.append(item)
        self.context.host.notify("photo_skipped", skipped=item)

    def store(self) -> None:
        """Keep in the cache what was read since the last time."""
        if self.cache is not None and self.unstored:
            self.cache.store(self.unstored, self.kinds)
        self.unstored.clear()

    def summaries(self) -> Summaries:
        """All that was found, as columns, in the walk's order."""
        parts = [self.read_part(), *(_part_of(*cached) for cached in self.cached)]
        places, candidates, found = zip(*parts, strict=True)
        candidates, widths, heights, formats, keys, digests = (
            list(itertools.chain.from_iterable(column))
            for column in (candidates, *zip(*map(_columns, found), strict=True))
        )
        paths, sizes, mtimes, _, sidecars = (
            zip(*candidates, strict=True) if candidates else ((),) * 5
        )
        # Positional: a frozen dataclass's keywords cost a third more, 100,000 times.
        photos = list(map(Photo, paths, sizes, mtimes, widths, heights, formats, sidecars))
        signatures = np.concatenate([f.signatures for f in found])
        place = np.concatenate(places)
        if len(place) > 1 and not (place[1:] > place[:-1]).all():
            # Photos read come after later batches' cache hits: put back in the walk's order
            order = np.argsort(place, kind="stable").tolist()
            photos, keys, digests = (
                list(map(column.__getitem__, order)) for column in (photos, keys, digests)
            )
            signatures = signatures[order]
        return Summaries(
            tuple(photos),
            signatures,
            tuple(keys),
            tuple(self.skipped),
            self.from_cache,
            tuple(digests),
        )

    def read_part(self) -> tuple[np.ndarray, list[Candidate], Found]:
        """The photos read (each checked by `check_signature`), as a part of `summaries`."""
        places, candidates, summaries = zip(*self.read, strict=True) if self.read else ((),) * 3
        widths, heights, formats, signatures, keys = (
            zip(*summaries, strict=True) if summaries else ((),) * 5
        )
        found = Found(
            list(range(len(keys))),  # each, in the order read
            widths,
            heights,
            formats,
            signature_array(signatures, self.kinds),
            keys,
            [None] * len(keys),
        )
        return np.array(places, dtype=np.int64), list(candidates), found


def _part_of(batch: list[Candidate], first: int, found: Found) -> tuple:
    """What the cache `found` for a `batch` whose first candidate is the walk's `first`,
    as a part of `_Summarising.summaries`: the places in the walk, the candidates."""
    places = np.asarray(found.indices, dtype=np.int64) + first
    return places, [batch[index] for index in found.indices], found


def _columns(found: Found) -> tuple[Sequence, ...]:
    return found.widths, found.heights, found.formats, found.keys, found.digests


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def bucket(context: ScanContext, summaries: Summaries) -> list[Comparison]:
    """Which photos to compare with which: everything at once without a bucketer;
    otherwise each bucket, and the photos without a key as `settings.undated` says."""
    bucketer, settings = context.bucketer, context.settings
    if bucketer is None:
        return [Comparison(range(len(summaries.photos)))]
    with context.host.blame(bucketer, "buckets"):
        buckets = bucketer.buckets(summaries.photos, summaries.keys, settings.bucketer_options)
        # A bucket the bucketer gave as a list, made for this call, is not copied: a
        # library of 100,000 photos has some 80,000 buckets, most of one photo.
        comparisons = [
            Comparison(members if type(members) is list else list(members), burst=True)
            for members in buckets
        ]
    undated = [i for i, key in enumerate(summaries.keys) if key is None]
    if undated:
        comparisons.append(Comparison(undated))
        dated = [i for i, key in enumerate(summaries.keys) if key is not None]
        if settings.undated == "compare-all" and dated:
            comparisons.append(Comparison(undated, dated))
    return comparisons


def compare(
    context: ScanContext,
    summaries: Summaries,
    comparisons: Sequence[Comparison],
    remembered: PairCache | None = None,
) -> list[IndexPair]:
    """Every near-duplicate pair `(i, j, distance)`, `i < j`, most similar first.
    With `remembered`, the pairs the last scan found among unchanged photos are taken
    from there, only the rest is compared, and what was found is stored for the next."""
    if remembered is None:
        found = run_comparisons(context, summaries.signatures, comparisons)
    else:
        recalled = remembered.recall(summaries, context.settings.undated == "compare-all")
        reused = recalled.reused(comparisons)
        needed = recalled.needed(comparisons)
        found = {**run_comparisons(context, summaries.signatures, needed), **reused}
        remembered.reused = len(reused)
        remembered.remember(recalled, comparisons, found)
    photos = summaries.photos  # (a list of all 100,000 paths took longer than the sort)
    return sorted(
        ((a, b, d) for (a, b), d in found.items()),
        key=lambda pair: (pair[2], photos[pair[0]].path, photos[pair[1]].path),
    )


def run_comparisons(
    context: ScanContext, signatures: np.ndarray, comparisons: Sequence[Comparison]
) -> dict[tuple[int, int], float]:
    """The near-duplicate pairs of `comparisons`, as `{(i, j): distance}`, `i < j`:
    what the metric finds in each. Those with fewer candidate pairs than the workers'
    `spread_from` are searched here; the others are split into tasks for the workers
    (see `simplugin.partition`), which find exactly the same pairs."""
    workers = context.workers
    here, away = list(comparisons), []
    if workers is not None and workers.slots > 1:
        here, away = [], []
        for comparison in comparisons:
            large = candidate_pairs(comparison.left, comparison.right) >= workers.spread_from
            (away if large else here).append(comparison)
    threshold = context.settings.compared_below
    tasks = []
    if away:
        searches = [_search(context, c) for c in away]
        tasks = plan_tasks(context, signatures, searches, workers.slots, threshold)
    found: dict[tuple[int, int], float] = {}
    context.progress.stage("comparing", len(here) + len(tasks))
    for comparison in here:
        context.progress.advance()
        found.update(_near_pairs(context, signatures, comparison))
    if tasks:
        for pairs in run_tasks(workers, signatures, tasks, threshold):
            context.progress.advance()
            found.update(pairs)
    return found


def _search(context: ScanContext, comparison: Comparison) -> Search:
    right = comparison.right
    return Search(
        np.asarray(comparison.left, dtype=np.intp),
        None if right is None else np.asarray(right, dtype=np.intp),
        asked_of_metric(context.settings, context.metric, comparison),
    )


def _near_pairs(
    context: ScanContext, signatures: np.ndarray, comparison: Comparison
) -> Iterator[tuple[tuple[int, int], float]]:
    """The near-duplicate pairs of one comparison, as `((i, j), distance)`, `i < j`."""
    left = np.asarray(comparison.left, dtype=np.intp)
    right = None if comparison.right is None else np.asarray(comparison.right, np.intp)
    if holds_no_pair(left, right):
        return
    metric, threshold = context.metric, context.settings.compared_below
    asked = asked_of_metric(context.settings, metric, comparison)
    method = "pairs_within" if right is None else "pairs_between"
    with context.host.blame(metric, method):
        if right is None:
            right = left
            near = metric.pairs_within(signatures[left], threshold, **asked)
        else:
            near = metric.pairs_between(signatures[left], signatures[right], threshold, **asked)
        for i, j, distance in near:
            a, b = sorted((int(left[i]), int(right[j])))
            if a != b:
                yield (a, b), float(distance)


def group(
    context: ScanContext,
    summaries: Summaries,
    pairs: Sequence[IndexPair],
    identical: Set[tuple[int, int]] = frozenset(),
    cache: SignatureCache | None = None,
) -> tuple[Group, ...]:
    """Connected components of the pairs, each with its keeper; most similar first.
    `identical` are the pairs `(i, j)`, `i < j`, of byte-identical files. The EXIF facts
    the keeper rule reads are kept in `cache` for the next scan."""
    ranked = []
    paired: dict[int, list[int]] = {}
    for i, j, _ in pairs:  # closest first, so each photo's nearest pair comes first
        paired.setdefault(i, []).append(j)
        paired.setdefault(j, []).append(i)
    components = _components(pairs)
    if "sharpest" in context.settings.keep:  # measured on every core, not group by group
        measure_all([summaries.photos[i].path for _, members in components for i in members])
    grouped = [summaries.photos[i] for _, members in components for i in members]
    with _keeping_camera_facts(cache, grouped):
        for closest, members in components:
            found = _with_keeper(context, summaries, members, identical, paired)
            ranked.append((closest, found.keep.path, found))
    ranked.sort(key=lambda entry: entry[:2])
    return tuple(found for _, _, found in ranked)


@contextmanager
def _keeping_camera_facts(cache: SignatureCache | None, photos: Sequence[Photo]) -> Iterator[None]:
    """While inside, `camera_facts` answers for `photos` from `cache` when they are
    unchanged since it read them, and what it reads is kept there for the next scan: the
    keeper rule asks for the EXIF facts of every grouped photo, at every scan."""
    if cache is None:
        yield
        return
    identities = [_identity(photo) for photo in photos]  # once: each costs an abspath
    known = {}
    for index, value in cache.lookup_values(photos, exif.CACHE_KIND).items():
        try:
            known[identities[index]] = exif.decoded(value)
        except (ValueError, TypeError):  # not what this version writes: read again
            continue
    kept = set(known)
    with exif.remembering_facts(known):
        yield
    new = [
        (photo, exif.encoded(known[found]))
        for photo, found in zip(photos, identities, strict=True)
        if found not in kept and found in known
    ]
    cache.store_values(new, exif.CACHE_KIND)


def _identity(photo: Photo) -> exif.Identity:
    """The photo's file as the walk found it: path, size and modification time."""
    return os.path.abspath(photo.path), photo.size, photo.mtime_ns


def _components(pairs: Sequence[IndexPair]) -> list[tuple[float, list[int]]]:
    """The sets of photos the pairs connect, each with the distance of its closest
    pair, in the order of their first photo. `pairs` are sorted, closest first."""
    # Only the paired photos, a few thousand of a library's 100,000, are in the sets.
    parent = {i: i for pair in pairs for i in pair[:2]}
    for i, j, _ in pairs:
        parent[_root(parent, i)] = _root(parent, j)
    closest: dict[int, float] = {}
    for i, _, distance in pairs:  # the first pair seen is each component's closest
        closest.setdefault(_root(parent, i), distance)
    components: dict[int, list[int]] = {}
    for i in sorted(parent):
        components.setdefault(_root(parent, i), []).append(i)
    return [(closest[root], members) for root, members in components.items()]


def _root(parent: dict[int, int], i: int) -> int:
    """The representative of `i`'s set (union-find), halving the path on the way."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _with_keeper(
    context: ScanContext,
    summaries: Summaries,
    members: list[int],
    identical: Set[tuple[int, int]],
    paired: Mapping[int, Sequence[int]],
) -> Group:
    """The group of `members`: the keeper the plugins choose, then the others, each
    with its distance to the keeper (and whether it is a copy of it, or the photo it is
    in the group through), most similar first. An identical copy is at distance 0, so
    it is always a pair with the keeper."""
    photos, signatures, metric = summaries.photos, summaries.signatures, context.metric
    by_path = tuple(sorted((photos[i] for i in members), key=lambda p: p.path))
    # A group holding protected photos keeps one of them: the plugins choose among those.
    protected = tuple(p for p in by_path if context.settings.protects(p.path))
    keep = context.host.choose_keeper(protected or by_path, context.settings)
    keeper = next(i for i in members if photos[i] is keep)
    through = steps_towards(keeper, paired)
    asked = asked_of_metric(context.settings, metric)
    with context.host.blame(metric, "distance"):
        duplicates = [
            Duplicate(
                photos[i],
                float(metric.distance(signatures[keeper], signatures[i], **asked)),
                identical=(min(i, keeper), max(i, keeper)) in identical,
                via=None if through[i] == keeper else photos[through[i]],
            )
            for i in members
            if i != keeper
        ]
    duplicates.sort(key=lambda d: (d.distance, d.photo.path))
    return Group(keep, tuple(duplicates))


def steps_towards(start: Node, neighbours: Mapping[Node, Iterable[Node]]) -> dict[Node, Node]:
    """For each node reachable from `start` through `neighbours` (photos through their
    pairs), the node one step nearer `start` on a shortest chain (`start` itself for a
    neighbour of it, and for `start`). Neighbours listed first are preferred."""
    step = {start: start}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for neighbour in neighbours.get(node, ()):
                if neighbour not in step:
                    step[neighbour] = node
                    following.append(neighbour)
        frontier = following
    return step


def _result(
    context: ScanContext,
    summaries: Summaries,
    pairs: Sequence[IndexPair],
    groups: tuple[Group, ...],
    identical: Set[tuple[int, int]],
    ignored: int = 0,
) -> ScanResult:
    """What the stages found, as sinks receive it and `scan()` returns it; `ignored`
    pairs were left out by the ignore list."""
    photos = summaries.photos
    return ScanResult(
        settings=context.settings,
        photos=photos,
        skipped=summaries.skipped,
        pairs=tuple(Pair(photos[i], photos[j], d, (i, j) in identical) for i, j, d in pairs),
        groups=groups,
        undated=summaries.keys.count(None) if context.bucketer else None,
        from_cache=summaries.from_cache,
        ignored=ignored,
    )


# --- sinks -------------------------------------------------------------------------------


def prepare_sinks(
    host: PluginHost, requests: Sequence[SinkRequest]
) -> list[tuple[Sink, dict[str, Any]]]:
    """Look up each requested sink and check its options, before any photo is read."""
    prepared = []
    for request in requests:
        sink = host.sink(request.name)
        with host.blame(sink, "unavailable"):
            missing = sink.unavailable()
        if missing:
            raise UsageError(f"sink {sink.name!r} cannot run here: {missing}")
        options = resolve_options("sink", sink, request.options, host.provider_of(sink))
        prepared.append((sink, options))
    return prepared


def deliver(
    host: PluginHost, result: ScanResult, sinks: Sequence[tuple[Sink, dict[str, Any]]]
) -> list[SimpluginError]:
    """Hand the result to each sink; one that fails does not stop the others. A sink
    that changes files never sees a protected duplicate: each is named once, left as it
    is."""
    failures = []
    unprotected = result
    if any(sink.changes_files for sink, _ in sinks):
        for photo in result.protected_duplicates:
            tell(f"left {printable(photo.path)} as it is: it is protected (--protect)")
        unprotected = result.without_protected()
    for sink, options in sinks:
        given = unprotected if sink.changes_files else result
        # A sink says what went wrong with a SimpluginError; a BrokenPipeError is the
        # reader of stdout gone, not the sink's fault: the command stops quietly.
        spare = (SimpluginError, BrokenPipeError)
        try:
            with host.blame(sink, f"sink {sink.name!r}", spare):
                sink.write(given, options)
        except SimpluginError as error:
            failures.append(error)
    return failures


def write(result: ScanResult, sink: str, plugins: PluginHost | None = None, **options: Any) -> None:
    """Send a result to one sink from a script: `write(result, "json", path="out.json")`.

    Raises `UsageError` for an unknown sink or option and `PluginError` if it fails.
    """
    host = plugins or default_host()
    for failure in deliver(host, result, prepare_sinks(host, [SinkRequest(sink, options)])):
        raise failure
