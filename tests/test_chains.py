"""A group is every photo connected by near-duplicate pairs, so a photo can be in a
group through another member without being a near-duplicate of the keeper: every
report says so, and through which photo.

On the seagulls at --threshold 0.058, 1-3 (0.0378) and 3-4 (0.0571) are pairs but 1-4
(0.0596) is not: seagull_4 is in seagull_1's group through seagull_3."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_simplugin
from simplugin import scan

CHAIN = ("--threshold", "0.058")


def test_the_text_report_names_the_photo_a_duplicate_is_grouped_through(library):
    run = run_simplugin("scan", str(library), *CHAIN)

    lines = {Path(line.split()[1]).name: line for line in run.stdout.splitlines()[1:] if line}
    assert lines["seagull_4.jpeg"].endswith(f"via {library / 'seagull_3.jpeg'}")
    assert "via" not in lines["seagull_3.jpeg"]  # a pair with the keeper itself
    assert "via" not in run.stdout.split("Group 2")[0]  # 5-6 is one pair


def test_at_the_default_threshold_every_duplicate_is_a_pair_with_its_keeper(library):
    run = run_simplugin("scan", str(library))

    assert run.returncode == 0 and "Group 2" in run.stdout
    assert "via" not in run.stdout


def test_the_json_gives_via_for_each_duplicate(library, tmp_path):
    out = tmp_path / "result.json"
    run_simplugin("scan", str(library), *CHAIN, "--json", str(out))

    groups = json.loads(out.read_text())["groups"]
    three = next(group for group in groups if len(group["duplicates"]) == 2)
    via = dict(zip(map(lambda p: Path(p).name, three["duplicates"]), three["via"], strict=True))
    assert Path(three["keep"]).name == "seagull_1.jpeg"
    assert via == {"seagull_3.jpeg": None, "seagull_4.jpeg": str(library / "seagull_3.jpeg")}


def test_the_api_gives_the_photo_a_duplicate_is_grouped_through(library):
    result = scan([library], threshold=0.058)

    three = next(group for group in result.groups if len(group.duplicates) == 2)
    via = {Path(d.photo.path).name: d.via and Path(d.via.path).name for d in three.duplicates}
    assert via == {"seagull_3.jpeg": None, "seagull_4.jpeg": "seagull_3.jpeg"}
    # Its distance to the keeper is over the threshold: it is grouped only through seagull_3.
    assert next(d for d in three.duplicates if d.via).distance > 0.058
