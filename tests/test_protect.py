"""`--protect PATH`: the photos under a protected path are never moved or otherwise
changed; a group holding one keeps it, and a group of protected photos only is reported
but never acted on.

In the seagull sample, photos 1, 3 and 4 are one group (keeper 1) and 5, 6 another
(keeper 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import run_simplugin
from simplugin import scan, write


def names(folder: Path) -> list[str]:
    """The files under `folder`, the journal of the moves left out."""
    return sorted(
        path.name
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith("simplugin-journal-")
    )


def keepers(report: Path) -> list[str]:
    groups = json.loads(report.read_text())["groups"]
    return sorted(os.path.basename(group["keep"]) for group in groups)


def test_a_protected_photo_is_its_groups_keeper_and_never_moves(library, tmp_path):
    dest = tmp_path / "dest"
    protected = library / "seagull_4.jpeg"

    report = tmp_path / "report.json"
    run = run_simplugin(
        "scan",
        str(library),
        "--protect",
        str(protected),
        "--move-to",
        str(dest),
        "--json",
        str(report),
    )

    assert run.returncode == 0, run.stderr
    assert keepers(report) == ["seagull_4.jpeg", "seagull_6.jpeg"]
    assert names(dest) == ["seagull_1.jpeg", "seagull_3.jpeg", "seagull_5.jpeg"]
    assert protected.exists()


def test_a_group_of_protected_photos_is_reported_and_left_as_it_is(library, tmp_path):
    dest = tmp_path / "dest"
    before = {path.name: path.read_bytes() for path in library.iterdir()}

    run = run_simplugin("scan", str(library), "--protect", str(library), "--move-to", str(dest))

    assert run.returncode == 0, run.stderr
    assert "keep    " in run.stdout  # the groups are still reported
    assert {path.name: path.read_bytes() for path in library.iterdir()} == before
    assert not dest.exists() or names(dest) == []
    left = [line for line in run.stderr.splitlines() if "it is protected (--protect)" in line]
    assert sorted(left) == [
        f"simplugin: left {library}/seagull_{n}.jpeg as it is: it is protected (--protect)"
        for n in (3, 4, 5)
    ]


def test_the_configuration_file_protects_a_folder_under_home(library, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text('protect = ["~/library/seagull_3.jpeg", "~/library/seagull_5.jpeg"]\n')
    dest = tmp_path / "dest"

    run = run_simplugin(
        "scan",
        str(library),
        "--config",
        str(config),
        "--move-to",
        str(dest),
        env={"HOME": str(tmp_path)},
    )

    assert run.returncode == 0, run.stderr
    assert names(dest) == ["seagull_1.jpeg", "seagull_4.jpeg", "seagull_6.jpeg"]


def test_the_api_keeps_protected_photos_out_of_every_sink_that_changes_files(library, tmp_path):
    result = scan(
        library, cache=False, protect=[library / "seagull_1.jpeg", library / "seagull_3.jpeg"]
    )
    dest = tmp_path / "dest"

    write(result, "move", to=str(dest))

    assert sorted(os.path.basename(group.keep.path) for group in result.groups) == [
        "seagull_1.jpeg",
        "seagull_6.jpeg",
    ]
    assert names(dest) == ["seagull_4.jpeg", "seagull_5.jpeg"]  # 3 is protected: it stays
    assert (library / "seagull_3.jpeg").exists()


def test_a_protected_folder_stays_protected_when_scanned_through_a_link(library, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(library)
    dest = tmp_path / "dest"

    run = run_simplugin("scan", str(link), "--protect", str(library), "--move-to", str(dest))

    assert run.returncode == 0, run.stderr
    assert names(library) == [f"seagull_{n}.jpeg" for n in range(1, 7)]
    assert not dest.exists() or names(dest) == []


def test_a_duplicate_whose_sidecar_is_protected_stays_with_it(library, tmp_path):
    sidecar = library / "seagull_5.xmp"
    sidecar.write_text("<x:xmpmeta/>")
    dest = tmp_path / "dest"

    run = run_simplugin("scan", str(library), "--protect", str(sidecar), "--move-to", str(dest))

    assert run.returncode == 0, run.stderr
    assert f"kept {library}/seagull_5.jpeg: {sidecar} is protected" in run.stderr
    assert (library / "seagull_5.jpeg").exists() and sidecar.exists()
    assert names(dest) == ["seagull_3.jpeg", "seagull_4.jpeg"]
