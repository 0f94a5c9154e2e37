"""The `dask` executor: a scan's reading and comparisons on a Dask cluster
(`pip install 'simplugin[dask]'`).

`--executor dask` starts a cluster on this machine: one worker process per job, one
thread each. `--executor-option address=tcp://host:8786` sends the work to a scheduler
already running instead, whose workers may be on other machines (started by hand, by
dask-jobqueue on SLURM or PBS, on Kubernetes...).

The workers read the photos themselves, by the paths the scan found: every worker must
see the library at the same paths. They send back only what is small (signatures,
pairs); the signature cache stays in this process. Each task carries the scan's reader
(its metric and bucketer) with it rather than scattering it once: scattered data lives
on the worker holding it and dies with it.

A worker must run what this process runs: the same simplugin and the same plugin
distributions. They are compared on every worker before the scan, and again by each
task, for a worker that joins later; a difference stops the scan, naming it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import signal
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from simplugin import (
    Executor,
    Option,
    SimpluginError,
    UsageError,
    Workers,
    error_reason,
    hookimpl,
    printable,
    quoted,
    tell,
)

# glibc's variable that Dask's nanny sets for its workers (65536). Set at all, it also
# fixes glibc's mmap threshold: every large numpy array is then mapped and unmapped
# anew, which doubled the comparison's CPU in a prototype.
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
CONNECT_SECONDS = 30  # to reach a scheduler at `address`
WORKERS_SECONDS = 60  # for a first worker to join a scheduler that has none yet
INSTALL = "pip install 'simplugin[dask]'"


def scheduler_address(text: str) -> str:
    """An address a scheduler listens on, `[PROTOCOL://]HOST:PORT`: anything else is
    refused at once (Dask would try it for a minute)."""
    _, _, place = text.strip().rpartition("://")
    host, colon, port = place.rpartition(":")
    if not (host and colon and port.isdigit() and port.isascii()):
        raise ValueError(f"expected HOST:PORT, such as tcp://host:8786, not {quoted(text)}")
    return text.strip()


class DaskExecutor(Executor):
    name = "dask"
    description = "run the scan's work on a Dask cluster: this machine's, or one at an address"
    options = {
        "address": Option(
            scheduler_address,
            "the scheduler to use, such as tcp://host:8786 (default: start a cluster on"
            " this machine, one worker per job)",
        ),
        "spread_from": Option(
            int,
            "compare in this process below this many candidate pairs (default 0: send"
            " every comparison to the workers)",
            default=0,
        ),
    }

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("distributed") is None:
            return f"the Dask executor needs dask.distributed: {INSTALL}"
        return None

    def start(self, options: Mapping[str, Any], jobs: int, context: Any) -> DaskWorkers:
        address = options.get("address")
        cluster = None if address else embedded_cluster(jobs)
        try:
            client = connect(address or cluster)
        except BaseException:
            if cluster is not None:
                with _ctrl_c_left_to_the_scan():
                    cluster.close()
            raise
        workers = DaskWorkers(client, cluster, context, options.get("spread_from") or 0)
        try:
            check_workers(client, workers.expected.versions, library_of(context))
        except BaseException:
            workers.close(at_once=True)
            raise
        return workers


def embedded_cluster(jobs: int) -> Any:
    """A cluster on this machine, started and ended with the scan."""
    import dask.config
    import distributed

    settings = {
        f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None,  # see MALLOC_TRIM
        # A worker killed by a photo (a decoder crashing) fails its task at once: the
        # scan then retries the photos it had, one by one, as it does with local processes.
        "distributed.scheduler.allowed-failures": 0,
    }
    with dask.config.set(settings), _ctrl_c_left_to_the_scan():
        return distributed.LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP routes on a free port: 8787 may be another cluster's
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            # a worker dying is the scan's to report, in one line: not Dask's log
            silence_logs=logging.CRITICAL,
        )


@contextlib.contextmanager
def _ctrl_c_left_to_the_scan() -> Iterator[None]:
    """Ctrl-C ignored while the workers start, which they inherit: it reaches the whole
    process group, and the scan, which ends them, says what it means in one line (each
    worker would print its traceback). A Ctrl-C during those seconds is lost: a second
    one stops the scan. (Holding it instead does not last: the workers release it.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change how signals are handled
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def connect(address: Any) -> Any:
    """A client of the scheduler at `address` (or of a cluster), once it has a worker."""
    import distributed

    try:
        client = distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise UsageError(f"cannot reach the Dask scheduler at {quoted(address)}: {error}") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except TimeoutError:
        client.close()
        raise UsageError(
            f"the Dask scheduler at {quoted(address)} has no worker"
            f" (none joined in {WORKERS_SECONDS} s)"
        ) from None
    return client


class DaskWorkers(Workers):
    """The workers of one scan's Dask client; `slots` counts their threads at the start."""

    def __init__(self, client: Any, cluster: Any, context: Any, spread_from: int):
        self.client = client
        self.cluster = cluster  # None when the scheduler is someone else's
        self.context = context
        self.spread_from = spread_from
        self.expected = Expected(installed_versions())
        self.slots = max(1, sum(client.nthreads().values()))
        self._submitted: weakref.WeakSet = weakref.WeakSet()
        # What goes wrong is the scan's to say, in one line: not Dask's log, with its
        # tracebacks (a scheduler lost, a worker restarted), while the scan runs.
        self._dask_logs = _quietened("distributed")

    def submit(self, task: Callable[..., Any], *args: Any) -> Any:
        with warnings.catch_warnings():
            # A band of signatures is sent with its task on purpose (data scattered
            # once dies with its worker): not a mistake to warn the user of.
            warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
            future = self.client.submit(
                run_checked, self.expected, task, self.context, *args, pure=False
            )
        self._submitted.add(future)
        return _Outcome(future)

    def worker_lost(self, error: BaseException) -> bool:
        # The scheduler raises KilledWorker for a task running on workers that died
        # more than its `allowed-failures` times (0 on the cluster this executor starts;
        # 3 by default on others: a crashing photo then costs 4 worker restarts).
        from distributed import KilledWorker

        return isinstance(error, KilledWorker)

    def close(self, at_once: bool = False) -> None:
        # Ending the cluster is what a Ctrl-C asks for: another one would leave it half
        # ended, for Python's exit to end with a traceback.
        with _ctrl_c_left_to_the_scan():
            try:
                if at_once:
                    self.client.cancel(list(self._submitted), force=True)
                self.client.close()
            finally:
                try:
                    if self.cluster is not None:
                        self.cluster.close()
                finally:
                    for log, level in self._dask_logs:
                        log.setLevel(level)


def _quietened(name: str) -> list[tuple[logging.Logger, int]]:
    """The logger `name` and those below it (Dask sets their levels one by one) made
    silent; returns each with the level to restore."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.startswith(name + ".")]
    logs = [logging.getLogger(n) for n in (name, *names)]
    before = [(log, log.level) for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL + 1)
    return before


class _Outcome:
    """A task's future whose `result()` says in one line that the scheduler was lost
    (killed, its machine gone), rather than with Dask's traceback."""

    def __init__(self, future: Any):
        self.future = future

    def result(self) -> Any:
        from concurrent.futures import CancelledError

        from distributed.comm import CommClosedError

        try:
            return self.future.result()
        except (CancelledError, CommClosedError) as error:
            said = " ".join(str(error).split())  # Dask's message runs over lines
            raise SimpluginError(
                f"lost the Dask scheduler, the scan cannot go on ({type(error).__name__}: {said})"
            ) from None


# --- what runs on the workers ---------------------------------------------------------


@functools.cache
def installed_versions() -> dict[str, str]:
    """simplugin's version and that of each distribution with a simplugin plugin, by
    name: what a worker must have the same of as the client."""
    versions = {"simplugin": _version_of("simplugin")}
    for entry_point in metadata.entry_points(group="simplugin"):
        if entry_point.dist is not None:
            versions[entry_point.dist.name] = entry_point.dist.version
    return versions


def _version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def version_difference(here: Mapping[str, str], there: Mapping[str, str]) -> str | None:
    """The first distribution whose version differs between `here` (the client) and
    `there` (a worker), in words; None when they are the same."""
    for name in sorted(here.keys() | there.keys()):
        if here.get(name) != there.get(name):
            return (
                f"{name} {there.get(name, 'is missing')} there,"
                f" {here.get(name, 'not installed')} here"
            )
    return None


def worker_facts(library: list[str] = ()) -> tuple[dict[str, str], str | None, list[tuple]]:
    """What the client checks on each worker: its versions, its MALLOC_TRIM, and what
    it sees of the library."""
    return installed_versions(), os.environ.get(MALLOC_TRIM), view_of(list(library))


@dataclass(frozen=True, slots=True)
class Expected:
    """What each task checks on its worker, sent with it: the client's simplugin and
    plugin versions."""

    versions: Mapping[str, str]


def run_checked(expected: Expected, task: Callable[..., Any], context: Any, *args: Any):
    """`task(context, *args)` on a worker that runs the client's versions (a worker
    that joined after the scan started has not been checked otherwise)."""
    difference = version_difference(expected.versions, installed_versions())
    if difference:
        raise UsageError(mismatch_message(f"the Dask worker at {_own_address()}", difference))
    return task(context, *args)


def library_of(context: Any) -> list[str]:
    """The scan's roots as absolute paths (the reader knows them and the scan's folder)."""
    folder = getattr(context, "folder", "") or os.getcwd()
    return [os.path.join(folder, os.path.expanduser(r)) for r in getattr(context, "roots", ())]


def view_of(paths: list[str]) -> list[tuple]:
    """What a machine sees at each path: nothing, a file and its size, or a folder and
    the first names in it. Two machines that see the same library see the same views;
    a share that failed to mount shows an empty folder, or none."""
    views = []
    for path in paths:
        try:
            if os.path.isdir(path):
                views.append(("folder", sorted(os.listdir(path))[:VIEWED_NAMES]))
            else:
                views.append(("file", os.stat(path).st_size))
        except OSError as error:
            views.append(("unreadable", error_reason(error)))
    return views


VIEWED_NAMES = 64  # names compared per folder: enough to tell another share


def _own_address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a worker: called directly
        return "?"


def mismatch_message(worker: str, difference: str) -> str:
    return f"{worker} does not run this simplugin: {difference} (install the same on every worker)"


def check_workers(client: Any, versions: Mapping[str, str], library: list[str] = ()) -> None:
    """Refuse a cluster whose workers run other versions than this client, or do not
    see the `library` (paths) as it does; warn once when they run with
    MALLOC_TRIM_THRESHOLD_ set."""
    trims = set()
    library = list(library)
    views = view_of(library)
    found = client.run(worker_facts, library, on_error="return")
    for address, facts in sorted(found.items()):
        if isinstance(facts, BaseException):  # simplugin missing there, most often
            raise UsageError(
                f"the Dask worker at {address} cannot run simplugin:"
                f" {type(facts).__name__}: {facts} (install it as here: {INSTALL})"
            )
        their_versions, trim, their_views = facts
        difference = version_difference(versions, their_versions)
        if difference:
            raise UsageError(mismatch_message(f"the Dask worker at {address}", difference))
        for path, here, there in zip(library, views, their_views, strict=True):
            if here != there:
                raise UsageError(
                    f"the Dask worker at {address} does not see {printable(path)} as this"
                    " machine does (every worker must see the library at the same paths)"
                )
        if trim is not None:
            trims.add(trim)
    if trims:
        tell(
            f"the Dask workers run with {MALLOC_TRIM}={min(trims)}, which slows the comparison:"
            " start them as README.md's 'More than one machine' says"
        )


@hookimpl
def register_executors(register):
    register(DaskExecutor())
