"""The dask executor: the scan's work on a Dask cluster gives what a local scan gives.

Real clusters: one started in this process as the executor starts its own, shared by
the module, and a `dask scheduler` with `dask worker` processes started as a user would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_reading import CrashyPlugin
from test_signals import noise, processes, stop_a_scan, within_seconds  # noqa: F401

import simplugin.hookspecs
from conftest import DUBLIN, SEAGULLS, run_simplugin
from simplugin import UsageError, load_plugins, scan
from simplugin.discover import Candidate
from simplugin.reading import Reader

distributed = pytest.importorskip(
    "distributed", reason="needs dask.distributed: pip install 'simplugin[dask]'"
)

from simplugin.builtin.dask_executor import (  # noqa: E402 (needs distributed)
    MALLOC_TRIM,
    DaskExecutor,
    Expected,
    check_workers,
    embedded_cluster,
    installed_versions,
    run_checked,
    worker_facts,
)

ROOT = Path(__file__).parents[1]

# The scan reaches executors through H2's plumbing (register_executors, --executor);
# until it is merged, only the workers themselves are tested here.
needs_executor_plumbing = pytest.mark.skipif(
    not hasattr(simplugin.hookspecs, "register_executors"),
    reason="simplugin has no register_executors hook yet (the executor plumbing)",
)

# What README.md's "More than one machine" tells to set on a worker's machine.
WITHOUT_MALLOC_TRIM = {
    "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": '{"MALLOC_TRIM_THRESHOLD_": None}'
}


# --- clusters -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader():
    metric = load_plugins().metric("avgdiff")
    return Reader(metric=metric, metric_plugin="avgdiff")


@pytest.fixture(scope="module")
def cluster():
    """The cluster `--executor dask` starts, shared by the tests of this module."""
    started = embedded_cluster(2)
    yield started
    started.close()


@pytest.fixture(scope="module")
def workers(cluster, reader):
    with DaskExecutor().start({"address": cluster.scheduler_address}, 2, reader) as started:
        yield started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_address():
    """A `dask scheduler` and a `dask worker` (2 processes of 1 thread) started as
    processes of their own, as a user would on the machines of a cluster."""
    with cluster_apart() as address:
        yield address


@contextlib.contextmanager
def cluster_apart(worker_prefix: Sequence[str] = (), workers: int = 2) -> Iterator[str]:
    """A scheduler and a worker started as processes of their own; the worker's command
    line after `worker_prefix` (another mount namespace, say)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        **WITHOUT_MALLOC_TRIM,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
    }
    dask = [sys.executable, "-m", "dask"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = ["worker", address, "--nworkers", str(workers), "--nthreads", "1", "--no-dashboard"]
    started = [subprocess.Popen([*dask, *scheduler], **quiet)]
    started.append(subprocess.Popen([*worker_prefix, *dask, *worker], **quiet))
    try:
        with distributed.Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)


# --- tasks sent to the workers ----------------------------------------------------------


def read_one(reader: Reader, path: str):
    """A task: one photo read, its path relative to the reader's folder as in a scan."""
    stat = os.stat(os.path.join(reader.folder, path))
    return reader.read(Candidate(path, stat.st_size, stat.st_mtime_ns, True))


def reader_of(_root: str) -> Reader:
    metric = load_plugins().metric("avgdiff")
    return Reader(metric, "avgdiff", folder=os.getcwd(), roots=(_root,))


DUBLIN_PHOTO = sorted(DUBLIN.iterdir())[0]


def summary_of(reader: Reader, path: str):
    stat = os.stat(path)
    return reader.read(Candidate(path, stat.st_size, stat.st_mtime_ns, True))


def worker_dies(reader: Reader) -> None:
    os._exit(70)  # as a decoder crashing on a malformed file: no exception to catch


def fails(reader: Reader) -> None:
    raise ValueError("a task that raises")


def slow_sum(reader: Reader, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


# --- the workers ----------------------------------------------------------------------


def test_a_task_runs_on_a_worker_with_the_scans_reader(workers, reader):
    path = str(SEAGULLS / "seagull_1.jpeg")

    summary = workers.submit(summary_of, path).result()

    here = summary_of(reader, path)
    assert np.array_equal(summary.signature, here.signature)
    assert (summary.width, summary.height, summary.format) == (here.width, here.height, here.format)


def test_the_workers_have_a_slot_per_worker_thread(workers):
    assert workers.slots == 2
    assert workers.spread_from == 0


def test_a_task_whose_worker_dies_is_a_lost_worker_and_the_others_go_on(workers):
    lost = workers.submit(worker_dies)
    failed = workers.submit(fails)

    with pytest.raises(distributed.KilledWorker) as killed:
        lost.result()
    with pytest.raises(ValueError) as raised:
        failed.result()

    assert workers.worker_lost(killed.value)
    assert not workers.worker_lost(raised.value)
    assert workers.submit(slow_sum, 0.0).result() == 0.0


def test_workers_that_run_another_simplugin_are_refused_naming_the_difference(workers):
    older = {**installed_versions(), "simplugin": "0.0.1"}

    with pytest.raises(UsageError, match=r"simplugin \S+ there, 0\.0\.1 here") as refused:
        check_workers(workers.client, older)

    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith("the Dask worker at tcp://")


def test_a_worker_that_joins_later_with_another_simplugin_refuses_each_task(workers):
    older = {**installed_versions(), "simplugin": "0.0.1"}

    expected = Expected(older)
    future = workers.client.submit(run_checked, expected, slow_sum, None, 0.0, pure=False)

    with pytest.raises(UsageError, match=r"the Dask worker at tcp://\S+ does not run this"):
        future.result()


def test_a_worker_without_a_plugin_distribution_is_refused(workers):
    more = {**installed_versions(), "simplugin-extra-metrics": "1.0"}

    with pytest.raises(UsageError, match="simplugin-extra-metrics is missing there, 1.0 here"):
        check_workers(workers.client, more)


def test_the_workers_the_executor_starts_run_without_malloc_trim_threshold(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        trims = {facts[1] for facts in client.run(worker_facts).values()}

    assert trims == {None}


def test_workers_started_with_dasks_default_malloc_trim_get_one_warning(capsys, monkeypatch):
    # Dask's nanny sets the variable in the process that starts it, too: restored after
    # (setenv first: monkeypatch restores only what it saw).
    monkeypatch.setenv(MALLOC_TRIM, "")
    monkeypatch.delenv(MALLOC_TRIM)
    dasks = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}
    )
    with dasks, distributed.Client(dasks, set_as_default=False) as client:
        check_workers(client, installed_versions())

    warnings = [line for line in capsys.readouterr().err.splitlines() if MALLOC_TRIM in line]
    assert warnings == [
        f"simplugin: the Dask workers run with {MALLOC_TRIM}=65536, which slows the"
        " comparison: start them as README.md's 'More than one machine' says"
    ]


def test_workers_started_as_the_readme_says_run_without_malloc_trim(scheduler_address, reader):
    options = {"address": scheduler_address}
    with DaskExecutor().start(options, 1, reader) as started:
        trims = {facts[1] for facts in started.client.run(worker_facts).values()}
        path = str(SEAGULLS / "seagull_2.jpeg")
        summary = started.submit(summary_of, path).result()

    assert started.slots == 2
    assert trims == {None}
    assert np.array_equal(summary.signature, summary_of(reader, path).signature)


def test_workers_started_elsewhere_find_a_library_given_as_a_relative_path(
    scheduler_address, library, monkeypatch
):
    monkeypatch.chdir(library.parent)
    reader = reader_of(library.name)  # the scan's folder, as a scan makes it
    with DaskExecutor().start({"address": scheduler_address}, 1, reader) as started:
        summary = started.submit(read_one, "library/seagull_3.jpeg").result()

    here = read_one(reader, "library/seagull_3.jpeg")
    assert np.array_equal(summary.signature, here.signature)


def test_two_scans_from_different_folders_share_a_cluster_and_each_reads_its_own(workers, tmp_path):
    for name, source in (("one", SEAGULLS / "seagull_1.jpeg"), ("two", DUBLIN_PHOTO)):
        (tmp_path / name).mkdir()
        shutil.copy(source, tmp_path / name / "photo.jpeg")
    readers = [replace(workers.context, folder=str(tmp_path / n)) for n in ("one", "two")]

    futures = [workers.client.submit(read_one, r, "photo.jpeg", pure=False) for r in readers * 4]

    widths = {f.result().width for f in futures}
    assert widths == {read_one(r, "photo.jpeg").width for r in readers}
    assert len(widths) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a worker its own mounts")
def test_a_worker_that_does_not_see_the_library_is_refused_in_one_line(library, reader):
    # The worker sees the library's folder empty: a share that failed to mount there.
    empty_mount = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs none "$0" && exec "$@"']
    with cluster_apart([*empty_mount, str(library)], workers=1) as address:
        with pytest.raises(UsageError) as refused:
            DaskExecutor().start({"address": address}, 1, replace(reader, roots=(str(library),)))

    assert str(refused.value) == (
        f"the Dask worker at {str(refused.value).split()[4]} does not see {library} as this"
        " machine does (every worker must see the library at the same paths)"
    )


def test_an_address_without_a_port_is_refused_at_once(library):
    run = run_simplugin(
        "scan", str(library), "--executor", "dask", "--executor-option", "address=garbage"
    )

    assert run.returncode == 2
    assert "expected HOST:PORT, such as tcp://host:8786, not 'garbage'" in run.stderr
    assert len(run.stderr.splitlines()) == 1


def test_a_scheduler_that_cannot_be_reached_is_a_usage_error(reader):
    with pytest.raises(UsageError, match=r"cannot reach the Dask scheduler at 'tcp://127"):
        DaskExecutor().start({"address": f"tcp://127.0.0.1:{free_port()}"}, 1, reader)


# --- whole scans (after the executor plumbing is merged) ---------------------------------


@pytest.fixture(scope="module")
def mixed_library(tmp_path_factory) -> Path:
    """Dated photos (Dublin) and undated ones (the seagulls, one saved again smaller)."""
    folder = tmp_path_factory.mktemp("mixed")
    shutil.copytree(SEAGULLS, folder / "seagulls")
    shutil.copytree(DUBLIN, folder / "dublin")
    with Image.open(SEAGULLS / "seagull_5.jpeg") as photo:
        photo.reduce(2).save(folder / "seagulls" / "seagull_5_small.jpeg", quality=80)
    return folder


def findings(result) -> tuple:
    """What a scan found, as comparable values: pairs with distances, and groups."""
    pairs = sorted((p.a.path, p.b.path, p.distance, p.identical) for p in result.pairs)
    groups = sorted(
        (g.keep.path, tuple((d.photo.path, d.distance) for d in g.duplicates))
        for g in result.groups
    )
    return pairs, groups, sorted((s.path, s.reason) for s in result.skipped)


@needs_executor_plumbing
@pytest.mark.parametrize("bucketer", ["exif-time", "none"])
def test_a_scan_on_a_dask_cluster_finds_what_a_local_scan_finds(mixed_library, cluster, bucketer):
    local = scan(mixed_library, bucketer=bucketer, cache=False, jobs=2)

    on_dask = scan(
        mixed_library,
        bucketer=bucketer,
        cache=False,
        jobs=2,
        executor="dask",
        executor_options={"address": cluster.scheduler_address},
    )

    assert local.pairs and local.undated != 0
    assert findings(on_dask) == findings(local)


@needs_executor_plumbing
def test_the_cluster_the_dask_executor_starts_itself_finds_what_a_local_scan_finds(mixed_library):
    local = scan(mixed_library, cache=False, jobs=2)

    on_dask = scan(mixed_library, cache=False, jobs=2, executor="dask")

    assert findings(on_dask) == findings(local)


@needs_executor_plumbing
def test_a_photo_that_kills_its_dask_worker_costs_only_itself(library, cluster):
    Image.open(library / "seagull_1.jpeg").resize((60, 80)).save(library / "tiny.jpeg")
    host = load_plugins(extra={"crashy": CrashyPlugin()})
    address = {"address": cluster.scheduler_address}

    result = scan(
        library,
        metric="crashy",
        cache=False,
        plugins=host,
        executor="dask",
        executor_options=address,
    )

    assert [(os.path.basename(s.path), s.reason) for s in result.skipped] == [
        ("tiny.jpeg", "reading it made the decoder crash (its process died)")
    ]
    assert len(result.photos) == 6


@needs_executor_plumbing
def test_a_scan_sent_to_a_scheduler_and_workers_started_apart_finds_the_local_pairs(
    mixed_library, scheduler_address
):
    local = run_simplugin("scan", str(mixed_library), "--no-cache", "--json", "-")

    on_dask = run_simplugin(
        "scan", str(mixed_library), "--no-cache", "--json", "-",
        "--executor", "dask", "--executor-option", f"address={scheduler_address}",
    )  # fmt: skip

    assert on_dask.returncode == local.returncode == 0, on_dask.stderr
    assert on_dask.stdout == local.stdout
    assert len(on_dask.stderr.splitlines()) == len(local.stderr.splitlines())  # no warning


def test_ctrl_c_ends_a_scan_on_its_own_cluster_in_one_line(noise, tmp_path):  # noqa: F811
    cache = tmp_path / "cache.sqlite"

    def press_ctrl_c_until_it_stops(pid: int) -> None:
        # As a user does: a Ctrl-C while the cluster starts is lost, the next one is not.
        while within_seconds(0.5, lambda: not processes(lambda f: f[2] == str(pid))) is False:
            os.killpg(pid, signal.SIGINT)

    code, stderr, _ = stop_a_scan(
        noise, cache, tmp_path, press_ctrl_c_until_it_stops, ("--executor", "dask")
    )

    assert (code, stderr) == (130, "simplugin: interrupted\n")
