"""The built-in `avgdiff` metric reproduces the reference results on the real sample photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import DUBLIN, SEAGULLS
from simplugin import Metric, scan
from simplugin.builtin.avgdiff import AverageDifference
from simplugin.imaging import open_displayed

TOLERANCE = 0.005


def names(pair) -> tuple[str, str]:
    return tuple(sorted((pair.a.path.rsplit("/", 1)[-1], pair.b.path.rsplit("/", 1)[-1])))


def test_seagulls_give_exactly_the_reference_pairs(expected):
    result = scan(SEAGULLS)
    reference = {(p["a"], p["b"]) for p in expected["folders"]["seagulls"] if p["near_duplicate"]}
    assert {names(p) for p in result.pairs} == reference
    assert reference == {
        ("seagull_1.jpeg", "seagull_3.jpeg"),
        ("seagull_1.jpeg", "seagull_4.jpeg"),
        ("seagull_3.jpeg", "seagull_4.jpeg"),
        ("seagull_5.jpeg", "seagull_6.jpeg"),
    }


def test_seagull_pair_distances_match_the_reference_values(expected):
    result = scan(SEAGULLS)
    reference = {(p["a"], p["b"]): p["difference"] for p in expected["folders"]["seagulls"]}
    for pair in result.pairs:
        assert pair.distance == pytest.approx(reference[names(pair)], abs=TOLERANCE)


def test_every_seagull_distance_matches_the_reference_not_only_the_duplicates(expected):
    metric = AverageDifference()
    signature = {
        path.name: metric.signature(open_displayed(str(path)).image) for path in SEAGULLS.iterdir()
    }
    for entry in expected["folders"]["seagulls"]:
        distance = metric.distance(signature[entry["a"]], signature[entry["b"]])
        assert distance == pytest.approx(entry["difference"], abs=TOLERANCE), entry


def test_dublin_sample_pairs_only_the_two_airplanes(expected):
    result = scan(DUBLIN)
    assert [names(p) for p in result.pairs] == [("airplane_1.jpg", "airplane_2.jpg")]
    reference = next(p for p in expected["folders"]["dublin-sample"] if p["near_duplicate"])
    assert result.pairs[0].distance == pytest.approx(reference["difference"], abs=TOLERANCE)


def test_a_photo_is_compared_as_displayed_after_its_exif_rotation(tmp_path):
    original = Image.open(SEAGULLS / "seagull_1.jpeg")
    # Stored on its side, with the EXIF tag a camera writes so viewers turn it upright.
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    original.rotate(90, expand=True).save(tmp_path / "sideways.jpg", quality=95, exif=exif)
    original.save(tmp_path / "upright.jpg", quality=95)

    result = scan(tmp_path)

    assert len(result.pairs) == 1
    assert result.pairs[0].distance < 0.01
    assert {(p.width, p.height) for p in result.photos} == {original.size}


def test_bulk_search_returns_the_same_pairs_as_the_pairwise_definition():
    metric = AverageDifference()
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, size=(40, 16, 16, 3))
    noise = rng.integers(-25, 26, size=(120, 16, 16, 3))
    signatures = np.clip(base[rng.integers(0, 40, 120)] + noise, 0, 255).astype(np.uint8)

    bulk = sorted(metric.pairs_within(signatures, 0.07))
    pairwise = sorted(Metric.pairs_within(metric, signatures, 0.07))

    assert pairwise  # the data really has near-duplicates to find
    assert bulk == pairwise


def test_the_threshold_is_strict():
    metric = AverageDifference()
    a = np.zeros((16, 16, 3), np.uint8)
    b = a.copy()
    b[:, :, 0] = 51  # distance exactly 51 / 3 / 255 = 1/15
    distance = metric.distance(a, b)
    stacked = np.stack([a, b])
    assert list(metric.pairs_within(stacked, distance)) == []
    assert [p[:2] for p in metric.pairs_within(stacked, distance + 1e-9)] == [(0, 1)]
