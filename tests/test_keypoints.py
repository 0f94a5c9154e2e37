"""`--metric keypoints` finds what the reference finds, plus re-shots within a burst and
greyscale copies; its signature is cached like any other; without OpenCV it says what
to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from conftest import DUBLIN, SEAGULLS, run_simplugin
from simplugin import scan

pytest.importorskip("cv2", reason="needs the keypoints extra: pip install 'simplugin[keypoints]'")

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003


def save(image: Image.Image, target: Path, taken: str | None = None) -> Path:
    """Save a photo as a camera would, with its capture time when given."""
    exif = Image.Exif()
    if taken:
        exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = taken
    image.save(target, quality=92, exif=exif)
    return target


def a_shot_and_its_crop(folder: Path, second_taken: str) -> Path:
    """A seagull photo taken at noon, and the same shot cropped and shifted (far apart
    by thumbnails: 0.16) taken at `second_taken`."""
    folder.mkdir()
    shot = Image.open(SEAGULLS / "seagull_1.jpeg").convert("RGB")
    save(shot, folder / "shot.jpg", "2024:05:01 12:00:00")
    save(shot.crop((100, 130, 768, 1024)), folder / "reshot.jpg", second_taken)
    return folder


def pair_names(result) -> list[tuple[str, str]]:
    return sorted(tuple(sorted((Path(p.a.path).name, Path(p.b.path).name))) for p in result.pairs)


def test_a_crop_of_a_shot_taken_seconds_later_is_found_through_its_keypoints(tmp_path):
    folder = a_shot_and_its_crop(tmp_path / "burst", "2024:05:01 12:00:04")

    found = scan(folder, metric="keypoints", cache=False)
    reference = scan(folder, cache=False)

    assert pair_names(found) == [("reshot.jpg", "shot.jpg")]
    # Its distance says how many keypoints agree (2 / inliers), below the threshold.
    assert 0 < found.pairs[0].distance < 0.07
    assert reference.pairs == ()


def test_a_crop_of_a_shot_taken_hours_later_is_not_compared_by_keypoints(tmp_path):
    folder = a_shot_and_its_crop(tmp_path / "hours", "2024:05:01 18:00:00")

    assert scan(folder, metric="keypoints", cache=False).pairs == ()


def test_without_a_bucketer_no_photos_form_a_burst_so_keypoints_pair_nothing_more(tmp_path):
    folder = a_shot_and_its_crop(tmp_path / "burst", "2024:05:01 12:00:04")

    assert scan(folder, metric="keypoints", bucketer=None, cache=False).pairs == ()


def test_a_greyscale_copy_of_a_colour_photo_is_found(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    colour = Image.open(DUBLIN / "bridge_2.jpg")
    colour.save(folder / "bridge.jpg", quality=92)
    colour.convert("L").save(folder / "bridge-grey.jpg", quality=92)

    found = scan(folder, metric="keypoints", cache=False)

    assert pair_names(found) == [("bridge-grey.jpg", "bridge.jpg")]
    assert scan(folder, cache=False).pairs == ()  # 0.096 apart in RGB


@pytest.mark.parametrize("photos", [SEAGULLS, DUBLIN], ids=["seagulls", "dublin"])
def test_every_pair_of_the_reference_is_a_pair_of_keypoints_at_about_its_distance(photos):
    reference = scan(photos, cache=False)
    found = {
        (p.a.path, p.b.path): p.distance
        for p in scan(photos, metric="keypoints", cache=False).pairs
    }

    assert reference.pairs
    for pair in reference.pairs:
        # The same thumbnails, from a decode at a finer JPEG scale for small photos.
        assert found[(pair.a.path, pair.b.path)] <= pair.distance + 0.005


def test_a_warm_rescan_reads_no_photo_and_finds_the_same_pairs(tmp_path):
    folder = a_shot_and_its_crop(tmp_path / "burst", "2024:05:01 12:00:04")
    cache = tmp_path / "cache.sqlite"

    cold = scan(folder, metric="keypoints", cache=cache)
    warm = scan(folder, metric="keypoints", cache=cache)

    assert (cold.from_cache, warm.from_cache) == (0, 2)
    assert warm.pairs == cold.pairs


def test_without_opencv_the_keypoints_metric_says_in_one_line_what_to_install(tmp_path):
    without_opencv = textwrap.dedent(
        f"""
        import sys
        sys.modules["cv2"] = None  # as if opencv-python-headless were not installed
        sys.argv = ["simplugin", "scan", {str(SEAGULLS)!r}, "--metric", "keypoints"]
        from simplugin.cli import main
        raise SystemExit(main())
        """
    )

    shown = subprocess.run(
        [sys.executable, "-c", without_opencv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
    )

    assert shown.returncode == 2
    assert shown.stdout == ""
    assert shown.stderr.count("\n") == 1
    assert "pip install 'simplugin[keypoints]'" in shown.stderr


def test_the_keypoints_metric_is_listed_with_the_others():
    shown = run_simplugin("plugins")

    assert "keypoints" in shown.stdout


def test_explain_says_how_many_keypoints_agree(tmp_path):
    folder = a_shot_and_its_crop(tmp_path / "burst", "2024:05:01 12:00:04")

    run = run_simplugin(
        "explain", "--metric", "keypoints", str(folder / "shot.jpg"), str(folder / "reshot.jpg")
    )

    facts = dict(line.split(": ", 1) for line in run.stdout.splitlines()[2:])
    agree = int(facts["keypoints that agree"].split()[0])
    assert agree >= 29  # 2 / 29 < 0.07: a verified pair at the default threshold
    assert float(facts["distance"].split()[0]) == pytest.approx(2 / agree, abs=0.0001)
    assert float(facts["thumbnail distance"]) > 0.07  # not a pair by thumbnails alone
    assert facts["verdict"] == "a near-duplicate pair"
