"""The JSON result is a stable, documented format that scripts can rely on."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import simplugin
from conftest import SEAGULLS, run_simplugin


def test_the_document_has_the_documented_fields(library, expected):
    document = json.loads(run_simplugin("scan", str(library), "--json", "-").stdout)

    assert document["version"] == 1
    assert document["metric"] == "avgdiff"
    assert document["threshold"] == 0.07
    assert document["photos"] == 6
    assert document["skipped"] == []
    assert {"a", "b", "distance", "identical"} == set(document["pairs"][0])
    closest = document["pairs"][0]  # the closest pair comes first
    reference = next(p for p in expected["folders"]["seagulls"] if p["a"] == "seagull_5.jpeg")
    assert closest["distance"] == pytest.approx(reference["difference"], abs=0.005)
    assert document["groups"][0] == {
        "keep": f"{library}/seagull_6.jpeg",
        "duplicates": [f"{library}/seagull_5.jpeg"],
        "distances": [closest["distance"]],
        "identical": [False],
        "via": [None],  # 5-6 is a pair: seagull_5 is in the group through no other photo
    }


def test_the_document_says_what_its_paths_are_relative_to_and_records_each_grouped_file(
    library, tmp_path
):
    this_checkout = {"PYTHONPATH": str(Path(simplugin.__file__).parents[1])}
    run = run_simplugin("scan", "library", "--json", "-", cwd=tmp_path, env=this_checkout)

    document = json.loads(run.stdout)
    assert document["base"] == str(tmp_path)
    assert document["groups"][0]["keep"] == "library/seagull_6.jpeg"  # as typed, as before
    seen = (library / "seagull_5.jpeg").stat()
    assert document["files"]["library/seagull_5.jpeg"] == {
        "size": seen.st_size,
        "mtime_ns": str(seen.st_mtime_ns),  # a string, as in the report's plans
    }
    grouped = {p for g in document["groups"] for p in [g["keep"], *g["duplicates"]]}
    assert set(document["files"]) == grouped


def test_skipped_files_are_listed_with_their_reason(library):
    (library / "empty.jpg").write_bytes(b"")

    document = json.loads(run_simplugin("scan", str(library), "--json", "-").stdout)

    assert document["skipped"] == [{"path": f"{library}/empty.jpg", "reason": "empty file"}]


def test_file_names_that_are_not_utf8_or_contain_newlines_survive_the_round_trip(tmp_path):
    folder = os.fsencode(tmp_path)
    odd_names = [b"caf\xe9 latin-1.jpg", b"two\nlines.jpg"]
    for name in odd_names:
        shutil.copy(SEAGULLS / "seagull_1.jpeg", os.path.join(folder, name))

    run = run_simplugin("scan", str(tmp_path), "--json", "-")

    document = json.loads(run.stdout)
    written = [document["groups"][0]["keep"], *document["groups"][0]["duplicates"]]
    assert sorted(os.fsencode(path) for path in written) == sorted(
        os.path.join(folder, name) for name in odd_names
    )
    assert all(os.path.exists(path) for path in written)


def test_the_file_is_valid_utf8_even_for_undecodable_names(tmp_path):
    shutil.copy(SEAGULLS / "seagull_1.jpeg", os.path.join(os.fsencode(tmp_path), b"\xff.jpg"))
    shutil.copy(SEAGULLS / "seagull_1.jpeg", tmp_path / "copy.jpg")

    run_simplugin("scan", str(tmp_path), "--json", str(tmp_path / "out.json"))

    text = (tmp_path / "out.json").read_bytes().decode("utf-8")  # strict: raises if invalid
    assert "\\udcff.jpg" in text


def test_an_existing_result_file_is_replaced_whole(library, tmp_path):
    target = tmp_path / "result.json"
    target.write_text("x" * 100_000)  # longer than the new result: no tail may remain

    run_simplugin("scan", str(library), "--json", str(target))

    assert json.loads(target.read_text())["photos"] == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".simplugin-")] == []


def test_a_result_file_that_cannot_be_written_is_one_line_naming_it(library, tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "result.json"

    run = run_simplugin("scan", str(library), "--json", str(target), "-q")

    assert run.returncode == 3
    assert run.stderr == f"simplugin: error: could not write {target}: No such file or directory\n"


@pytest.mark.parametrize("flag", ["--json", "--html"])
@pytest.mark.parametrize("what", ["a FIFO", "a folder", "a symbolic link", "a character device"])
def test_an_output_path_that_is_not_a_regular_file_is_never_replaced(library, tmp_path, flag, what):
    path = tmp_path / "out"
    if what == "a FIFO":
        os.mkfifo(path)
    elif what == "a folder":
        path.mkdir()
    elif what == "a symbolic link":
        (tmp_path / "elsewhere.json").write_text("the user's")
        path.symlink_to(tmp_path / "elsewhere.json")
    elif os.geteuid() == 0:  # making a device takes root, which CI has
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    else:
        pytest.skip("making a device takes root")
    kind = os.lstat(path).st_mode

    run = run_simplugin("scan", str(library), flag, str(path))

    assert run.returncode == 3
    assert f"not writing {path}: it is {what}" in run.stderr
    assert "Traceback" not in run.stderr
    assert os.lstat(path).st_mode == kind
    assert not (tmp_path / "out-thumbnails").exists()
