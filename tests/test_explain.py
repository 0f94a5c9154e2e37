"""`simplugin explain A B`: what a scan with the same settings makes of two photos, and
why. On the seagulls, 1-4 is a pair at 0.0596; at --threshold 0.058 it is not, and 4
is in 1's group only through 3. The Dublin airplanes were taken 4 s apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import DUBLIN, SEAGULLS, run_simplugin
from simplugin import UsageError, explain

DATE_TIME_ORIGINAL = 0x9003
EXIF_IFD = 0x8769


def said(run) -> dict[str, str]:
    """The lines of `explain` after the two photos, by their label."""
    assert run.returncode == 0, run.stderr
    return dict(line.split(": ", 1) for line in run.stdout.splitlines()[2:])


def test_explain_gives_the_distance_the_threshold_and_the_verdict():
    run = run_simplugin(
        "explain", str(SEAGULLS / "seagull_1.jpeg"), str(SEAGULLS / "seagull_4.jpeg")
    )

    facts = said(run)
    assert run.stdout.splitlines()[0] == f"{SEAGULLS / 'seagull_1.jpeg'}  768x1024"
    assert facts["distance"] == "0.0596 (avgdiff; near-duplicates below 0.07)"
    assert facts["verdict"] == "a near-duplicate pair"
    assert facts["compared"].startswith("yes: neither photo has a key for exif-time")


def test_the_threshold_given_changes_the_verdict_not_the_distance():
    run = run_simplugin(
        "explain", str(SEAGULLS / "seagull_1.jpeg"), str(SEAGULLS / "seagull_4.jpeg"),
        "--threshold", "0.058",
    )  # fmt: skip

    assert said(run)["verdict"] == "not a near-duplicate pair"
    assert said(run)["distance"].startswith("0.0596 ")


def test_photos_taken_seconds_apart_are_compared_and_their_times_shown():
    run = run_simplugin("explain", str(DUBLIN / "airplane_1.jpg"), str(DUBLIN / "airplane_2.jpg"))

    assert said(run)["compared"] == (
        "yes: exif-time (window 60.0) gives them 2022-07-10 07:13:16 and 2022-07-10 07:13:20:"
        " one bucket"
    )


def test_a_copy_taken_hours_later_is_never_compared_however_alike(tmp_path):
    later = tmp_path / "airplane_1 later.jpg"
    with Image.open(DUBLIN / "airplane_1.jpg") as photo:
        exif = photo.getexif()
        exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = "2022:07:10 11:13:16"
        photo.save(later, exif=exif, quality=95)

    facts = said(run_simplugin("explain", str(DUBLIN / "airplane_1.jpg"), str(later)))

    assert float(facts["distance"].split()[0]) < 0.01
    assert facts["compared"].startswith("no: exif-time (window 60.0) gives them")
    assert facts["verdict"] == "not a near-duplicate pair"
    # Without bucketing, they are compared, and a pair.
    facts = said(
        run_simplugin("explain", str(DUBLIN / "airplane_1.jpg"), str(later), "--bucketer", "none")
    )
    assert facts["verdict"] == "a near-duplicate pair"


def test_with_a_result_it_shows_the_chain_of_pairs_that_grouped_them(library, tmp_path):
    result = tmp_path / "result.json"
    run_simplugin("scan", str(library), "--threshold", "0.058", "--json", str(result))

    run = run_simplugin(
        "explain", str(library / "seagull_1.jpeg"), str(library / "seagull_4.jpeg"),
        "--threshold", "0.058", "--result", str(result),
    )  # fmt: skip

    assert said(run)[f"in {result}"] == (
        f"one group, through a chain of pairs: {library / 'seagull_1.jpeg'} (0.0378)"
        f" {library / 'seagull_3.jpeg'} (0.0571) {library / 'seagull_4.jpeg'}"
    )
    other = run_simplugin(
        "explain", str(library / "seagull_1.jpeg"), str(library / "seagull_5.jpeg"),
        "--result", str(result),
    )  # fmt: skip
    assert said(other)[f"in {result}"] == "not in one group"


def test_the_api_explains_two_photos(library):
    explained = explain(library / "seagull_1.jpeg", library / "seagull_3.jpeg", threshold=0.05)

    assert explained.paired and explained.compared
    assert explained.distance == pytest.approx(0.0378, abs=0.0001)
    assert explained.threshold == 0.05
    assert [Path(p.path).name for p in explained.photos] == ["seagull_1.jpeg", "seagull_3.jpeg"]


def test_a_photo_that_cannot_be_read_is_one_line_naming_it(library):
    broken = library / "broken.jpg"
    broken.write_bytes((library / "seagull_1.jpeg").read_bytes()[:2000])

    run = run_simplugin("explain", str(library / "seagull_1.jpeg"), str(broken))

    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(f"simplugin: error: {broken}: ")
    assert len(run.stderr.splitlines()) == 1


def test_one_photo_twice_is_a_usage_error(library):
    shutil.copy(library / "seagull_1.jpeg", library / "copy.jpeg")
    with pytest.raises(UsageError, match="are one file"):
        explain(library / "seagull_1.jpeg", library / "seagull_1.jpeg")
    # A copy is another file: identical, distance 0.
    assert explain(library / "seagull_1.jpeg", library / "copy.jpeg").distance == 0


@pytest.mark.parametrize("document", ['{"pairs": 5}', "[1, 2]", '{"groups": []}', "not json"])
def test_a_result_that_is_no_scan_result_is_one_line_naming_it(library, tmp_path, document):
    result = tmp_path / "result.json"
    result.write_text(document)

    run = run_simplugin(
        "explain", str(library / "seagull_1.jpeg"), str(library / "seagull_4.jpeg"),
        "--result", str(result),
    )  # fmt: skip

    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(f"simplugin: error: {result}: not a")
    assert len(run.stderr.splitlines()) == 1


def test_photos_marked_as_not_duplicates_are_said_to_be_and_not_paired(library):
    one, three = str(library / "seagull_1.jpeg"), str(library / "seagull_3.jpeg")
    assert run_simplugin("ignore", one, three).returncode == 0

    facts = said(run_simplugin("explain", one, three))

    assert facts["ignored"] == "you marked them as not duplicates (simplugin ignore --list)"
    assert facts["verdict"] == "not a near-duplicate pair"
    assert "ignored" not in said(run_simplugin("explain", one, three, "--no-ignore-list"))
