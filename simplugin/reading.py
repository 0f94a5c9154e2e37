"""Reading photos, on every core: each photo becomes its facts, signature and bucket key.

Decoding is the cost of a scan, so it runs in worker processes, fed in small batches
as the walk finds files; only the small results (a signature is 768 bytes for
`avgdiff`) come back. The workers are forked, so they share the parent's loaded
plugins, including any registered directly by a script. They leave signals to the
scan (Ctrl-C reaches them too, and they ignore it) and end with it, however it ends.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import numbers
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .discover import Candidate
from .errors import TERMINATING_SIGNALS, PluginError, UsageError, blame
from .imaging import Unreadable, open_displayed
from .types import Bucketer, Metric


@dataclass(frozen=True, slots=True)
class Summary:
    """One photo, read: its upright size, format, signature and bucket key."""

    width: int
    height: int
    format: str
    signature: np.ndarray
    key: Any


@dataclass(frozen=True)
class Reader:
    """Reads photos for one scan with its metric and bucketer."""

    metric: Metric
    metric_plugin: str
    bucketer: Bucketer | None = None
    bucketer_plugin: str | None = None

    def read(self, candidate: Candidate) -> Summary | str | None:
        """The photo's summary; a one-line reason to skip it; or None when the file is
        not a photo and not named like one (a video, a text file): it is ignored."""
        try:
            if candidate.size == 0:
                raise Unreadable("empty file")
            shown = open_displayed(candidate.path, self.metric.decode_size)
        except Unreadable as reason:
            return str(reason) if candidate.named_like_photo else None
        try:
            with blame(self.metric_plugin, "signature"):
                signature = np.asarray(self.metric.signature(shown.image))
            key = None
            if self.bucketer is not None:
                with blame(self.bucketer_plugin or "?", "key"):
                    key = self.bucketer.key(candidate.path)
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
    reader: Reader, batches: Iterable[list[Candidate]], jobs: int
) -> Iterator[tuple[Candidate, Summary | str | None]]:
    """Each candidate with what reading it gave, in the order of `batches`.

    `batches` is consumed lazily, a few batches ahead of the results, so a long walk
    and the reading overlap and memory holds only what is in flight. A worker that
    dies (a decoder crashing on a malformed file, the memory running out) costs only
    the file that killed it: the photos that were in flight are read again one by one,
    each in a process of its own, and the one that crashes again is skipped.
    """
    if jobs <= 1:
        for batch in batches:
            for candidate in batch:
                yield candidate, reader.read(candidate)
        return
    remaining = iter(batches)
    while True:
        in_flight: deque[tuple[list[Candidate], Future]] = deque()
        try:
            with _pool(reader, jobs) as pool:
                for batch in itertools.chain(remaining, [None] * (jobs * 4)):
                    if batch is not None:
                        in_flight.append((batch, pool.submit(_read_batch, batch)))
                    if in_flight and (batch is None or len(in_flight) >= jobs * 4):
                        done, results = in_flight[0][0], in_flight[0][1].result()
                        in_flight.popleft()
                        yield from zip(done, results, strict=True)
            return
        except BrokenProcessPool:
            for batch, _ in in_flight:
                for candidate in batch:
                    yield candidate, _read_alone(reader, candidate)


class WorkerPool(ProcessPoolExecutor):
    """Worker processes that never outlive the work they were started for.

    Leaving the `with` block on an exception (Ctrl-C, SIGTERM, a failure, the results no
    longer wanted) ends every worker at once: `shutdown` alone would wait for the tasks
    running and queued. The workers ignore Ctrl-C, which reaches the whole process
    group: this process decides what it means, and they print no traceback. On Linux
    they also die with this process if it is killed outright (SIGKILL).
    """

    def submit(self, fn, /, *args, **kwargs):
        # A submit may fork workers: the stopping signals are held meanwhile, so none
        # reaches a worker before it has set its own handling (it would run this
        # process's handlers, and print their traceback).
        with _signals_held():
            return super().submit(fn, *args, **kwargs)

    def __exit__(self, kind, error, traceback):
        if error is not None:
            self.end_workers()
            return False
        try:
            return super().__exit__(kind, error, traceback)
        except BaseException:  # a signal while waiting for the workers to finish
            self.end_workers()
            raise

    def end_workers(self) -> None:
        """Stop every worker now, whatever it is doing, and the pool with them."""
        if hasattr(ProcessPoolExecutor, "terminate_workers"):  # Python 3.14
            self.terminate_workers()
            return
        for process in dict(self._processes or {}).values():  # no public way before 3.14
            process.terminate()
        self.shutdown(wait=True, cancel_futures=True)


def worker_pool(
    jobs: int, initializer: Callable[..., object] | None = None, initargs: tuple = ()
) -> WorkerPool:
    """Worker processes, forked where the system can: they then have the plugins this
    process loaded, whatever they are, including any a script registered directly."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    settings = (os.getpid(), initializer, initargs)
    return WorkerPool(
        jobs, mp_context=context, initializer=_start_worker_process, initargs=settings
    )


def _start_worker_process(
    parent: int, initializer: Callable[..., object] | None, initargs: tuple
) -> None:
    """The first thing a worker does: leave signals to the parent, then die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in TERMINATING_SIGNALS:  # a forked worker has the parent's handlers
        signal.signal(number, signal.SIG_DFL)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING_SIGNALS)
    if initializer is not None:
        initializer(*initargs)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>: the signal a process gets when its parent dies
STOPPING_SIGNALS = (signal.SIGINT, *TERMINATING_SIGNALS)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold the stopping signals in this thread (they are delivered on the way out)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _pool(reader: Reader, jobs: int) -> WorkerPool:
    return worker_pool(jobs, initializer=_start_worker, initargs=(reader,))


def _read_alone(reader: Reader, candidate: Candidate) -> Summary | str | None:
    try:
        with _pool(reader, 1) as pool:
            return pool.submit(_read_batch, [candidate]).result()[0]
    except BrokenProcessPool:
        return "reading it made the decoder crash (its process died)"


_worker_reader: Reader | None = None  # the reader of this worker process


def _start_worker(reader: Reader) -> None:
    global _worker_reader
    _worker_reader = reader


def _read_batch(batch: list[Candidate]) -> list[Summary | str | None]:
    assert _worker_reader is not None, "the pool initializer sets the reader"
    return [_worker_reader.read(candidate) for candidate in batch]
