"""The README's test command passes on a machine without the programs some tests drive
(they skip, saying what to install), and CI, which installs them, allows no skip. A
command that a test runs in the test process says and exits what it would in a process
of its own, and leaves the test process as it found it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from conftest import run_in_this_process, run_simplugin_process

ROOT = Path(__file__).parents[1]


def pytest_without_programs(tmp_path: Path, ci: str) -> subprocess.CompletedProcess:
    """The darktable and Chromium tests, run where neither program is on the PATH."""
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/test_integrations.py::test_darktable_groups_the_near_duplicates_and_tags_them",
            "tests/test_html_report.py::test_every_group_is_a_row_of_thumbnails_with_the_keeper_marked",
        ],
        cwd=ROOT,
        env={**os.environ, "PATH": str(bare), "CI": ci},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_program_skips_its_tests_with_the_package_to_install(tmp_path):
    run = pytest_without_programs(tmp_path, ci="false")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 skipped" in run.stdout
    assert "needs xvfb-run: apt-get install xvfb" in run.stdout
    assert "apt-get install chromium" in run.stdout


def test_in_ci_a_skipped_test_fails_the_run(tmp_path):
    run = pytest_without_programs(tmp_path, ci="true")

    assert run.returncode == 1
    assert "skipped" not in run.stdout.splitlines()[-1]
    for program in ("xvfb-run", "chromium"):
        assert f"skipped in CI, where nothing may be: Skipped: needs {program}" in run.stdout


# A plugin that changes what a process holds: all of it must end with the command.
UNTIDY_PLUGIN = """
    import logging, os, signal, sys, warnings

    warnings.warn("untidy uses something deprecated", DeprecationWarning)  # Python hides it
    logging.basicConfig(level=logging.DEBUG)
    warnings.simplefilter("error")
    signal.signal(signal.SIGUSR1, lambda number, frame: None)
    os.environ["UNTIDY"] = "yes"
    sys.path.append("/untidy")
    os.umask(0o077)
    print("untidy was here", file=sys.stderr)
    print("untidy was here")
"""


@pytest.fixture
def untidy(distributions) -> dict:
    distributions.install("untidy", UNTIDY_PLUGIN, {"untidy": "untidy"})
    return distributions.env


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "{library}", "--json", "-", "-q"),
        ("scan", "{library}", "--json", "-", "-q", "-j", "2", "--threshold", "0.02"),
        ("scan", "{library}/nowhere"),
        ("scan", "{library}", "--threshold", "lots"),
        ("plugins", "--json"),
        ("--version",),
        ("nonsense",),
        (),
    ],
)
@pytest.mark.parametrize("plugin_on_pythonpath", [True, False])
def test_a_command_in_this_process_says_and_exits_what_its_own_process_would(
    library, untidy, args, plugin_on_pythonpath
):
    args = [arg.format(library=library) for arg in args]
    env = untidy if plugin_on_pythonpath else {}  # else only this process's sys.path has it

    here = run_in_this_process(*args, cwd=library, env=env)
    alone = run_simplugin_process(*args, cwd=library, env=env)

    assert (here.returncode, here.stdout, here.stderr) == (
        alone.returncode,
        alone.stdout,
        alone.stderr,
    )


def test_a_command_in_this_process_leaves_the_test_process_as_it_found_it(library, untidy):
    def state():
        root, umask = logging.getLogger(), os.umask(0o022)
        os.umask(umask)
        return (
            umask,
            sorted(os.listdir("/proc/self/fd")),
            os.getcwd(),
            dict(os.environ),
            list(sys.path),
            {number: signal.getsignal(number) for number in signal.valid_signals()},
            (list(warnings.filters), warnings.showwarning),
            (root.level, list(root.handlers)),
            (sys.stdin, sys.stdout, sys.stderr, sys.argv),
            "untidy" in sys.modules,
        )

    before = state()
    for _ in range(2):  # the second run imports the plugin afresh, so it untidies again
        run = run_in_this_process("scan", str(library), "-q", cwd=library, env=untidy)
        assert run.stderr.count("untidy was here") == 1

    assert state() == before
