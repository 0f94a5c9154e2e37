"""`--xmp` tags keepers and duplicates in the XMP sidecars photo managers read, keeps
every other piece of an existing sidecar (a darktable history, ratings, keywords, GPS),
and `simplugin undo` puts each sidecar back byte for byte. The sidecars are read back
with ExifTool, as another program would read them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from test_integrations import config_home, run_darktable
from test_nothing_unasked import write_config

from conftest import need_program, run_simplugin
from simplugin import xmp_unavailable

KEEPERS = ("seagull_1.jpeg", "seagull_6.jpeg")
DUPLICATES = ("seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg")
GROUP_OF = {"seagull_6.jpeg": 1, "seagull_5.jpeg": 1, "seagull_1.jpeg": 2}
GROUP_OF |= {"seagull_3.jpeg": 2, "seagull_4.jpeg": 2}

# A sidecar as darktable writes one (attributes, an edit history of two steps), with a
# rating, GPS, the person's keywords, a keyword an earlier simplugin run left, and a
# namespace no program here knows.
DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:acme="http://example.com/acme/1.0/"
   exif:GPSLatitude="51,30.0000N"
   exif:GPSLongitude="0,7.5000W"
   xmp:Rating="4"
   darktable:xmp_version="5"
   darktable:history_end="2"
   acme:secret="kept">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1"
      darktable:modversion="6" darktable:params="0000000000000000"/>
     <rdf:li darktable:num="1" darktable:operation="colorbalancergb" darktable:enabled="1"
      darktable:modversion="5" darktable:params="gz12eJxjYGBgkGAAgRNODGQDAA"/>
    </rdf:Seq>
   </darktable:history>
   <dc:subject>
    <rdf:Bag><rdf:li>seagull</rdf:li><rdf:li>keep</rdf:li></rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag><rdf:li>birds|seagull</rdf:li><rdf:li>simplugin|keep</rdf:li></rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


@pytest.fixture(autouse=True)
def exempi():
    """The xmp extra's library: without it every test here would only see exit 2."""
    if xmp_unavailable() is not None:
        pytest.skip(f"needs Exempi: {xmp_unavailable()} (.ci/run installs it)")


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch) -> Path:
    """Where xmp runs keep their journals: a folder of the test's own."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def journal_in(state_home: Path) -> Path:
    (journal,) = (state_home / "simplugin" / "journals").glob("simplugin-journal-*.jsonl")
    return journal


def exiftool(*sidecars: Path) -> dict[str, dict]:
    """What ExifTool reads in each sidecar, by its file name (lists always lists)."""
    program = need_program("exiftool", "libimage-exiftool-perl")
    read = subprocess.run(
        [program, "-j", "-struct", "-XMP:all", *map(str, sidecars)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {Path(item["SourceFile"]).name: item for item in json.loads(read.stdout)}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_every_photo_of_a_group_is_tagged_in_a_sidecar_that_exiftool_reads(library):
    photos = {path.name: path.read_bytes() for path in library.iterdir()}

    run = run_simplugin("scan", str(library), "--xmp")

    assert run.returncode == 0, run.stderr
    read = exiftool(*(library / f"{name}.xmp" for name in (*KEEPERS, *DUPLICATES)))
    for name in (*KEEPERS, *DUPLICATES):
        role = "keep" if name in KEEPERS else "duplicate"
        group = f"{GROUP_OF[name]:04d}"
        fields = read[f"{name}.xmp"]
        assert as_list(fields["HierarchicalSubject"]) == [
            f"simplugin|{role}",
            f"simplugin|group|{group}",
        ]
        assert as_list(fields["Subject"]) == [f"simplugin-{role}", f"simplugin-group-{group}"]
        assert as_list(fields["TagsList"]) == [f"simplugin/{role}", f"simplugin/group/{group}"]
        assert "Rating" not in fields and "Label" not in fields  # not asked for
        assert f"tagged {library / name}.xmp (new): {role}, group {group}" in run.stdout
    assert not (library / "seagull_2.jpeg.xmp").exists()  # in no group
    for name, data in photos.items():
        assert (library / name).read_bytes() == data, f"{name} was written"
    assert f"simplugin undo {journal_in(library.parent / 'state')}" in run.stderr


def test_keyword_arrays_have_the_container_types_of_the_xmp_specification(library):
    (library / "seagull_5.jpeg.xmp").write_text(DARKTABLE_SIDECAR)

    assert run_simplugin("scan", str(library), "--xmp").returncode == 0

    for name in ("seagull_5.jpeg.xmp", "seagull_6.jpeg.xmp"):  # merged, and created
        description = ElementTree.parse(library / name).getroot().find(f"{RDF}RDF/{RDF}Description")
        containers = {
            child.tag: [grandchild.tag for grandchild in child]
            for child in description
            if child.tag.endswith(("}subject", "}hierarchicalSubject", "}TagsList"))
        }
        assert containers == {
            "{http://purl.org/dc/elements/1.1/}subject": [f"{RDF}Bag"],
            "{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject": [f"{RDF}Bag"],
            "{http://www.digikam.org/ns/1.0/}TagsList": [f"{RDF}Seq"],
        }, name


def test_a_darktable_sidecar_keeps_its_history_rating_keywords_and_gps_and_undo_restores_it(
    library, state_home
):
    sidecar = library / "seagull_5.jpeg.xmp"
    sidecar.write_text(DARKTABLE_SIDECAR)
    before = exiftool(sidecar)["seagull_5.jpeg.xmp"]

    run = run_simplugin("scan", str(library), "--xmp")

    assert run.returncode == 0, run.stderr
    after = exiftool(sidecar)["seagull_5.jpeg.xmp"]
    for field in before.keys() - {"HierarchicalSubject", "Subject", "XMPToolkit"}:
        assert after[field] == before[field], field
    assert [step["Operation"] for step in after["History"]] == ["exposure", "colorbalancergb"]
    assert after["Rating"] == 4 and after["Secret"] == "kept"
    # The earlier run's simplugin|keep is replaced, not kept beside the new keyword.
    assert after["HierarchicalSubject"] == [
        "birds|seagull",
        "simplugin|duplicate",
        "simplugin|group|0001",
    ]
    assert after["Subject"] == ["seagull", "keep", "simplugin-duplicate", "simplugin-group-0001"]

    undo = run_simplugin("undo", str(journal_in(state_home)))

    assert undo.returncode == 0, undo.stderr
    assert sidecar.read_text() == DARKTABLE_SIDECAR  # byte for byte
    assert sorted(p.name for p in library.glob("*.xmp")) == ["seagull_5.jpeg.xmp"]  # created: gone


def test_a_second_run_writes_nothing(library):
    assert run_simplugin("scan", str(library), "--xmp").returncode == 0
    written = {path: path.stat().st_mtime_ns for path in library.glob("*.xmp")}

    again = run_simplugin("scan", str(library), "--xmp")

    assert again.returncode == 0, again.stderr
    assert "tagged 0 sidecars (0 new); 5 already tagged so" in again.stderr
    assert {path: path.stat().st_mtime_ns for path in library.glob("*.xmp")} == written


def test_duplicates_get_the_label_and_rating_asked_for_and_keepers_do_not(library):
    run = run_simplugin("scan", str(library), "--xmp", "--xmp-label", "red", "--xmp-rating", "-1")

    assert run.returncode == 0, run.stderr
    read = exiftool(*library.glob("*.xmp"))
    for name in DUPLICATES:
        assert (read[f"{name}.xmp"]["Label"], read[f"{name}.xmp"]["Rating"]) == ("Red", -1)
    for name in KEEPERS:
        assert "Label" not in read[f"{name}.xmp"] and "Rating" not in read[f"{name}.xmp"]


def test_an_existing_lightroom_sidecar_is_used_and_new_ones_can_get_lightroom_names(library):
    (library / "seagull_5.xmp").write_text(DARKTABLE_SIDECAR)

    run = run_simplugin("scan", str(library), "--xmp", "--xmp-lightroom-names")

    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in library.glob("*.xmp")) == [
        f"seagull_{n}.xmp" for n in (1, 3, 4, 5, 6)
    ]
    assert "simplugin|duplicate" in (library / "seagull_5.xmp").read_text()


def test_an_unparseable_sidecar_is_left_untouched_with_one_line_and_exit_3(library):
    broken = library / "seagull_4.jpeg.xmp"
    broken.write_bytes(b"<x:xmpmeta>not closed")

    run = run_simplugin("scan", str(library), "--xmp")

    assert run.returncode == 3
    assert broken.read_bytes() == b"<x:xmpmeta>not closed"
    lines = [line for line in run.stderr.splitlines() if "seagull_4.jpeg.xmp" in line]
    assert lines == [
        f"simplugin: not tagging {broken}: it is not XMP (Exempi cannot parse it); left as it is"
    ]
    assert (library / "seagull_3.jpeg.xmp").exists()  # the others are tagged


def test_undo_leaves_a_sidecar_another_program_changed_since_with_one_line(library, state_home):
    assert run_simplugin("scan", str(library), "--xmp").returncode == 0
    changed = library / "seagull_3.jpeg.xmp"
    changed.write_text(changed.read_text().replace("simplugin|duplicate", "edited|by|hand"))

    undo = run_simplugin("undo", str(journal_in(state_home)))

    assert undo.returncode == 3
    assert "edited|by|hand" in changed.read_text()
    assert [line for line in undo.stderr.splitlines() if "seagull_3" in line] == [
        f"simplugin: left {changed}: it changed since the run wrote it (another program wrote"
        " to it?) and stays as it is"
    ]
    assert sorted(p.name for p in library.glob("*.xmp")) == ["seagull_3.jpeg.xmp"]
    again = run_simplugin("undo", str(journal_in(state_home)))
    assert [line for line in again.stderr.splitlines() if "left" in line] == [
        line for line in undo.stderr.splitlines() if "left" in line
    ]


def test_a_dry_run_lists_the_sidecars_it_would_write_and_writes_none(library, state_home):
    run = run_simplugin("scan", str(library), "--xmp", "--dry-run")

    assert run.returncode == 0, run.stderr
    assert f"would tag {library / 'seagull_5.jpeg.xmp'} (new): duplicate, group 0001" in run.stdout
    assert "would tag 5 sidecars (5 new)" in run.stderr
    assert not list(library.glob("*.xmp")) and not state_home.exists()


def test_without_the_xmp_extra_the_command_says_how_to_install_it(library, tmp_path):
    # A Python without python-xmp-toolkit: a module of that name that cannot be imported.
    hidden = tmp_path / "no-libxmp"
    hidden.mkdir()
    (hidden / "libxmp.py").write_text("raise ImportError('No module named libxmp')\n")
    path = os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])
    run = run_simplugin("scan", str(library), "--xmp", env={"PYTHONPATH": path}, process=True)

    assert run.returncode == 2
    assert "pip install 'simplugin[xmp]'" in run.stderr
    assert "scanned" not in run.stderr  # said before any photo is read
    assert not list(library.glob("*.xmp"))


def test_xmp_options_without_xmp_are_a_usage_error(library):
    run = run_simplugin("scan", str(library), "--xmp-rating", "-1")

    assert run.returncode == 2
    assert "--xmp-rating goes with --xmp" in run.stderr


# Imports the photos into darktable and lists the simplugin tags it shows on each.
DARKTABLE_TAGS = """
local dt = require "darktable"
for _, path in ipairs(PATHS) do dt.database.import(path) end
local out = io.open(RESULT .. ".partial", "w")
for _, image in ipairs(dt.database) do
  local tags = {}
  for _, tag in ipairs(dt.tags.get_tags(image)) do
    if tag.name:find("^simplugin") then tags[#tags + 1] = tag.name end
  end
  table.sort(tags)
  out:write(image.filename, "\\t", table.concat(tags, ","), "\\n")
end
out:close()
os.rename(RESULT .. ".partial", RESULT)
"""


def test_darktable_shows_the_tags_of_the_sidecars_on_import(library, tmp_path):
    (library / "seagull_5.jpeg.xmp").write_text(DARKTABLE_SIDECAR)
    assert run_simplugin("scan", str(library), "--xmp").returncode == 0
    (config_home() / "darktable" / "lua").mkdir(parents=True)  # no script of simplugin's

    shown = run_darktable(tmp_path, sorted(library.glob("*.jpeg")), DARKTABLE_TAGS)

    for name in (*KEEPERS, *DUPLICATES):
        role = "keep" if name in KEEPERS else "duplicate"
        expected = {f"simplugin|{role}", f"simplugin|group|{GROUP_OF[name]:04d}"}
        assert set(shown[name][0].split(",")) == expected, name
    assert shown["seagull_2.jpeg"] == ("",)


def test_the_configuration_files_xmp_sink_runs_only_with_apply(library):
    write_config(library.parent, 'name = "xmp"')
    here = {"cwd": library.parent}

    scan = run_simplugin("scan", str(library), **here)
    assert scan.returncode == 0, scan.stderr
    assert not list(library.glob("*.xmp"))

    dry = run_simplugin("scan", str(library), "--apply", "--dry-run", **here)
    assert "would tag 5 sidecars (5 new)" in dry.stderr
    assert not list(library.glob("*.xmp"))

    applied = run_simplugin("scan", str(library), "--apply", **here)
    assert applied.returncode == 0, applied.stderr
    assert len(list(library.glob("*.xmp"))) == 5


def test_the_keeper_can_receive_its_duplicates_keywords_and_best_rating(library, state_home):
    (library / "seagull_5.jpeg.xmp").write_text(DARKTABLE_SIDECAR)  # rated 4, with keywords
    keeper = library / "seagull_6.jpeg.xmp"

    run = run_simplugin("scan", str(library), "--xmp", "--xmp-merge-into-keeper")

    assert run.returncode == 0, run.stderr
    fields = exiftool(keeper)["seagull_6.jpeg.xmp"]
    assert fields["HierarchicalSubject"] == [
        "birds|seagull",
        "simplugin|keep",
        "simplugin|group|0001",
    ]
    assert fields["Subject"] == ["seagull", "keep", "simplugin-keep", "simplugin-group-0001"]
    assert fields["Rating"] == 4
    assert "Rating" not in exiftool(library / "seagull_1.jpeg.xmp")["seagull_1.jpeg.xmp"]
    again = run_simplugin("scan", str(library), "--xmp", "--xmp-merge-into-keeper")
    assert "tagged 0 sidecars (0 new); 5 already tagged so" in again.stderr
    assert run_simplugin("undo", str(journal_in(state_home))).returncode == 0
    assert not keeper.exists()


def forged_journal(folder: Path, victim: Path) -> Path:
    """A journal no run wrote, saying that it created `victim` (so undo would delete it)."""
    from simplugin.xmp import _backup_path

    folder.mkdir(parents=True, exist_ok=True)
    journal = folder / "simplugin-journal-20260101-000000.jsonl"
    header = {
        "format": "simplugin-journal",
        "version": 2,
        "run": "0" * 32,
        "destination": os.path.realpath(folder),
        "action": "xmp",
    }
    tagging = {
        "event": "tagging",
        "source": str(victim),
        "target": _backup_path(str(journal), str(victim)),
        "created": True,
        "mode": None,
        "before_sha256": None,
        "after_sha256": hashlib.sha256(victim.read_bytes()).hexdigest(),
    }
    journal.write_text(json.dumps(header) + "\n" + json.dumps(tagging) + "\n")
    return journal


def test_an_xmp_journal_outside_simplugins_journals_folder_is_not_trusted(library, tmp_path):
    victim = library / "seagull_1.jpeg.xmp"
    victim.write_text(DARKTABLE_SIDECAR)

    undo = run_simplugin("undo", str(forged_journal(tmp_path / "elsewhere", victim)))

    assert undo.returncode == 3
    assert "where simplugin keeps xmp journals; nothing was put back" in undo.stderr
    assert victim.read_text() == DARKTABLE_SIDECAR


def test_an_xmp_journal_naming_a_file_that_is_no_sidecar_is_not_trusted(library, state_home):
    victim = library / "notes.txt"
    victim.write_text("my notes")

    journal = forged_journal(state_home / "simplugin" / "journals", victim)
    undo = run_simplugin("undo", str(journal))

    assert undo.returncode == 3
    assert "is no XMP sidecar (.xmp)" in undo.stderr
    assert victim.read_text() == "my notes"
