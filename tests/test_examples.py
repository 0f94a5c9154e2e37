"""The example third-party plugin installs with pip and extends simplugin as any
plugin from PyPI would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import SEAGULLS, run_simplugin

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture(scope="module")
def dhash_installed(tmp_path_factory) -> dict:
    """`pip install examples/simplugin-dhash` into a folder of its own; the environment
    under which a simplugin process sees it."""
    target = tmp_path_factory.mktemp("site-packages")
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
            str(EXAMPLES / "simplugin-dhash"),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return {"PYTHONPATH": str(target)}


def test_the_installed_example_is_listed_with_its_distribution(dhash_installed):
    run = run_simplugin("plugins", "--json", env=dhash_installed)

    listing = {entry["name"]: entry for entry in json.loads(run.stdout)}
    assert listing["dhash"]["distribution"] == "simplugin-dhash"
    assert listing["dhash"]["version"] == "0.1.0"
    assert listing["dhash"]["metrics"] == ["dhash"]


def test_dhash_finds_a_brightened_copy_that_the_reference_metric_misses(dhash_installed, tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / "original.jpeg")
    photo = Image.open(SEAGULLS / "seagull_1.jpeg")
    Image.eval(photo, lambda v: min(255, int(v * 1.35))).save(tmp_path / "brighter.jpeg")

    def pairs(metric: str) -> list:
        run = run_simplugin(
            "scan", str(tmp_path), "--metric", metric, "--json", "-", env=dhash_installed
        )
        return json.loads(run.stdout)["pairs"]

    assert pairs("avgdiff") == []
    assert [(Path(p["a"]).name, Path(p["b"]).name) for p in pairs("dhash")] == [
        ("brighter.jpeg", "original.jpeg")
    ]


def test_the_cleanup_script_moves_only_the_closest_duplicates(library, tmp_path):
    script = [sys.executable, str(EXAMPLES / "cleanup.py"), str(library), str(tmp_path / "dest")]

    shown = subprocess.run(script, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    applied = subprocess.run(
        [*script, "--apply"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )

    assert (
        shown.stdout == f"would move {library}/seagull_5.jpeg -> {tmp_path}/dest/seagull_5.jpeg\n"
    )
    assert applied.returncode == 0
    assert sorted(p.name for p in (tmp_path / "dest").glob("*.jpeg")) == ["seagull_5.jpeg"]
    assert (library / "seagull_3.jpeg").exists()  # 0.038 from its keeper: not that close
