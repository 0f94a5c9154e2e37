"""The README's test command passes on a machine without the programs some tests drive
(they skip, saying what to install), and CI, which installs them, allows no skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
