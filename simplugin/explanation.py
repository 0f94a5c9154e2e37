"""Why two photos are, or are not, near-duplicates: `simplugin explain A B`.

The two photos are read exactly as a scan reads them (the signature cache too), with
the scan's settings: the distance the metric gives them and what else it can say
(`Metric.facts`), whether a scan would compare them at all (the bucketer's keys for
both: capture times for `exif-time`), whether it would pair them (or the user marked them
as not duplicates with `simplugin ignore`), and, given a scan's JSON result, the chain of
pairs that put them in one group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .engine import (
    NoProgress,
    ScanContext,
    asked_of_metric,
    bucket,
    compare,
    configure_scan,
    default_host,
    open_signature_cache,
    steps_towards,
    summarise,
)
from .errors import UsageError
from .identical import Digests
from .ignored import for_scan, ignored_pairs
from .plan import read_document
from .plugins import PluginHost
from .settings import resolve, with_settings
from .text import printable
from .types import Bucketer, Photo, ScanSettings


@dataclass(frozen=True, slots=True)
class Link:
    """One pair of a chain: two photos of a scan's result and their distance."""

    a: str
    b: str
    distance: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """What `explain` found about two photos."""

    photos: tuple[Photo, Photo]
    metric: str
    threshold: float
    distance: float  # the metric's distance between the two photos
    facts: Mapping[str, Any]  # what else the metric says of them (Metric.facts)
    compared: bool  # a scan of a library holding both compares them
    why_compared: str  # one sentence saying why, or why not
    paired: bool  # ...and finds them a near-duplicate pair
    ignored: bool  # the user marked them as not duplicates (`simplugin ignore`)
    chain: tuple[Link, ...] | None = None  # in the result given: the pairs from a to b
    result: str | None = None  # the result the chain was looked up in


@with_settings
def explain(
    a: str | os.PathLike,
    b: str | os.PathLike,
    *,
    result: str | os.PathLike | None = None,
    plugins: PluginHost | None = None,
    **settings: Any,
) -> Explanation:
    """Explain what a scan with these settings makes of photos `a` and `b` (and, with a
    scan's JSON `result`, how it grouped them). Raises `UsageError` when either is not a
    photo that can be read, or both are one file."""
    chosen = resolve(settings)
    host = plugins or default_host()
    scan_settings, metric, bucketer, _ = configure_scan(host, [a, b], chosen)
    context = ScanContext(host, scan_settings, metric, bucketer, NoProgress())
    with open_signature_cache(chosen["cache"]) as cache:
        summaries = summarise(context, cache)  # two photos: read in this process
    for skipped in summaries.skipped:
        raise UsageError(f"{printable(skipped.path)}: {skipped.reason}")
    if len(summaries.photos) != 2:
        raise UsageError(f"{printable(os.fspath(a))} and {printable(os.fspath(b))} are one file")
    comparisons = bucket(context, summaries)
    compared = any(
        {0, 1} <= set(c.left) or (c.right is not None and {0, 1} <= {*c.left, *c.right})
        for c in comparisons
    )
    pairs = compare(context, summaries, comparisons)
    digests = Digests(summaries.photos, scan_settings.follow_symlinks)
    ignored = bool(ignored_pairs(for_scan(chosen["ignore_list"]), [(0, 1)], digests))
    first, second = summaries.signatures
    with host.blame(metric, "distance"):
        distance = float(metric.distance(first, second, **asked_of_metric(scan_settings, metric)))
    with host.blame(metric, "facts"):
        facts = dict(metric.facts(first, second))
    found = summaries.photos
    return Explanation(
        photos=(found[0], found[1]),
        metric=metric.name,
        threshold=scan_settings.threshold,
        distance=distance,
        facts=facts,
        compared=compared,
        why_compared=_why_compared(bucketer, summaries.keys, scan_settings, compared),
        paired=bool(pairs) and not ignored,
        ignored=ignored,
        chain=None if result is None else chain_in(os.fspath(result), found[0], found[1]),
        result=None if result is None else os.fspath(result),
    )


def _why_compared(
    bucketer: Bucketer | None, keys: tuple[Any, ...], settings: ScanSettings, compared: bool
) -> str:
    if bucketer is None:
        return "without a bucketer, every photo is compared with every other"
    shown = [bucketer.describe_key(key) if key is not None else None for key in keys]
    if None not in shown:
        options = ", ".join(f"{k} {v}" for k, v in settings.bucketer_options.items())
        named = f"{bucketer.name} ({options})" if options else bucketer.name
        keys_said = f"{named} gives them {shown[0]} and {shown[1]}"
        if compared:
            return f"{keys_said}: one bucket"
        # The bucketer saw these two photos alone; in a library, photos between them
        # may chain them into one bucket (one burst).
        return f"{keys_said}: not one bucket, unless photos between them join them into one"
    which = "neither photo has" if shown == [None, None] else "only one photo has"
    what, undated = f"{which} a key for {bucketer.name}", settings.undated
    if compared:
        return f"{what}; photos without one are compared with every photo (--undated {undated})"
    return f"{what}; with --undated {undated}, those are compared only with each other"


def chain_in(path: str, a: Photo, b: Photo) -> tuple[Link, ...] | None:
    """The shortest chain of pairs from `a` to `b` in a scan's JSON result (the photos
    known by their real paths), or None when they are in no group together."""
    document = read_document(path)
    pairs = document.get("pairs") if isinstance(document, dict) else None
    if not isinstance(pairs, list):
        raise UsageError(f"{printable(path)}: not a scan's JSON result (no list of pairs)")
    base = document.get("base") if isinstance(document.get("base"), str) else None
    neighbours: dict[str, list[str]] = {}
    distances: dict[tuple[str, str], float] = {}
    written: dict[str, str] = {}  # each photo's real path: the path as the result gives it
    for pair in pairs:
        ends = [pair.get("a"), pair.get("b")] if isinstance(pair, dict) else []
        distance = pair.get("distance") if isinstance(pair, dict) else None
        if not all(isinstance(end, str) for end in ends) or not _is_number(distance):
            continue
        x, y = (os.path.realpath(os.path.join(base or "", end)) for end in ends)
        written.update({x: ends[0], y: ends[1]})
        neighbours.setdefault(x, []).append(y)
        neighbours.setdefault(y, []).append(x)
        distances[x, y] = distances[y, x] = float(distance)
    start, goal = os.path.realpath(a.path), os.path.realpath(b.path)
    step = steps_towards(start, neighbours)
    if goal not in step:
        return None
    links, at = [], goal
    while at != start:
        links.append(Link(written[step[at]], written[at], distances[step[at], at]))
        at = step[at]
    return tuple(reversed(links))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
