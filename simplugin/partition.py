"""Large comparisons, split exactly into tasks for the executor's workers.

The engine searches a comparison with fewer candidate pairs than the workers'
`spread_from` in the scan's own process, as it always did. A larger one is cut here
into tasks that the workers run at once:

* a metric with a `partition_key` (a number per signature that two near signatures
  have less than a window apart: `avgdiff`'s sum of values): the signatures sorted by
  it are cut into bands of about equal work, each searched within itself and against
  its halo, the signatures after it whose number is within the window of its last. A
  pair belongs to the band of its first signature only, so none is missed or found
  twice. A comparison of two sets cuts the left one into bands, each searched against
  the right signatures within the window of its numbers.
* any other metric: blocks of the full pair matrix, each block with itself and with
  every later block.

Small comparisons sent out too (an executor with `spread_from` 0) are batched into
tasks of about equal weight. A task sends the signatures themselves, never the scan's
whole array, and comes back as small arrays of pairs by position in what it was sent;
they are mapped back to the scan's photos here. A task whose worker is lost (killed,
out of memory) is sent once more; lost again, the scan stops with one line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SimpluginError, blame, describe

if TYPE_CHECKING:
    from .reading import Reader
    from .types import Workers

TASKS_PER_SLOT = 4  # enough to even out bands that take longer than their estimate
IN_FLIGHT_PER_SLOT = 2  # tasks sent ahead: the workers never wait, memory holds few

Pairs = dict[tuple[int, int], float]


def candidate_pairs(left: Sized, right: Sized | None) -> int:
    """The pairs a search within `left`, or between `left` and `right`, could hold:
    what the engine counts against `Workers.spread_from` and a band's weight."""
    return len(left) * len(left if right is None else right)


def holds_no_pair(left: Sized, right: Sized | None) -> bool:
    """Nothing to ask the metric: one photo, or an empty side (most capture-time
    buckets hold a single photo)."""
    return len(left) < 2 if right is None else min(len(left), len(right)) == 0


@dataclass(frozen=True, eq=False)
class Search:
    """One call of the metric: `pairs_within(left)`, or `pairs_between(left, right)`
    when `right` is given; `left` and `right` are indices into the scan's photos,
    `asked` the keywords the scan gives the metric (rotations, burst)."""

    left: np.ndarray
    right: np.ndarray | None
    asked: Mapping[str, Any]

    @property
    def weight(self) -> int:
        """The candidate pairs: how much work the search is, as the engine counts it."""
        return candidate_pairs(self.left, self.right)

    def part(self, left: np.ndarray, right: np.ndarray | None) -> Search:
        return Search(left, right, self.asked)


Task = tuple[Search, ...]  # the searches one worker runs in one go


# --- on a worker ---------------------------------------------------------------------------


def search_on_worker(
    reader: Reader, searches: Sequence[tuple[np.ndarray, np.ndarray | None, dict]], threshold: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The task a worker runs: for each `(left, right, asked)` (signatures; `right`
    None to search within `left`), the near pairs the metric finds, as arrays of
    positions `i`, `j` and distances."""
    metric = reader.metric
    found = []
    for left, right, asked in searches:
        method = "pairs_within" if right is None else "pairs_between"
        with blame(reader.metric_plugin, method):
            if right is None:
                near = list(metric.pairs_within(left, threshold, **asked))
            else:
                near = list(metric.pairs_between(left, right, threshold, **asked))
        i, j, d = zip(*near, strict=True) if near else ((), (), ())
        found.append((np.array(i, np.int64), np.array(j, np.int64), np.array(d, np.float64)))
    return found


# --- planning ------------------------------------------------------------------------------


def plan_tasks(
    context: Any, signatures: np.ndarray, searches: Sequence[Search], slots: int, threshold: float
) -> list[Task]:
    """The tasks that together find exactly the pairs of `searches`, about
    `TASKS_PER_SLOT` per slot, by weight. `context` is the scan's (its metric and
    plugins); `threshold` is what the metric compares distances with."""
    searches = [s for s in searches if not holds_no_pair(s.left, s.right)]
    total = sum(s.weight for s in searches)
    target = max(1, total // (TASKS_PER_SLOT * max(1, slots)))
    tasks: list[Task] = []
    small = []
    for search in searches:
        parts = search.weight // target
        if parts >= 2:
            tasks.extend(_split(context, signatures, search, parts, threshold))
        else:
            small.append(search)
    tasks.extend(_batched(small, target))
    return tasks


def _batched(searches: Iterable[Search], target: int) -> Iterator[Task]:
    """Small searches, a task's worth at a time."""
    batch: list[Search] = []
    weight = 0
    for search in searches:
        batch.append(search)
        weight += search.weight
        if weight >= target:
            yield tuple(batch)
            batch, weight = [], 0
    if batch:
        yield tuple(batch)


def _split(
    context: Any, signatures: np.ndarray, search: Search, parts: int, threshold: float
) -> Iterator[Task]:
    """`search` as tasks: bands with their halos (a metric with a partition key) or
    blocks of its pair matrix (any other)."""
    metric = context.metric
    both = search.left if search.right is None else np.concatenate((search.left, search.right))
    with context.host.blame(metric, "partition_key"):
        keyed = metric.partition_key(signatures[both], threshold, **search.asked)
    if keyed is None:
        yield from _blocks(search, parts)
        return
    keys, window = np.asarray(keyed[0], dtype=np.float64), float(keyed[1])
    if search.right is None:
        yield from _bands_within(search, keys, window, parts)
    else:
        yield from _bands_between(search, keys, window, parts)


def _bands_within(search: Search, keys: np.ndarray, window: float, parts: int) -> Iterator[Task]:
    order = np.argsort(keys, kind="stable")
    ranked, photos = keys[order], search.left[order]
    # Each signature's reach: the first that follows it out of its window. Widened by
    # the float next to the bound, so that no rounding narrows it (a wider halo only
    # costs a little work; the metric still measures every pair it holds).
    reach = np.searchsorted(ranked, np.nextafter(ranked + window, np.inf), "left")
    work = reach - np.arange(len(ranked))  # itself and those within its window after it
    for start, stop in _cuts(work, parts):
        band = photos[start:stop]
        halo = photos[stop : max(stop, int(reach[stop - 1]))]
        within = (search.part(band, None),) if len(band) > 1 else ()
        task = within + ((search.part(band, halo),) if len(halo) else ())
        if task:
            yield task


def _bands_between(search: Search, keys: np.ndarray, window: float, parts: int) -> Iterator[Task]:
    assert search.right is not None
    count = len(search.left)
    left_order = np.argsort(keys[:count], kind="stable")
    right_order = np.argsort(keys[count:], kind="stable")
    ranked, right_ranked = keys[:count][left_order], keys[count:][right_order]
    left, right = search.left[left_order], search.right[right_order]
    low = np.searchsorted(right_ranked, np.nextafter(ranked - window, -np.inf), "left")
    high = np.searchsorted(right_ranked, np.nextafter(ranked + window, np.inf), "right")
    for start, stop in _cuts(high - low + 1, parts):
        facing = right[int(low[start]) : int(high[stop - 1])]
        if len(facing):
            yield (search.part(left[start:stop], facing),)


def _cuts(work: np.ndarray, parts: int) -> Iterator[tuple[int, int]]:
    """Consecutive stretches `[start, stop)` of positions with about equal work each."""
    cumulative = np.cumsum(work)
    shares = cumulative[-1] * np.arange(1, parts) / parts
    inner = np.searchsorted(cumulative, shares, "right")
    bounds = np.unique(np.concatenate(([0], inner, [len(work)])))
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        yield int(start), int(stop)


def _blocks(search: Search, parts: int) -> Iterator[Task]:
    """Blocks of the pair matrix: of the left photos against all the right ones, or,
    within, each block with itself and each later block (about `parts` in all)."""
    if search.right is not None:
        for block in np.array_split(search.left, min(parts, len(search.left))):
            yield (search.part(block, search.right),)
        return
    count = 1
    while count * (count + 1) // 2 < parts and count < len(search.left):
        count += 1
    blocks = np.array_split(search.left, count)
    for n, block in enumerate(blocks):
        if len(block) > 1:
            yield (search.part(block, None),)
        for later in blocks[n + 1 :]:
            yield (search.part(block, later),)


# --- running -------------------------------------------------------------------------------


def run_tasks(
    workers: Workers, signatures: np.ndarray, tasks: Sequence[Task], threshold: float
) -> Iterator[Pairs]:
    """The pairs each task finds, `{(i, j): distance}` with `i < j` (the scan's
    photos), in the order of `tasks`, a few tasks in flight per slot."""
    ahead = max(1, workers.slots * IN_FLIGHT_PER_SLOT)
    in_flight: deque[tuple[Task, Any]] = deque()
    for task in tasks:
        in_flight.append((task, _send(workers, signatures, task, threshold)))
        if len(in_flight) >= ahead:
            yield _received(workers, signatures, threshold, *in_flight.popleft())
    while in_flight:
        yield _received(workers, signatures, threshold, *in_flight.popleft())


def _send(workers: Workers, signatures: np.ndarray, task: Task, threshold: float) -> Any:
    sent = [
        (signatures[s.left], None if s.right is None else signatures[s.right], dict(s.asked))
        for s in task
    ]
    return workers.submit(search_on_worker, sent, threshold)


def _received(
    workers: Workers, signatures: np.ndarray, threshold: float, task: Task, future: Any
) -> Pairs:
    """What `task` found, once its future is done; sent once more if its worker was lost."""
    try:
        found = future.result()
    except Exception as error:
        if not workers.worker_lost(error):
            raise
        try:
            found = _send(workers, signatures, task, threshold).result()
        except Exception as again:
            if not workers.worker_lost(again):
                raise
            raise SimpluginError(
                f"a comparison lost its worker twice, the scan cannot go on ({describe(again)})"
            ) from None
    return _in_photos(task, found)


def _in_photos(task: Task, found: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Pairs:
    """A task's pairs by position, as pairs of the scan's photos."""
    pairs: Pairs = {}
    for search, (i, j, distances) in zip(task, found, strict=True):
        a = search.left[i]
        b = (search.left if search.right is None else search.right)[j]
        first, second = np.minimum(a, b), np.maximum(a, b)
        kept = first != second
        firsts, seconds = first[kept].tolist(), second[kept].tolist()
        pairs.update(zip(zip(firsts, seconds, strict=True), distances[kept].tolist(), strict=True))
    return pairs
