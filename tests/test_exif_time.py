"""The default `exif-time` bucketer compares only photos taken close together, and
never loses a photo that has no capture time."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from conftest import DUBLIN, SEAGULLS, run_simplugin
from simplugin import UsageError, scan
from simplugin.builtin.exif_time import ExifTime
from simplugin.exif import capture_time

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
SUBSEC_TIME_ORIGINAL = 0x9291


def save_taken_at(source, target, taken=None, offset=None, subsecond=None):
    """Save a copy of a real photo with the capture time a camera would write."""
    exif = Image.Exif()
    if taken:
        details = exif.get_ifd(EXIF_IFD)
        details[DATE_TIME_ORIGINAL] = taken
        if offset:
            details[OFFSET_TIME_ORIGINAL] = offset
        if subsecond:
            details[SUBSEC_TIME_ORIGINAL] = subsecond
    Image.open(source).save(target, quality=95, exif=exif)


@pytest.fixture
def burst_pair(tmp_path):
    """Two near-duplicate seagull photos, to be saved with the capture times a test needs."""

    def make(first, second, **exif):
        save_taken_at(SEAGULLS / "seagull_5.jpeg", tmp_path / "first.jpg", first, **exif)
        save_taken_at(SEAGULLS / "seagull_6.jpeg", tmp_path / "second.jpg", second, **exif)
        return tmp_path

    return make


def test_the_real_camera_burst_in_the_dublin_sample_is_still_found():
    result = scan(DUBLIN)

    assert result.settings.bucketer == "exif-time"
    assert result.undated == 0
    assert [(p.a.path[-14:], p.b.path[-14:]) for p in result.pairs] == [
        ("airplane_1.jpg", "airplane_2.jpg")
    ]


def test_the_capture_time_comes_from_the_camera_exif():
    first = capture_time(str(DUBLIN / "airplane_1.jpg"))
    second = capture_time(str(DUBLIN / "airplane_2.jpg"))

    assert (second - first).total_seconds() == pytest.approx(4.0)


def test_photos_taken_seconds_apart_are_compared(burst_pair):
    folder = burst_pair("2023:05:01 10:00:00", "2023:05:01 10:00:30")

    assert len(scan(folder).pairs) == 1


def test_photos_taken_hours_apart_are_not_compared(burst_pair):
    folder = burst_pair("2023:05:01 10:00:00", "2023:05:01 13:00:00")

    assert scan(folder).pairs == ()
    assert len(scan(folder, bucketer="none").pairs) == 1  # they are near-duplicates


def test_a_wider_window_joins_photos_further_apart(burst_pair):
    folder = burst_pair("2023:05:01 10:00:00", "2023:05:01 13:00:00")

    assert len(scan(folder, bucketer_options={"window": "4h"}).pairs) == 1


def test_the_utc_offset_is_honoured(tmp_path):
    save_taken_at(
        SEAGULLS / "seagull_5.jpeg", tmp_path / "paris.jpg", "2023:05:01 10:00:00", offset="+02:00"
    )
    save_taken_at(
        SEAGULLS / "seagull_6.jpeg", tmp_path / "london.jpg", "2023:05:01 09:00:20", offset="+01:00"
    )

    assert len(scan(tmp_path).pairs) == 1  # 20 seconds apart, not an hour


def test_sub_seconds_are_part_of_the_capture_time(tmp_path):
    save_taken_at(
        SEAGULLS / "seagull_5.jpeg", tmp_path / "a.jpg", "2023:05:01 10:00:00", subsecond="75"
    )

    assert capture_time(str(tmp_path / "a.jpg")).microsecond == 750_000


def test_an_undated_photo_is_compared_with_every_photo_by_default(tmp_path):
    save_taken_at(SEAGULLS / "seagull_5.jpeg", tmp_path / "camera.jpg", "2023:05:01 10:00:00")
    save_taken_at(SEAGULLS / "seagull_6.jpeg", tmp_path / "exported.jpg")  # EXIF stripped

    result = scan(tmp_path)

    assert result.undated == 1
    assert len(result.pairs) == 1


def test_undated_photos_can_be_compared_only_with_each_other(tmp_path):
    save_taken_at(SEAGULLS / "seagull_5.jpeg", tmp_path / "camera.jpg", "2023:05:01 10:00:00")
    save_taken_at(SEAGULLS / "seagull_6.jpeg", tmp_path / "exported.jpg")
    save_taken_at(SEAGULLS / "seagull_5.jpeg", tmp_path / "exported_too.jpg")

    result = scan(tmp_path, undated="separate")

    assert [(p.a.path[-12:], p.b.path[-16:]) for p in result.pairs] == [
        ("exported.jpg", "exported_too.jpg")
    ]


def test_without_any_capture_time_every_photo_is_compared():
    assert len(scan(SEAGULLS).pairs) == 4


def test_corrupt_exif_makes_a_photo_undated_not_skipped(tmp_path):
    photo = (SEAGULLS / "seagull_5.jpeg").read_bytes()
    # An EXIF segment whose first IFD offset points far past the end of the file.
    broken_exif = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0" + bytes(32)
    segment = b"\xff\xe1" + (len(broken_exif) + 2).to_bytes(2, "big") + broken_exif
    (tmp_path / "broken_exif.jpg").write_bytes(photo[:2] + segment + photo[2:])
    save_taken_at(SEAGULLS / "seagull_6.jpeg", tmp_path / "dated.jpg", "2023:05:01 10:00:00")

    run = run_simplugin("scan", str(tmp_path), "--json", "-")

    document = json.loads(run.stdout)
    assert document["undated"] == 1 and document["skipped"] == []
    assert len(document["pairs"]) == 1
    assert run.stderr.count("\n") == 1  # the summary alone: no exifread log noise


def test_the_json_result_counts_the_undated_photos(library):
    document = json.loads(run_simplugin("scan", str(library), "--json", "-").stdout)

    assert document["bucketer"] == "exif-time"
    assert document["undated"] == 6


def test_a_window_that_is_not_a_duration_is_a_usage_error(library):
    run = run_simplugin("scan", str(library), "--window", "soon")

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: bucketer 'exif-time' option 'window':"
        " expected a duration such as 90s, 5m or 2h, not 'soon'\n"
    )


def test_bucketer_options_without_a_bucketer_are_refused(library):
    with pytest.raises(UsageError, match="need a bucketer"):
        scan(library, bucketer="none", bucketer_options={"window": "5m"})


def test_bursts_run_in_time_order_and_photos_taken_together_keep_their_scan_order():
    """A gap of exactly the window still joins two photos; photos of the same second
    stay in the order the scan found them; an undated photo is in no burst."""
    keys = [130.0, None, 10.0, 70.0, 10.0, 131.5, None, 10.0]
    bursts = ExifTime().buckets([], keys, {"window": 60.0})
    assert bursts == [[2, 4, 7, 3, 0, 5]]
    assert ExifTime().buckets([], keys, {"window": 59.0}) == [[2, 4, 7], [3], [0, 5]]
    assert ExifTime().buckets([], [None, None], {"window": 60.0}) == []
