"""The example third-party plugin installs with pip and extends simplugin as any
plugin from PyPI would."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import SEAGULLS, pip_install, run_simplugin

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture(scope="module")
def dhash_installed(tmp_path_factory) -> dict:
    return pip_install("simplugin-dhash", tmp_path_factory.mktemp("site-packages"))


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


def test_the_csv_example_sink_writes_one_row_per_duplicate(library, tmp_path):
    installed = pip_install("simplugin-csv", tmp_path / "site-packages")
    target = tmp_path / "dupes.csv"

    run = run_simplugin(
        "scan",
        str(library),
        "--sink",
        "csv",
        "--sink-option",
        f"csv.path={target}",
        env=installed,
    )

    assert run.returncode == 0
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["group", "keep", "duplicate", "distance", "duplicate_bytes"]
    assert sorted(Path(row[2]).name for row in rows[1:]) == [
        "seagull_3.jpeg",
        "seagull_4.jpeg",
        "seagull_5.jpeg",
    ]
