"""Processes on this machine: the `local` executor's workers, and the pool under them.

`LocalWorkers` are what a scan runs on by default (the `local` executor): worker
processes forked from the scan, so they share its loaded plugins, including any a script
registered directly, and the scan's context (its reader) without pickling it. They leave
signals to the scan (Ctrl-C reaches them too, and they ignore it) and end with it,
however it ends. `worker_pool` is the pool they are built on, public for plugins that
work on files of this machine on every core (the report's thumbnails).
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from .errors import TERMINATING_SIGNALS
from .types import Workers

# Comparisons with fewer candidate pairs than this stay in the scan's process: below
# it, starting processes costs more than it saves (measured for avgdiff's search).
LOCAL_SPREAD_FROM = 20_000**2


class LocalWorkers(Workers):
    """`jobs` forked processes, started at the first task; with one job, no process:
    tasks run in the calling process, one at a time, as they are submitted.

    A worker that dies (a decoder crashing, the memory running out) breaks the pool:
    the tasks in flight fail with `BrokenProcessPool`, which `worker_lost` recognises,
    and the next task starts a fresh pool.
    """

    spread_from = LOCAL_SPREAD_FROM

    def __init__(self, jobs: int, context: Any):
        self.slots = jobs
        self.context = context
        self.pool: WorkerPool | None = None

    def submit(self, task: Callable[..., Any], *args: Any) -> Future:
        if self.slots <= 1:
            return _run_here(task, self.context, args)
        if self.pool is not None:
            try:
                return self.pool.submit(_run_task, task, *args)
            except BrokenProcessPool:  # a worker died: this pool takes no more tasks
                self.pool.end_workers()
        # The context reaches the workers through the fork, never pickled: a metric
        # defined inside a test function or a script works there too.
        self.pool = worker_pool(self.slots, initializer=_keep_context, initargs=(self.context,))
        return self.pool.submit(_run_task, task, *args)

    def worker_lost(self, error: BaseException) -> bool:
        return isinstance(error, BrokenProcessPool)

    def close(self, at_once: bool = False) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close(at_once)


def _run_here(task: Callable[..., Any], context: Any, args: tuple) -> Future:
    """The task run now, in this process, as a finished future: what it returned or
    raised is given by `result()`, as a worker's would be."""
    future: Future = Future()
    try:
        future.set_result(task(context, *args))
    except Exception as error:
        future.set_exception(error)
    return future


class _WorkerLost:
    def __repr__(self) -> str:
        return "WORKER_LOST"


# What `each_on` gives an item whose task lost its worker twice (a decoder crashing on
# it, the memory running out), in place of the task's result.
WORKER_LOST: Any = _WorkerLost()


def each_on(
    workers: Workers, task: Callable[..., list], batches: Iterable[list]
) -> Iterator[tuple[Any, Any]]:
    """Each item of `batches` with its result, in order: `task(context, batch)` runs on
    `workers` and returns a list, one result per item of the batch.

    `batches` is consumed lazily, a few per slot ahead of the results, so that what
    feeds them (a walk) and the work overlap and memory holds only what is in flight. A
    batch whose worker is lost (a decoder crashing on a malformed file, the memory
    running out) costs only the item that killed it: its items run again one by one,
    each alone, and one that loses a worker again gets `WORKER_LOST`.
    """
    ahead = max(1, workers.slots) * 4
    in_flight: deque[tuple[list, Any]] = deque()
    for batch in itertools.chain(batches, [None] * ahead):
        if batch is not None:
            in_flight.append((batch, workers.submit(task, batch)))
        if not in_flight or (batch is not None and len(in_flight) < ahead):
            continue
        done, future = in_flight.popleft()
        results = _result_unless_lost(workers, future)
        if results is WORKER_LOST:
            # Which item killed the worker is known only by running each alone, with
            # nothing else in flight (a pool whose process died fails all its tasks, a
            # Dask worker that dies fails those queued on it): let every task in flight
            # settle first, then run the items of the lost ones one by one.
            settled = [(done, results)]
            settled += [(b, _result_unless_lost(workers, f)) for b, f in in_flight]
            in_flight.clear()
            for done, results in settled:
                if results is WORKER_LOST:
                    yield from ((item, _alone(workers, task, item)) for item in done)
                else:
                    yield from zip(done, results, strict=True)
            continue
        yield from zip(done, results, strict=True)


def _result_unless_lost(workers: Workers, future: Any) -> Any:
    """The future's result, or `WORKER_LOST` when its worker died."""
    try:
        return future.result()
    except Exception as error:
        if not workers.worker_lost(error):
            raise
        return WORKER_LOST


def _alone(workers: Workers, task: Callable[..., list], item: Any) -> Any:
    results = _result_unless_lost(workers, workers.submit(task, [item]))
    return WORKER_LOST if results is WORKER_LOST else results[0]


_worker_context: Any = None  # in a worker process: the context of its LocalWorkers


def _keep_context(context: Any) -> None:
    global _worker_context
    _worker_context = context


def _run_task(task: Callable[..., Any], *args: Any) -> Any:
    return task(_worker_context, *args)


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
        self.close(at_once=error is not None)
        return False

    def close(self, at_once: bool = False) -> None:
        """End the pool: once the tasks submitted are done, or `at_once`."""
        if at_once:
            self.end_workers()
            return
        try:
            self.shutdown(wait=True)
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
