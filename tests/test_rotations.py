"""`--rotations`: a photo also matches its copies turned by 90, 180 or 270 degrees or
mirrored, pixels and all; without it the reference metric stays orientation-sensitive,
and a metric that cannot turn its signatures is refused rather than silently ignored."""

from __future__ import annotations

import json
import re
from itertools import combinations

import numpy as np
import pytest
from PIL import Image

from conftest import run_simplugin
from simplugin import Metric, UsageError, hookimpl, load_plugins, scan
from simplugin.builtin.avgdiff import AverageDifference

REFERENCE_PAIRS = {
    frozenset(pair)
    for pair in [
        ("seagull_1.jpeg", "seagull_3.jpeg"),
        ("seagull_1.jpeg", "seagull_4.jpeg"),
        ("seagull_3.jpeg", "seagull_4.jpeg"),
        ("seagull_5.jpeg", "seagull_6.jpeg"),
    ]
}
TURNED = {
    "turned_90.jpg": Image.Transpose.ROTATE_90,
    "turned_180.jpg": Image.Transpose.ROTATE_180,
    "turned_270.jpg": Image.Transpose.ROTATE_270,
    "mirrored.jpg": Image.Transpose.FLIP_LEFT_RIGHT,
    "upside_down_mirror.jpg": Image.Transpose.FLIP_TOP_BOTTOM,
    "transposed.jpg": Image.Transpose.TRANSPOSE,
}
# seagull_2 has no near-duplicate among the seagulls: its turned copies are its only ones.
ORIGINAL = "seagull_2.jpeg"
WITH_TURNED_COPIES = REFERENCE_PAIRS | {
    frozenset(pair) for pair in combinations([ORIGINAL, *TURNED], 2)
}


@pytest.fixture
def turned_library(library):
    """The seagulls, with copies of seagull_2 whose pixels are turned or mirrored (saved
    without EXIF, so no orientation tag turns them back)."""
    with Image.open(library / ORIGINAL) as original:
        for name, transpose in TURNED.items():
            original.transpose(transpose).save(library / name, quality=92)
    return library


def pairs_of(document: dict) -> set[frozenset[str]]:
    return {frozenset(p.rsplit("/", 1)[-1] for p in (x["a"], x["b"])) for x in document["pairs"]}


def names(result) -> set[frozenset[str]]:
    return {frozenset(p.path.rsplit("/", 1)[-1] for p in (x.a, x.b)) for x in result.pairs}


def test_turned_and_mirrored_copies_are_found_with_rotations_and_not_without(turned_library):
    plain = run_simplugin("scan", str(turned_library), "--json", "-")
    turned = run_simplugin("scan", str(turned_library), "--json", "-", "--rotations")

    assert plain.returncode == turned.returncode == 0, plain.stderr + turned.stderr
    assert pairs_of(json.loads(plain.stdout)) == REFERENCE_PAIRS
    assert pairs_of(json.loads(turned.stdout)) == WITH_TURNED_COPIES


def test_rotations_keep_the_reference_distances_of_upright_pairs(turned_library, expected):
    reference = {
        frozenset((p["a"], p["b"])): p["difference"] for p in expected["folders"]["seagulls"]
    }

    result = scan(turned_library, rotations=True)

    for pair in result.pairs:
        key = frozenset(p.path.rsplit("/", 1)[-1] for p in (pair.a, pair.b))
        if key in REFERENCE_PAIRS:
            assert pair.distance == pytest.approx(reference[key], abs=0.005)


def test_the_api_groups_the_turned_copies_with_their_original_near_it(turned_library):
    result = scan(turned_library, rotations=True)

    assert result.settings.rotations is True
    assert names(result) == WITH_TURNED_COPIES
    group = next(g for g in result.groups if len(g.photos) == 1 + len(TURNED))
    # Each duplicate's distance to the keeper is measured with rotations too.
    assert all(d.distance < 0.01 for d in group.duplicates)


def test_the_configuration_file_turns_rotations_on(turned_library, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text("rotations = true\n")

    run = run_simplugin("scan", str(turned_library), "--json", "-", "--config", str(config))

    assert run.returncode == 0, run.stderr
    assert pairs_of(json.loads(run.stdout)) == WITH_TURNED_COPIES


def test_turning_rotations_on_reads_no_photo_again(turned_library):
    first = scan(turned_library)

    again = scan(turned_library, rotations=True)

    assert first.from_cache == 0
    assert again.from_cache == len(again.photos) == 6 + len(TURNED)
    assert names(again) == WITH_TURNED_COPIES


class Brightness(Metric):
    """A metric written without rotations in mind: its methods take no new keyword."""

    name = "brightness"
    default_threshold = 0.01
    signature_shape = (1,)
    signature_dtype = "float64"

    def signature(self, image):
        return np.array([np.asarray(image.convert("L"), dtype=np.float64).mean() / 255])

    def distance(self, a, b):
        return float(abs(a[0] - b[0]))


class BrightnessPlugin:
    @hookimpl
    def register_metrics(self, register):
        register(Brightness())


def test_rotations_with_a_metric_that_does_not_support_them_is_a_usage_error_naming_it(
    library,
):
    host = load_plugins(extra={"brightness": BrightnessPlugin()})

    with pytest.raises(UsageError) as refused:
        scan(library, plugins=host, metric="brightness", rotations=True)

    # The metrics that do support them are named (other plugins may add to the list).
    assert re.fullmatch(
        r"metric 'brightness' cannot find rotated copies: rotations need a metric that"
        r" supports them \(.*avgdiff.*\)",
        str(refused.value),
    )
    # Without rotations it is called as it always was, with no keyword it does not know.
    assert scan(library, plugins=host, metric="brightness").photos


def test_the_command_line_refuses_rotations_for_such_a_metric_in_one_line(distributions, library):
    source = (
        "import numpy as np\n"
        "from simplugin import Metric, hookimpl\n"
        "class Flat(Metric):\n"
        "    name = 'flat'\n"
        "    default_threshold = 0.5\n"
        "    signature_shape = (1,)\n"
        "    def signature(self, image):\n"
        "        return np.zeros(1, np.uint8)\n"
        "    def distance(self, a, b):\n"
        "        return 0.0\n"
        "@hookimpl\n"
        "def register_metrics(register):\n"
        "    register(Flat())\n"
    )
    distributions.install("simplugin-flat", source, {"flat": "simplugin_flat"})

    run = run_simplugin(
        "scan", str(library), "--metric", "flat", "--rotations", env=distributions.env
    )

    assert run.returncode == 2
    assert run.stdout == ""
    assert re.fullmatch(
        r"simplugin: error: metric 'flat' cannot find rotated copies: rotations need a metric"
        r" that supports them \(.*avgdiff.*\)\n",
        run.stderr,
    )


def test_photos_as_bright_as_each_other_in_other_colours_are_no_pair_with_rotations(tmp_path):
    # Equal sums put them side by side in the search, and the first bound then leaves no
    # candidate at all: the search once failed on that.
    for name, colour in (("red.jpg", (200, 0, 0)), ("green.jpg", (0, 200, 0))):
        Image.new("RGB", (64, 48), colour).save(tmp_path / name, quality=92)

    run = run_simplugin("scan", str(tmp_path), "--json", "-", "--rotations")

    assert run.returncode == 0, run.stderr
    assert pairs_of(json.loads(run.stdout)) == set()


@pytest.mark.parametrize("seed", [3, 11])
def test_the_bulk_search_with_rotations_returns_the_pairwise_definitions_pairs(seed):
    metric = AverageDifference()
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(30, 16, 16, 3))
    noise = rng.integers(-25, 26, size=(90, 16, 16, 3))
    signatures = np.clip(base[rng.integers(0, 30, 90)] + noise, 0, 255).astype(np.uint8)
    for k in range(0, 90, 2):  # half of them turned and mirrored every way
        turned = np.rot90(signatures[k], k % 4)
        signatures[k] = turned[:, ::-1] if k % 3 else turned

    bulk = sorted(metric.pairs_within(signatures, 0.07, rotations=True))
    pairwise = sorted(Metric.pairs_within(metric, signatures, 0.07, rotations=True))
    between = sorted(metric.pairs_between(signatures[:45], signatures[45:], 0.07, rotations=True))
    pairwise_between = sorted(
        Metric.pairs_between(metric, signatures[:45], signatures[45:], 0.07, rotations=True)
    )

    assert len(pairwise) > len(list(metric.pairs_within(signatures, 0.07)))  # turns found
    assert bulk == pairwise
    assert between == pairwise_between


def test_photos_alike_in_colour_but_not_in_any_orientation_are_no_pair_and_no_error():
    # The same sums of each colour (the search's first bound) but one bright corner
    # against an even grey: ruled out in every orientation by the finer bounds. The
    # search failed on such a pair with an empty array (real-dev has them).
    corner = np.full((16, 16, 3), 100, np.uint8)
    corner[:8, :8] = 200
    even = np.full((16, 16, 3), 125, np.uint8)

    found = AverageDifference().pairs_within(np.stack([corner, even]), 0.07, rotations=True)

    assert list(found) == []
    assert AverageDifference().distance(corner, even, rotations=True) > 0.07
