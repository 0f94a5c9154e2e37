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

import functools
import importlib.util
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from simplugin import (
    Executor,
    Option,
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


class DaskExecutor(Executor):
    name = "dask"
    description = "run the scan's work on a Dask cluster: this machine's, or one at an address"
    options = {
        "address": Option(
            str,
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
                cluster.close()
            raise
        workers = DaskWorkers(client, cluster, context, options.get("spread_from") or 0)
        try:
            check_workers(client, workers.expected.versions)
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
    with dask.config.set(settings):
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
        self.expected = Expected(installed_versions(), os.getcwd())
        self.slots = max(1, sum(client.nthreads().values()))
        self._submitted: weakref.WeakSet = weakref.WeakSet()

    def submit(self, task: Callable[..., Any], *args: Any) -> Any:
        future = self.client.submit(
            run_checked, self.expected, task, self.context, *args, pure=False
        )
        self._submitted.add(future)
        return future

    def worker_lost(self, error: BaseException) -> bool:
        # The scheduler raises KilledWorker for a task running on workers that died
        # more than its `allowed-failures` times (0 on the cluster this executor starts;
        # 3 by default on others: a crashing photo then costs 4 worker restarts).
        from distributed import KilledWorker

        return isinstance(error, KilledWorker)

    def close(self, at_once: bool = False) -> None:
        try:
            if at_once:
                self.client.cancel(list(self._submitted), force=True)
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


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


def worker_facts() -> tuple[dict[str, str], str | None]:
    """What the client checks on each worker: its versions, and its MALLOC_TRIM."""
    return installed_versions(), os.environ.get(MALLOC_TRIM)


@dataclass(frozen=True, slots=True)
class Expected:
    """What each task checks on its worker, sent with it."""

    versions: Mapping[str, str]  # the client's simplugin and plugin versions
    folder: str  # the scan's current folder: relative paths are relative to it


def run_checked(expected: Expected, task: Callable[..., Any], context: Any, *args: Any):
    """`task(context, *args)` on a worker that runs the client's versions (a worker
    that joined after the scan started has not been checked otherwise), in the scan's
    current folder, so that a library given as a relative path is found."""
    difference = version_difference(expected.versions, installed_versions())
    if difference:
        raise UsageError(mismatch_message(f"the Dask worker at {_own_address()}", difference))
    if _current_folder() != expected.folder:
        # The process's folder, shared by its threads: every task sets it to its own
        # scan's, which is the same for all tasks but those of two scans at once.
        try:
            os.chdir(expected.folder)
        except OSError as error:
            raise UsageError(
                f"the Dask worker at {_own_address()} cannot enter the scan's folder"
                f" {printable(expected.folder)}: {error_reason(error)} (every worker must"
                " see the same paths)"
            ) from None
    return task(context, *args)


def _current_folder() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # removed since the last scan entered it
        return None


def _own_address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a worker: called directly
        return "?"


def mismatch_message(worker: str, difference: str) -> str:
    return f"{worker} does not run this simplugin: {difference} (install the same on every worker)"


def check_workers(client: Any, versions: Mapping[str, str]) -> None:
    """Refuse a cluster whose workers run other versions than this client; warn once
    when they run with MALLOC_TRIM_THRESHOLD_ set."""
    trims = set()
    for address, facts in sorted(client.run(worker_facts, on_error="return").items()):
        if isinstance(facts, BaseException):  # simplugin missing there, most often
            raise UsageError(
                f"the Dask worker at {address} cannot run simplugin:"
                f" {type(facts).__name__}: {facts} (install it as here: {INSTALL})"
            )
        their_versions, trim = facts
        difference = version_difference(versions, their_versions)
        if difference:
            raise UsageError(mismatch_message(f"the Dask worker at {address}", difference))
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
