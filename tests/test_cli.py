"""The `simplugin` command as a user and a script see it: what goes to stdout and
stderr, and the exit codes."""

from __future__ import annotations

import inspect
import json
import os
import pty
import pydoc
import re
import shutil
import subprocess
import sys

import pytest

from conftest import SEAGULLS, run_simplugin
from simplugin import UsageError, scan
from simplugin.errors import ExitCode
from simplugin.review import IDLE_VARIABLE
from simplugin.settings import SETTINGS


def test_scan_prints_the_groups_on_stdout_and_a_summary_on_stderr(library):
    run = run_simplugin("scan", str(library))

    assert run.returncode == 0
    assert run.stdout.count("Group ") == 2
    assert f"keep    {library}/seagull_6.jpeg" in run.stdout  # same pixels, larger file
    assert f"0.0159  {library}/seagull_5.jpeg" in run.stdout
    assert run.stderr.strip() == (
        "simplugin: scanned 6 photos in "
        + run.stderr.split(" in ")[1].split(" s:")[0]
        + " s: 2 groups of near-duplicates, 3 duplicates, 0 skipped"
    )


def test_json_to_stdout_is_the_only_thing_on_stdout(library):
    run = run_simplugin("scan", str(library), "--json", "-")

    document = json.loads(run.stdout)
    assert document["photos"] == 6
    assert len(document["pairs"]) == 4


def test_a_folder_without_near_duplicates_prints_nothing_on_stdout(tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path)
    shutil.copy(SEAGULLS / "seagull_2.jpeg", tmp_path)

    run = run_simplugin("scan", str(tmp_path))

    assert run.returncode == 0
    assert run.stdout == ""


def test_fail_on_duplicates_exits_1_when_near_duplicates_are_found(library):
    # A process of its own: the exit code as the shell sees it.
    assert run_simplugin("scan", str(library), "--fail-on-duplicates", process=True).returncode == 1


def test_fail_on_duplicates_exits_0_when_there_are_none(tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path)

    assert run_simplugin("scan", str(tmp_path), "--fail-on-duplicates").returncode == 0


def test_a_missing_folder_is_a_usage_error_in_one_line(tmp_path):
    run = run_simplugin("scan", str(tmp_path / "nowhere"))

    assert run.returncode == 2
    assert run.stderr == f"simplugin: error: {tmp_path / 'nowhere'}: no such file or folder\n"


def test_an_unknown_metric_is_a_usage_error_listing_the_available_ones(library):
    run = run_simplugin("scan", str(library), "--metric", "nonsense")

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: unknown metric 'nonsense' (available: avgdiff, keypoints)\n"
    )


def test_a_bad_threshold_is_a_usage_error(library):
    run = run_simplugin("scan", str(library), "--threshold", "lots")

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: threshold 'lots' is no threshold of avgdiff:"
        " give a number from 0 to 1, or strict, default or loose\n"
    )


def test_the_threshold_changes_what_counts_as_a_near_duplicate(library):
    run = run_simplugin("scan", str(library), "--threshold", "0.02", "--json", "-")

    pairs = json.loads(run.stdout)["pairs"]
    assert [(p["a"][-14:], p["b"][-14:]) for p in pairs] == [("seagull_5.jpeg", "seagull_6.jpeg")]


def test_a_broken_photo_is_one_line_on_stderr_and_the_scan_succeeds(library):
    (library / "broken.jpg").write_bytes(b"not a photo")

    run = run_simplugin("scan", str(library))

    assert run.returncode == 0
    assert (
        f"simplugin: skipped {library}/broken.jpg: not an image that Pillow can read\n"
        in run.stderr
    )
    assert "Traceback" not in run.stderr
    assert run.stdout.count("Group ") == 2


def test_paths_are_written_as_the_user_typed_the_folder(library):
    run = run_simplugin("scan", "library", "--json", "-", cwd=library.parent)

    document = json.loads(run.stdout)
    assert document["groups"][0]["keep"] == "library/seagull_6.jpeg"


def test_json_file_and_report_together(library, tmp_path):
    run = run_simplugin("scan", str(library), "--json", str(tmp_path / "result.json"))

    assert run.stdout.count("Group ") == 2
    assert json.loads((tmp_path / "result.json").read_text())["photos"] == 6


def test_a_reader_that_stops_early_gets_no_error_message(library):
    # `simplugin scan ... | head`: here the reader is gone before the report is written.
    run = subprocess.run(
        [
            "bash",
            "-c",
            '"$0" -m simplugin scan "$1" --quiet | true; exit "${PIPESTATUS[0]}"',
            sys.executable,
            str(library),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 141
    assert run.stderr == ""


def test_help_explains_options_and_exit_codes():
    run = run_simplugin("scan", "--help")

    assert run.returncode == 0
    for text in ("--threshold", "--metric", "--json", "--fail-on-duplicates", "exit codes:"):
        assert text in run.stdout


def test_help_lists_every_exit_code_with_its_meaning():
    run = run_simplugin("--help")

    listed = run.stdout.split("exit codes:\n", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^  (\d+) ", listed, re.MULTILINE) == [str(code) for code in ExitCode]
    assert "  143  ended by SIGTERM" in listed


def test_every_scan_setting_is_a_flag_of_scan_and_review_under_its_one_name():
    for command in ("scan", "review"):
        run = run_simplugin(command, "--help")

        assert run.returncode == 0
        for setting in SETTINGS.values():
            for flag in setting.flags:
                assert f" {flag} " in run.stdout or f" {flag}," in run.stdout, (command, flag)


def test_the_bucketers_old_flags_still_choose_the_bucketer_and_its_options(library):
    old = run_simplugin("scan", str(library), "--bucket", "none", "--json", "-", "--no-cache", "-q")
    new = run_simplugin(
        "scan", str(library), "--bucketer", "none", "--json", "-", "--no-cache", "-q"
    )

    assert old.returncode == new.returncode == 0
    assert json.loads(old.stdout)["bucketer"] is None
    assert old.stdout == new.stdout
    for flag in ("--bucket-option", "--bucketer-option"):
        run = run_simplugin("scan", str(library), flag, "window=soon")
        assert run.returncode == 2
        assert "bucketer 'exif-time' option 'window'" in run.stderr


def test_review_takes_the_scan_settings(library):
    run = run_simplugin(
        "review", "--no-open", "--threshold", "0.02", str(library), env={IDLE_VARIABLE: "0"}
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.count("Group ") == 1  # only seagull 5 and 6 are that close
    assert run.stdout.splitlines()[-1].startswith("http://127.0.0.1:")  # the served page


def test_a_misspelled_setting_in_the_api_is_a_type_error_naming_the_setting(library):
    with pytest.raises(TypeError, match="unexpected keyword argument 'treshold'.*'threshold'"):
        scan(library, treshold=0.02)


def test_help_of_the_api_scan_shows_every_setting_with_its_default():
    signature = inspect.signature(scan)
    documentation = pydoc.render_doc(scan, renderer=pydoc.plaintext)

    for name, setting in SETTINGS.items():
        assert signature.parameters[name].default == setting.default
        assert f"{name}={setting.default!r}: " in documentation


def test_the_console_script_and_python_dash_m_are_the_same_command(library):
    script = subprocess.run(
        ["simplugin", "scan", str(library), "--json", "-"], capture_output=True, text=True
    )
    module = run_simplugin("scan", str(library), "--json", "-", process=True)

    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout


def test_no_command_is_a_usage_error():
    run = run_simplugin(process=True)  # argparse's exit as the shell sees it

    assert run.returncode == 2
    assert "usage: simplugin" in run.stderr


def run_on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess, bytes]:
    """`simplugin ARGS` with stderr on a pseudo-terminal, and what it drew there."""
    terminal, stderr_end = pty.openpty()
    run = subprocess.run(
        [sys.executable, "-m", "simplugin", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_end,
        timeout=120,
    )
    os.close(stderr_end)
    drawn = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the process has closed its end
            break
        if not chunk:
            break
        drawn += chunk
    os.close(terminal)
    return run, drawn


def test_progress_is_drawn_on_a_terminal(library):
    run, drawn = run_on_a_terminal("scan", str(library))

    assert run.returncode == 0
    assert b"reading photos: " in drawn
    assert b"Group" not in drawn  # the data still goes to stdout only


def test_the_time_left_is_told_only_once_the_walk_has_found_every_photo(tmp_path):
    # Photos are read while the walk goes on, 64 found at a time: on one process,
    # reading the first ones takes long enough to be drawn before the walk has ended.
    for index in range(256):
        shutil.copy(SEAGULLS / f"seagull_{index % 6 + 1}.jpeg", tmp_path / f"{index:03}.jpeg")

    run, drawn = run_on_a_terminal("scan", str(tmp_path), "-j", "1", "--no-cache")

    assert run.returncode == 0
    frames = drawn.replace(b"\r\n", b"\n").split(b"\r\033[K")
    reading = [frame for frame in frames if frame.startswith(b"reading photos: ")]
    told = [frame for frame in reading if b"s left" in frame]
    assert all(b"/256, " in frame for frame in told), told  # the total, never a part
    assert b"reading photos: " in drawn and b"/256" in drawn  # once the walk has ended


def test_no_progress_is_drawn_when_stderr_is_not_a_terminal(library):
    run = run_simplugin("scan", str(library))

    # The progress line is redrawn with a carriage return and an erase-line code; the
    # runner's text mode turns any carriage return into a newline, the code stays.
    assert "\033[K" not in run.stderr
    assert run.stderr.startswith("simplugin: scanned 6 photos")


def test_making_the_reports_thumbnails_is_drawn_on_a_terminal(tmp_path):
    (tmp_path / "photos").mkdir()
    for index in range(48):
        shutil.copy(
            SEAGULLS / f"seagull_{index % 6 + 1}.jpeg", tmp_path / "photos" / f"{index}.jpeg"
        )

    run, drawn = run_on_a_terminal(
        "scan", str(tmp_path / "photos"), "--html", str(tmp_path / "report.html")
    )

    assert run.returncode == 0
    assert b"making thumbnails: 48/48" in drawn


# --- how many processes read the photos (-j, SIMPLUGIN_JOBS) -----------------------------

CORES = len(os.sched_getaffinity(0))

# A metric that notes which process reads each photo, and which one ran the scan.
WHERE_PHOTOS_ARE_READ = """
    import os
    import numpy as np
    from simplugin import Metric, hookimpl

    def note(what):
        with open(os.environ["READ_LOG"], "a") as log:
            log.write(f"{what} {os.getpid()}\\n")

    class Reader(Metric):
        name = "reader"
        default_threshold = 0.5
        signature_shape = (1,)
        signature_dtype = "float64"

        def signature(self, image):
            note("read")
            return np.zeros(1)

        def distance(self, a, b):
            return 0.0

    @hookimpl
    def register_metrics(register):
        register(Reader())

    @hookimpl
    def scan_finished(result):
        note("scan")
"""


@pytest.fixture
def reader_installed(distributions) -> dict:
    distributions.install("reader", WHERE_PHOTOS_ARE_READ, {"reader": "reader"})
    return distributions.env


def read_in_worker_processes(installed, library, tmp_path, *arguments, env=()) -> bool:
    """Scan the library; whether its photos were read in processes of their own."""
    log = tmp_path / "read.log"
    log.unlink(missing_ok=True)
    run = run_simplugin(
        "scan",
        str(library),
        "--metric",
        "reader",
        "--no-cache",
        *arguments,
        env={**installed, "READ_LOG": str(log), **dict(env)},
    )
    assert run.returncode == 0, run.stderr
    notes = [line.split() for line in log.read_text().splitlines()]
    [scanner] = [pid for what, pid in notes if what == "scan"]
    readers = {pid for what, pid in notes if what == "read"}
    assert readers
    return readers != {scanner}


@pytest.mark.parametrize("jobs", ["0", "-4", str(4 * CORES + 1), "two", "\u0662"])  # ٢: 2
def test_a_number_of_jobs_out_of_range_is_a_usage_error_saying_the_range(library, jobs):
    run = run_simplugin("scan", str(library), "-j", jobs)

    assert run.returncode == 2
    assert (
        f"simplugin scan: error: argument -j/--jobs: must be a whole number from 1 to"
        f" {4 * CORES} (4 per core this process may use), not '{jobs}'\n"
    ) in run.stderr
    assert run.stdout == ""


def test_up_to_4_jobs_per_core_may_be_asked_for(library):
    run = run_simplugin("scan", str(library), "-j", str(4 * CORES), "--no-cache")

    assert run.returncode == 0
    assert run.stdout.count("Group ") == 2


def test_zero_jobs_from_a_configuration_file_is_a_usage_error(library, tmp_path):
    (tmp_path / "simplugin.toml").write_text("jobs = 0\n")

    run = run_simplugin("scan", str(library), "--config", str(tmp_path / "simplugin.toml"))

    assert run.returncode == 2
    assert f"simplugin.toml: jobs: expected a whole number from 1 to {4 * CORES}" in run.stderr
    assert run.stdout == ""


def test_zero_jobs_in_the_api_is_a_usage_error(library):
    with pytest.raises(UsageError, match=r"jobs must be a whole number from 1 to \d+"):
        scan(library, jobs=0)


def test_simplugin_jobs_sets_the_number_of_processes_when_j_is_not_given(
    reader_installed, library, tmp_path
):
    assert not read_in_worker_processes(
        reader_installed, library, tmp_path, env={"SIMPLUGIN_JOBS": "1"}
    )
    assert read_in_worker_processes(
        reader_installed, library, tmp_path, "-j", "2", env={"SIMPLUGIN_JOBS": "1"}
    )


@pytest.mark.parametrize("value", ["0", "lots", str(4 * CORES + 1)])
def test_a_bad_simplugin_jobs_is_a_usage_error_naming_the_variable(library, value):
    run = run_simplugin("scan", str(library), env={"SIMPLUGIN_JOBS": value})

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: SIMPLUGIN_JOBS must be a whole number from 1 to {4 * CORES}"
        f" (4 per core this process may use), not '{value}'\n"
    )
