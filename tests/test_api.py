"""The Python API for scripting a cleanup: the same typed result the sinks receive."""

from __future__ import annotations

import json
import shutil

import pytest

from simplugin import Group, Photo, ScanResult, UsageError, scan, write


def test_scan_returns_groups_with_the_keeper_first_and_distances(library):
    result = scan(library)

    assert isinstance(result, ScanResult)
    assert all(isinstance(group, Group) for group in result.groups)
    first = result.groups[0]
    assert isinstance(first.keep, Photo)
    assert first.keep.path.endswith("seagull_6.jpeg")
    assert [(d.photo.path[-14:], round(d.distance, 4)) for d in first.duplicates] == [
        ("seagull_5.jpeg", 0.0159)
    ]
    assert len(result.duplicates) == 3


def test_groups_list_duplicates_most_similar_to_the_keeper_first(library):
    result = scan(library)

    big = result.groups[1]
    assert big.keep.path.endswith("seagull_1.jpeg")
    assert [d.photo.path[-14:] for d in big.duplicates] == ["seagull_3.jpeg", "seagull_4.jpeg"]


def test_a_tilde_path_means_the_home_folder(library, monkeypatch):
    monkeypatch.setenv("HOME", str(library.parent))

    result = scan("~/library")

    assert len(result.photos) == 6
    assert result.settings.roots == (str(library),)


def test_the_threshold_can_be_set_per_scan(library):
    assert len(scan(library, threshold=0.02).pairs) == 1
    assert len(scan(library, threshold=0.5).pairs) == 15


def test_a_negative_threshold_is_refused(library):
    with pytest.raises(UsageError, match="threshold"):
        scan(library, threshold=-1)


def test_scanning_changes_nothing_on_disk(library):
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in library.iterdir()}
    shutil.copy(library / "seagull_1.jpeg", library / "copy.jpeg")
    before["copy.jpeg"] = ((library / "copy.jpeg").stat().st_mtime_ns, before["seagull_1.jpeg"][1])

    scan(library)

    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in library.iterdir()}
    assert after == before


def test_a_script_can_send_a_result_to_a_sink(library, tmp_path):
    result = scan(library)

    write(result, "json", path=str(tmp_path / "dupes.json"))

    assert json.loads((tmp_path / "dupes.json").read_text())["photos"] == 6
