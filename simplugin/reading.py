"""Reading photos, on every core: each photo becomes its facts, signature and bucket key.

Decoding is the cost of a scan, so it runs on the scan's workers (see
`simplugin.executors`: by default processes forked on this machine), fed in small
batches as the walk finds files; only the small results (a signature is 768 bytes for
`avgdiff`) come back.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .discover import Candidate
from .errors import PluginError, UsageError, blame
from .executors import WORKER_LOST, each_on
from .imaging import Unreadable, open_displayed
from .types import Bucketer, Metric, Workers


class Summary(NamedTuple):
    """One photo, read: its upright size, format, signature and bucket key. The
    signature is the metric's array, or its bytes when it comes from the cache (the
    scan makes one array of them all). A named tuple, immutable like a frozen dataclass:
    a re-scan makes one per photo, and a tuple is made in half the time."""

    width: int
    height: int
    format: str
    signature: np.ndarray | bytes
    key: Any


@dataclass(frozen=True, eq=False)
class Found:
    """Summaries of photos, as columns, for `files[n]` for each n in `indices` (in their
    order): what the cache found of `files`. Columns, not a Summary per photo: a re-scan
    finds 100,000."""

    indices: list[int]
    widths: Sequence[int]
    heights: Sequence[int]
    formats: Sequence[str]
    signatures: np.ndarray  # one row each
    keys: Sequence[Any]
    digests: Sequence[bytes | None]  # None: not kept, to be made (see `pair_digests`)

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class Reader:
    """Reads photos for one scan with its metric and bucketer. `folder` is the scan's
    current folder, where the paths it was given as relative start: a worker elsewhere
    (another process's folder, another machine) reads the same files. `roots` are the
    paths the scan was given, for an executor to check that its workers see them."""

    metric: Metric
    metric_plugin: str
    bucketer: Bucketer | None = None
    bucketer_plugin: str | None = None
    folder: str = ""
    roots: tuple[str, ...] = ()

    def read(self, candidate: Candidate) -> Summary | str | None:
        """The photo's summary; a one-line reason to skip it; or None when the file is
        not a photo and not named like one (a video, a text file): it is ignored."""
        path = os.path.join(self.folder, candidate.path)  # as is, when absolute
        try:
            if candidate.size == 0:
                raise Unreadable("empty file")
            shown = open_displayed(path, self.metric.decode_size)
        except Unreadable as reason:
            return str(reason) if candidate.named_like_photo else None
        try:
            with blame(self.metric_plugin, "signature"):
                signature = np.asarray(self.metric.signature(shown.image))
            key = None
            if self.bucketer is not None:
                with blame(self.bucketer_plugin or "?", "key"):
                    key = self.bucketer.key(path)
        except PluginError as failure:
            if not failure.about_one_photo:
                raise  # a plugin ending the process (sys.exit) fails the scan, here or in a worker
            return str(failure)
        return Summary(shown.width, shown.height, shown.format, signature, key)


JOBS_ENV = "SIMPLUGIN_JOBS"  # the number of processes when a scan is not given one
# Decoding is CPU-bound: more processes than cores help only while they wait on slow
# storage (a NAS, a USB disk), and a few per core already cover that wait; beyond, each
# one only adds its memory (a decoded photo) and its start. 4 per core keeps that room
# and stops a slip such as -j 200.
JOBS_PER_CORE = 4


def default_jobs() -> int:
    """How many worker processes CPU-bound work should use: one per core this process
    may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def jobs_to_use(jobs: object = None) -> int:
    """The number of reading processes: `jobs` if given, else the `SIMPLUGIN_JOBS`
    environment variable, else one per core. A value out of range is a `UsageError`."""
    if jobs is None:
        jobs = os.environ.get(JOBS_ENV, "").strip() or None
        source = JOBS_ENV
    else:
        source = "jobs"
    if jobs is None:
        return default_jobs()
    try:
        return checked_jobs(jobs)
    except ValueError as error:
        raise UsageError(f"{source} {error}") from error


def checked_jobs(value: object) -> int:
    """`value` (a number, or text as typed) as a number of processes, or a ValueError
    that says the range."""
    number = value
    if isinstance(value, str):
        try:
            # int() also reads other scripts' digits ('٢'): a count is typed in ASCII.
            number = int(value.strip()) if value.strip().isascii() else value
        except ValueError:
            pass
    most = JOBS_PER_CORE * default_jobs()
    if (
        isinstance(number, bool)
        or not isinstance(number, numbers.Integral)
        or not 1 <= number <= most
    ):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ValueError(
            f"must be a whole number from 1 to {most} ({JOBS_PER_CORE} per core this process"
            f" may use), not {shown}"
        )
    return int(number)


def read_all(
    workers: Workers, batches: Iterable[list[Candidate]]
) -> Iterator[tuple[Candidate, Summary | str | None]]:
    """Each candidate with what reading it gave, in the order of `batches`, read on
    `workers` (started with the scan's `Reader` as their context), a few batches per
    slot ahead (see `each_on`). A photo that makes its worker die (a decoder crashing on
    a malformed file) costs only itself: it is skipped, with the reason."""
    for candidate, outcome in each_on(workers, _read_batch, batches):
        if outcome is WORKER_LOST:
            outcome = "reading it made the decoder crash (its process died)"
        yield candidate, outcome


def _read_batch(reader: Reader, batch: list[Candidate]) -> list[Summary | str | None]:
    """The task a worker runs: a few photos read with the scan's reader."""
    return [reader.read(candidate) for candidate in batch]
