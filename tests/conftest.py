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

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parents[1] / "examples"
SEAGULLS = DATA / "seagulls"
DUBLIN = DATA / "dublin-sample"


# In CI (CI=true, as .ci/run is run) every program a test drives has been installed, so
# a test that skips because one is missing is a failure there, not a quiet pass.
IN_CI = os.environ.get("CI", "").lower() == "true"


def need_program(program: str, package: str) -> str:
    """The path of `program`; without it the test is skipped with one line saying which
    Debian package to install (and fails in CI, where .ci/run installs them all)."""
    found = shutil.which(program)
    if not found:
        pytest.skip(f"needs {program}: apt-get install {package} (.ci/run does)")
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where nothing may be: {reason}"


@pytest.fixture(autouse=True)
def private_folders(tmp_path_factory, monkeypatch):
    """Each test, and each command it runs, gets a signature cache of its own and no
    configuration file but those it writes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


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


# Root reads and writes anything; a test of permissions runs the command without its
# capabilities so that they apply as for any user (setpriv is part of util-linux).
AS_A_USER = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"] if os.geteuid() == 0 else []


def run_simplugin(*args: str, cwd: Path | None = None, env: dict | None = None, under=()):
    """Run `python -m simplugin ARGS` as a user would, with no standard input; `under`
    is a command to run it through, such as AS_A_USER or a resource limit."""
    return subprocess.run(
        [*under, sys.executable, "-m", "simplugin", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=300,
    )


def pip_install(example: str, target: Path) -> dict:
    """`pip install examples/EXAMPLE` into a folder of its own; the environment under
    which a simplugin process sees it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(EXAMPLES / example),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return {"PYTHONPATH": str(target)}


@pytest.fixture(scope="session")
def csv_installed(tmp_path_factory) -> dict:
    """The example CSV sink (examples/simplugin-csv), installed with pip."""
    return pip_install("simplugin-csv", tmp_path_factory.mktemp("site-packages"))


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


def write_dng(path, upright: np.ndarray, preview: np.ndarray | None = None, orientation=1):
    """A DNG as a camera writes one: raw data plus, usually, a full-size preview."""
    tifffile = pytest.importorskip("tifffile")
    dng_tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "simplugin test camera", True),  # UniqueCameraModel
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1) * 3, True),  # ColorMatrix1: identity
        (274, "H", 1, orientation, True),
    ]
    with tifffile.TiffWriter(path) as dng:
        if preview is not None:
            dng.write(preview, photometric="rgb", subfiletype=1, extratags=dng_tags)
        raw = upright.astype(np.uint16) * 257
        dng.write(
            raw, photometric=34892, subfiletype=0, extratags=[] if preview is not None else dng_tags
        )
