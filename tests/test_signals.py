"""A scan stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) ends every worker process, says so
in one line, exits with 130 or 128 + the signal's number, and leaves the signature cache
usable. Real scans, in real processes, stopped while their workers are reading."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_simplugin

CORES = len(os.sched_getaffinity(0))
JOBS = str(4 * CORES)  # as many workers as allowed: the more there are, the more can go wrong
CACHED_FIRST = 100  # photos already in the cache when the stopped scan starts
PHOTOS = 300


@pytest.fixture(scope="module")
def noise(tmp_path_factory) -> Path:
    """300 photos of noise, in `first/` (100) and `rest/` (200): enough that reading them
    takes the workers a while."""
    folder = tmp_path_factory.mktemp("noise")
    pixels = np.random.default_rng(6).integers(0, 256, (PHOTOS, 240, 320, 3), dtype=np.uint8)
    for number, photo in enumerate(pixels):
        part = folder / ("first" if number < CACHED_FIRST else "rest")
        part.mkdir(exist_ok=True)
        Image.fromarray(photo).save(part / f"noise_{number:03}.jpg", quality=90)
    return folder


def processes(where) -> set[int]:
    """The live processes whose /proc stat fields (after the name) satisfy `where`; a
    zombie has ended (only its exit status is left) and is not counted."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[0] != "Z" and where(fields):
            found.add(int(stat.parent.name))
    return found


def children(pid: int) -> set[int]:
    return processes(lambda fields: int(fields[1]) == pid)


def in_group(group: int) -> set[int]:
    """What is left of a process group: a worker orphaned by its parent is still in it."""
    return processes(lambda fields: int(fields[2]) == group)


def within_seconds(seconds: float, condition) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_a_scan(
    noise: Path, cache: Path, tmp_path: Path, send, options: tuple[str, ...] = ()
) -> tuple[int, str, set[int]]:
    """Start a scan of `noise`, call `send(pid)` once its workers are reading, check that
    no process of it is left a few seconds after it ends, and return its exit code, its
    stderr and the workers it had when the signal was sent."""
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        scan = subprocess.Popen(
            [sys.executable, "-m", "simplugin", "scan", str(noise), "-j", JOBS, "-q"]
            + ["--cache", str(cache), *options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,  # a file, not a pipe: a worker left running cannot hold the test up
            start_new_session=True,  # a process group of its own, as a shell gives a command
        )
    try:
        assert within_seconds(60, lambda: children(scan.pid)), "no worker started"
        workers = children(scan.pid)
        send(scan.pid)
        code = scan.wait(timeout=60)
        assert within_seconds(5, lambda: not in_group(scan.pid)), (
            f"processes left running: {sorted(in_group(scan.pid))}"
        )
    finally:  # on the old code: leave no stray worker behind
        try:
            os.killpg(scan.pid, signal.SIGKILL)
        except ProcessLookupError:  # nothing left, as it should be
            pass
    return code, errors.read_text(), workers


def cached_photos(cache: Path) -> int:
    info = run_simplugin("cache", "info", "--cache", str(cache)).stdout
    found = re.search(r"^metric:avgdiff:\d+: (\d+) photos$", info, re.MULTILINE)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize(
    "signal_number, to_the_group, code, line",
    [
        (signal.SIGINT, True, 130, "simplugin: interrupted"),  # Ctrl-C in a terminal
        (signal.SIGTERM, False, 143, "simplugin: terminated by SIGTERM"),  # kill, systemd
        (signal.SIGHUP, False, 129, "simplugin: terminated by SIGHUP"),  # the terminal closed
    ],
)
def test_a_signal_ends_the_scan_and_its_workers_in_one_line_and_the_cache_still_serves(
    noise, tmp_path, signal_number, to_the_group, code, line
):
    cache = tmp_path / "signatures.sqlite"
    assert run_simplugin("scan", str(noise / "first"), "-q", "--cache", str(cache)).returncode == 0

    def send(pid: int) -> None:
        if to_the_group:
            os.killpg(pid, signal_number)
        else:
            os.kill(pid, signal_number)

    returncode, stderr, workers = stop_a_scan(noise, cache, tmp_path, send)

    assert workers
    assert returncode == code, stderr
    assert stderr.splitlines() == [line]
    stored = cached_photos(cache)
    assert stored >= CACHED_FIRST
    again = run_simplugin("scan", str(noise), "--cache", str(cache), "--json", os.devnull)
    assert again.returncode == 0, again.stderr
    assert f"scanned {PHOTOS} photos in " in again.stderr
    assert f"; {stored} read from the cache" in again.stderr


def test_a_scan_killed_outright_takes_its_workers_with_it(noise, tmp_path):
    returncode, stderr, workers = stop_a_scan(
        noise, tmp_path / "signatures.sqlite", tmp_path, lambda pid: os.kill(pid, signal.SIGKILL)
    )

    assert returncode == -signal.SIGKILL
    assert workers  # and none of them is left: stop_a_scan checks
