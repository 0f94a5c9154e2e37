"""The scan: find the files, summarise each photo, compare within buckets, group, deliver.

    walk -> summarise -> bucket -> compare -> group -> sinks

Each stage is one function below. Plugins contribute the objects the stages call (the
metric, the bucketer, the sinks); the stages call those objects directly, and call
hooks only once per scan, per group or per skipped file.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .cache import Kinds, SignatureCache
from .discover import Candidate, walk
from .errors import PluginError, SimpluginError, UsageError
from .plugins import PluginHost, PluginWarning, load_plugins, resolve_options
from .reading import Reader, jobs_to_use, read_all
from .types import (
    Bucketer,
    Duplicate,
    Group,
    Metric,
    Pair,
    Photo,
    ScanResult,
    ScanSettings,
    Sink,
    Skipped,
)


class Progress(Protocol):
    """Where the engine reports how far it is; the command line draws it on stderr."""

    def stage(self, name: str, total: int | None) -> None: ...

    def found(self, total: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...


class _Silent:
    def stage(self, name: str, total: int | None) -> None:
        pass

    def found(self, total: int) -> None:
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
    `left` with each of `right`. Indices are into the scan's photos."""

    left: Sequence[int]
    right: Sequence[int] | None = None


@dataclass
class Summaries:
    """What the summarise stage found: photos, their signatures and bucketing keys."""

    photos: list[Photo]
    signatures: np.ndarray
    keys: list[Any]
    skipped: list[Skipped]
    from_cache: int


DEFAULT_METRIC = "avgdiff"
DEFAULT_BUCKETER = "exif-time"
CACHE_BATCH = 64  # photos looked up in the cache at once
READ_BATCH = 8  # photos read by one worker task: enough to make the cost of a task negligible
UNDATED_CHOICES = ("compare-all", "separate")

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


def scan(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    metric: str = DEFAULT_METRIC,
    threshold: float | None = None,
    bucketer: str | None = DEFAULT_BUCKETER,
    bucketer_options: Mapping[str, Any] | None = None,
    undated: str = "compare-all",
    follow_symlinks: bool = False,
    exclude: Iterable[str | os.PathLike] = (),
    jobs: int | None = None,
    cache: str | os.PathLike | bool = True,
    plugins: PluginHost | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan folders (recursively) and files for near-duplicate photos.

    `paths` may use `~`. `threshold` defaults to the metric's own default (0.07 for
    `avgdiff`). By default only photos taken close together are compared (the
    `exif-time` bucketer); `bucketer=None` compares every photo with every other.
    Photos the bucketer has no key for (no capture time) are compared with every photo
    (`undated="compare-all"`) or only with each other (`"separate"`).

    Photos are read on `jobs` processes (default: the `SIMPLUGIN_JOBS` environment
    variable, else one per core; at most 4 per core). What reading gave is
    kept in the signature cache (`cache=True`: the user's cache folder; a path; or
    False for none), so that a re-scan reads only new and changed photos.

    No photo is written or touched: hand the result to a sink (`write`) for that.
    Raises `UsageError` for a missing path or an unknown name, and `PluginError` when
    a plugin fails in a way the scan cannot go on from.
    """
    host = plugins or default_host()
    progress = progress or _Silent()
    host.check_conflicts()
    chosen_metric = host.metric(metric)
    if bucketer == "none":
        bucketer = None
    chosen_bucketer = host.bucketer(bucketer) if bucketer else None
    if bucketer_options and chosen_bucketer is None:
        raise UsageError(f"bucketer options ({', '.join(bucketer_options)}) need a bucketer")
    if undated not in UNDATED_CHOICES:
        raise UsageError(f"undated must be one of {', '.join(UNDATED_CHOICES)}, not {undated!r}")
    processes = jobs_to_use(jobs)
    settings = ScanSettings(
        roots=_roots(paths),
        metric=metric,
        threshold=_threshold(chosen_metric, threshold),
        bucketer=bucketer,
        bucketer_options=(
            resolve_options(
                "bucketer",
                chosen_bucketer,
                bucketer_options or {},
                host.provider("bucketer", chosen_bucketer.name),
            )
            if chosen_bucketer
            else {}
        ),
        undated=undated,
        follow_symlinks=follow_symlinks,
        exclude=tuple(os.path.expanduser(os.fspath(p)) for p in exclude),
    )
    _check_not_excluded(settings)
    host.notify("scan_started", settings=settings)

    signature_cache = None
    if cache:
        signature_cache = SignatureCache.open(None if cache is True else os.fspath(cache))
    try:
        summaries = summarise(
            host,
            settings,
            chosen_metric,
            chosen_bucketer,
            progress,
            signature_cache,
            processes,
        )
    finally:
        if signature_cache is not None:
            signature_cache.close()
    comparisons = bucket(host, settings, chosen_bucketer, summaries)
    pairs = compare(host, settings, chosen_metric, summaries, comparisons, progress)
    groups = group(host, settings, chosen_metric, summaries, pairs)
    result = ScanResult(
        settings=settings,
        photos=tuple(summaries.photos),
        skipped=tuple(summaries.skipped),
        pairs=tuple(Pair(summaries.photos[i], summaries.photos[j], d) for i, j, d in pairs),
        groups=groups,
        undated=summaries.keys.count(None) if chosen_bucketer else None,
        from_cache=summaries.from_cache,
    )
    host.notify("scan_finished", result=result)
    return result


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
    for root in settings.roots:
        for excluded in settings.exclude:
            relative = os.path.relpath(os.path.abspath(root), os.path.abspath(excluded))
            if not relative.startswith(os.pardir):
                raise UsageError(f"{root} is inside {excluded}, which this scan writes into")


def _threshold(metric: Metric, threshold: float | None) -> float:
    value = metric.default_threshold if threshold is None else float(threshold)
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"threshold must be a number of 0 or more, not {threshold!r}")
    return value


# --- stages ------------------------------------------------------------------------------


def summarise(
    host: PluginHost,
    settings: ScanSettings,
    metric: Metric,
    bucketer: Bucketer | None,
    progress: Progress,
    cache: SignatureCache | None,
    jobs: int,
) -> Summaries:
    """Read every candidate photo once, from the cache or on all cores: its facts, its
    signature and its bucket key. Photos are read while the walk goes on."""
    reader = Reader(
        metric,
        host.provider("metric", metric.name),
        bucketer,
        host.provider("bucketer", bucketer.name) if bucketer else None,
    )
    kinds = Kinds.of(metric, bucketer)
    shape, dtype = kinds.shape, kinds.dtype
    order: dict[str, int] = {}  # walk order, which the results keep
    found: list[tuple[Candidate, Any]] = []
    skipped: list[Skipped] = []
    from_cache = 0

    def skip(item: Skipped) -> None:
        skipped.append(item)
        host.notify("photo_skipped", skipped=item)

    def candidates() -> Iterator[Candidate]:
        for item in walk(settings.roots, settings.follow_symlinks, settings.exclude):
            if isinstance(item, Skipped):
                skip(item)
                continue
            order[item.path] = len(order)
            progress.found(len(order))
            yield item

    def to_read() -> Iterator[list[Candidate]]:
        nonlocal from_cache
        for batch in _batches(candidates(), CACHE_BATCH):
            hits = cache.lookup(batch, kinds) if cache is not None else {}
            for index, entry in hits.items():
                found.append((batch[index], entry))
            from_cache += len(hits)
            progress.advance(len(hits))
            yield from _batches((c for i, c in enumerate(batch) if i not in hits), READ_BATCH)

    progress.stage("reading photos", None)
    fresh = []
    for candidate, outcome in read_all(reader, to_read(), jobs):
        progress.advance()
        if outcome is None:
            continue
        if isinstance(outcome, str):
            skip(Skipped(candidate.path, outcome))
            continue
        signature = outcome.signature
        if signature.shape != shape or signature.dtype != dtype:
            raise PluginError(
                reader.metric_plugin,
                "signature",
                ValueError(
                    f"metric {metric.name!r} returned a {signature.dtype} array of shape"
                    f" {signature.shape}, but declares {dtype} of shape {shape}"
                ),
            )
        found.append((candidate, outcome))
        fresh.append((candidate, outcome))
        if cache is not None and len(fresh) >= CACHE_BATCH * 4:
            cache.store(fresh, kinds)
            fresh.clear()
    if cache is not None and fresh:
        cache.store(fresh, kinds)

    found.sort(key=lambda item: order[item[0].path])
    photos = [
        Photo(
            path=candidate.path,
            size=candidate.size,
            mtime_ns=candidate.mtime_ns,
            width=summary.width,
            height=summary.height,
            format=summary.format,
            sidecars=candidate.sidecars,
        )
        for candidate, summary in found
    ]
    signatures = np.empty((len(found), *shape), dtype)
    for index, (_, summary) in enumerate(found):
        signatures[index] = summary.signature
    return Summaries(photos, signatures, [s.key for _, s in found], skipped, from_cache)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def bucket(
    host: PluginHost, settings: ScanSettings, bucketer: Bucketer | None, summaries: Summaries
) -> list[Comparison]:
    """Which photos to compare with which: everything at once without a bucketer;
    otherwise each bucket, and the photos without a key as `settings.undated` says."""
    if bucketer is None:
        return [Comparison(range(len(summaries.photos)))]
    with host.blame(bucketer, "buckets"):
        buckets = bucketer.buckets(summaries.photos, summaries.keys, settings.bucketer_options)
        comparisons = [Comparison(list(members)) for members in buckets]
    undated = [i for i, key in enumerate(summaries.keys) if key is None]
    dated = [i for i, key in enumerate(summaries.keys) if key is not None]
    if undated:
        comparisons.append(Comparison(undated))
        if settings.undated == "compare-all" and dated:
            comparisons.append(Comparison(undated, dated))
    return comparisons


def compare(
    host: PluginHost,
    settings: ScanSettings,
    metric: Metric,
    summaries: Summaries,
    comparisons: list[Comparison],
    progress: Progress,
) -> list[tuple[int, int, float]]:
    """Every near-duplicate pair `(i, j, distance)`, `i < j`, most similar first."""
    found: dict[tuple[int, int], float] = {}
    signatures = summaries.signatures
    progress.stage("comparing", len(comparisons))
    for comparison in comparisons:
        progress.advance()
        left = np.asarray(comparison.left, dtype=np.intp)
        right = None if comparison.right is None else np.asarray(comparison.right, np.intp)
        # Most capture-time buckets hold a single photo: nothing to ask the metric.
        alone = len(left) < 2 if right is None else min(len(left), len(right)) == 0
        if alone:
            continue
        method = "pairs_within" if right is None else "pairs_between"
        with host.blame(metric, method):
            if right is None:
                right = left
                near = metric.pairs_within(signatures[left], settings.threshold)
            else:
                near = metric.pairs_between(signatures[left], signatures[right], settings.threshold)
            for i, j, distance in near:
                a, b = sorted((int(left[i]), int(right[j])))
                if a != b:
                    found[(a, b)] = float(distance)
    paths = [p.path for p in summaries.photos]
    return sorted(
        ((a, b, d) for (a, b), d in found.items()),
        key=lambda pair: (pair[2], paths[pair[0]], paths[pair[1]]),
    )


def group(
    host: PluginHost,
    settings: ScanSettings,
    metric: Metric,
    summaries: Summaries,
    pairs: list[tuple[int, int, float]],
) -> tuple[Group, ...]:
    """Connected components of the pairs, each with its keeper; most similar first."""
    parent = list(range(len(summaries.photos)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    components: dict[int, list[int]] = {}
    closest: dict[int, float] = {}
    for i, _, distance in pairs:  # sorted: the first pair seen is each group's closest
        closest.setdefault(root(i), distance)
    for i in sorted({i for pair in pairs for i in pair[:2]}):
        components.setdefault(root(i), []).append(i)

    photos, signatures = summaries.photos, summaries.signatures
    groups = []
    for component, members in components.items():
        by_path = tuple(sorted((photos[i] for i in members), key=lambda p: p.path))
        keep = host.choose_keeper(by_path)
        keeper = next(i for i in members if photos[i] is keep)
        with host.blame(metric, "distance"):
            duplicates = [
                Duplicate(photos[i], float(metric.distance(signatures[keeper], signatures[i])))
                for i in members
                if i != keeper
            ]
        duplicates.sort(key=lambda d: (d.distance, d.photo.path))
        groups.append((closest[component], keep.path, Group(keep, tuple(duplicates))))
    groups.sort(key=lambda entry: entry[:2])
    return tuple(g for _, _, g in groups)


# --- sinks -------------------------------------------------------------------------------


def prepare_sinks(
    host: PluginHost, requests: Sequence[SinkRequest]
) -> list[tuple[Sink, dict[str, Any]]]:
    """Look up each requested sink and check its options, before any photo is read."""
    prepared = []
    for request in requests:
        sink = host.sink(request.name)
        options = resolve_options("sink", sink, request.options, host.provider_of(sink))
        prepared.append((sink, options))
    return prepared


def deliver(
    host: PluginHost, result: ScanResult, sinks: Sequence[tuple[Sink, dict[str, Any]]]
) -> list[SimpluginError]:
    """Hand the result to each sink; one that fails does not stop the others."""
    failures = []
    for sink, options in sinks:
        # A sink says what went wrong with a SimpluginError; a BrokenPipeError is the
        # reader of stdout gone, not the sink's fault: the command stops quietly.
        spare = (SimpluginError, BrokenPipeError)
        try:
            with host.blame(sink, f"sink {sink.name!r}", spare):
                sink.write(result, options)
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
