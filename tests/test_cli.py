"""The `simplugin` command as a user and a script see it: what goes to stdout and
stderr, and the exit codes."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys

from conftest import SEAGULLS, run_simplugin


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
    assert run_simplugin("scan", str(library), "--fail-on-duplicates").returncode == 1


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
    assert run.stderr == "simplugin: error: unknown metric 'nonsense' (available: avgdiff)\n"


def test_a_bad_threshold_is_a_usage_error(library):
    run = run_simplugin("scan", str(library), "--threshold", "lots")

    assert run.returncode == 2
    assert "--threshold: invalid float value: 'lots'" in run.stderr


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


def test_the_console_script_and_python_dash_m_are_the_same_command(library):
    script = subprocess.run(
        ["simplugin", "scan", str(library), "--json", "-"], capture_output=True, text=True
    )
    module = run_simplugin("scan", str(library), "--json", "-")

    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout


def test_no_command_is_a_usage_error():
    run = run_simplugin()

    assert run.returncode == 2
    assert "usage: simplugin" in run.stderr


def test_progress_is_drawn_on_a_terminal(library):
    terminal, stderr_end = pty.openpty()
    run = subprocess.run(
        [sys.executable, "-m", "simplugin", "scan", str(library)],
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

    assert run.returncode == 0
    assert b"reading photos: " in drawn
    assert b"Group" not in drawn  # the data still goes to stdout only


def test_no_progress_is_drawn_when_stderr_is_not_a_terminal(library):
    run = run_simplugin("scan", str(library))

    assert "\r" not in run.stderr
