"""Shared fixtures: the real sample photos, a way to run the real command, and a way to
install a third-party plugin distribution the way pip lays one out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SEAGULLS = DATA / "seagulls"
DUBLIN = DATA / "dublin-sample"


@pytest.fixture(scope="session")
def expected() -> dict:
    """The reference metric's distance for every pair of the sample photos."""
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A writable copy of the six seagull photos."""
    folder = tmp_path / "library"
    shutil.copytree(SEAGULLS, folder)
    return folder


def run_simplugin(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Run `python -m simplugin ARGS` as a user would, with no standard input."""
    return subprocess.run(
        [sys.executable, "-m", "simplugin", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=300,
    )


class Distributions:
    """Installs small plugin distributions into a folder, laid out as pip lays out a
    wheel (module + `NAME-VERSION.dist-info` with `entry_points.txt`)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def install(self, name: str, source: str, entry_points: dict[str, str], version="1.0"):
        module = name.replace("-", "_")
        sys.modules.pop(module, None)  # a name reused by another test must not import stale code
        (self.folder / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.folder / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[simplugin]\n{lines}")
        return module

    @property
    def env(self) -> dict:
        """The environment under which a `simplugin` process sees these plugins."""
        return {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(self.folder), os.environ.get("PYTHONPATH")])
            )
        }


@pytest.fixture
def distributions(tmp_path: Path, monkeypatch) -> Distributions:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))  # in-process too: importlib.metadata sees them
    return Distributions(folder)
