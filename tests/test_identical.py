"""A duplicate that is a byte-for-byte copy of another photo is marked "identical" in
every report, and `--only-identical` acts on such copies alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import simplugin
from conftest import run_simplugin


@pytest.fixture
def with_a_copy(library: Path) -> Path:
    """The seagulls, and a byte copy of seagull_1 under another name."""
    shutil.copyfile(library / "seagull_1.jpeg", library / "seagull_1 copy.jpeg")
    return library


def names(*paths: str) -> frozenset[str]:
    return frozenset(Path(path).name for path in paths)


def test_the_json_marks_each_pair_and_duplicate_that_is_an_identical_copy(with_a_copy):
    document = json.loads(run_simplugin("scan", str(with_a_copy), "--json", "-").stdout)

    marked = {names(p["a"], p["b"]): p["identical"] for p in document["pairs"]}
    assert marked.pop(names("seagull_1.jpeg", "seagull_1 copy.jpeg")) is True
    assert set(marked.values()) == {False}  # near-duplicates, not copies
    group = next(g for g in document["groups"] if len(g["duplicates"]) == 3)
    copies = [
        Path(p).name
        for p, same in zip(group["duplicates"], group["identical"], strict=True)
        if same
    ]
    assert {Path(group["keep"]).name, *copies} == {"seagull_1.jpeg", "seagull_1 copy.jpeg"}


def test_the_text_report_says_identical_copy_on_the_copys_line_only(with_a_copy):
    run = run_simplugin("scan", str(with_a_copy))

    marked = [line for line in run.stdout.splitlines() if line.endswith("identical copy")]
    assert len(marked) == 1
    assert "seagull_1" in marked[0] and "0.0000" in marked[0]
    assert run.stdout.count("identical copy") == 1


def test_only_identical_moves_only_the_byte_copy(with_a_copy, tmp_path):
    destination = tmp_path / "moved"
    before = {p.name: p.read_bytes() for p in with_a_copy.iterdir()}

    run = run_simplugin("scan", str(with_a_copy), "--only-identical", "--move-to", str(destination))

    assert run.returncode == 0, run.stderr
    moved = [p for p in destination.rglob("*.jpeg")]
    assert len(moved) == 1
    assert moved[0].name in {"seagull_1.jpeg", "seagull_1 copy.jpeg"}
    assert moved[0].read_bytes() == before["seagull_1.jpeg"]
    left = {p.name for p in with_a_copy.iterdir()}
    assert left == set(before) - {moved[0].name}  # seagulls 3, 4, 5 and 6 stay


def test_only_identical_in_the_file_and_the_api_keeps_only_groups_of_copies(with_a_copy, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text("only_identical = true\n")
    document = json.loads(
        run_simplugin("scan", str(with_a_copy), "--config", str(config), "--json", "-").stdout
    )
    result = simplugin.scan(with_a_copy, only_identical=True)

    copies = names("seagull_1.jpeg", "seagull_1 copy.jpeg")
    assert [names(p["a"], p["b"]) for p in document["pairs"]] == [copies]
    assert [names(*(p.path for p in g.photos)) for g in result.groups] == [copies]
    assert [d.identical for g in result.groups for d in g.duplicates] == [True]
    assert [p.identical for p in result.pairs] == [True]


def test_without_copies_only_identical_finds_nothing_to_act_on(library, tmp_path):
    run = run_simplugin(
        "scan", str(library), "--only-identical", "--move-to", str(tmp_path / "moved")
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert sorted(p.name for p in library.iterdir()) == [f"seagull_{n}.jpeg" for n in range(1, 7)]
