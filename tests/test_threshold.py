"""A threshold cannot go wrong silently: a number outside the metric's distances is
refused with the range, words name the metric's own thresholds, and 0 finds the
photos at distance 0, in the CLI, the configuration file and the API alike."""

from __future__ import annotations

import json
import shutil

import pytest

import simplugin
from conftest import run_simplugin
from simplugin import UsageError


def pairs_found(library, *options: str) -> dict:
    run = run_simplugin("scan", str(library), "--json", "-", *options)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    names = {
        frozenset(p.split("/")[-1] for p in (pair["a"], pair["b"])) for pair in document["pairs"]
    }
    return {"threshold": document["threshold"], "pairs": names}


@pytest.mark.parametrize("given", ["5", "90", "1.5", "-0.1"])
def test_a_threshold_outside_the_metrics_distances_is_a_usage_error_saying_the_range(
    library, given
):
    run = run_simplugin("scan", str(library), "--threshold", given)

    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == (
        f"simplugin: error: threshold {float(given):g} is outside avgdiff's distances:"
        " give a number from 0 to 1, or strict, default or loose\n"
    )


def test_strict_default_and_loose_are_the_metrics_own_thresholds(library):
    strict = pairs_found(library, "--threshold", "strict")
    default = pairs_found(library, "--threshold", "default")
    loose = pairs_found(library, "--threshold", "LOOSE")

    assert (strict["threshold"], default["threshold"], loose["threshold"]) == (0.03, 0.07, 0.11)
    assert strict["pairs"] == {frozenset({"seagull_5.jpeg", "seagull_6.jpeg"})}
    assert default == pairs_found(library)  # the word names what no flag gives
    assert strict["pairs"] < default["pairs"] < loose["pairs"]


def test_a_word_the_metric_does_not_name_is_a_usage_error_listing_its_words(library):
    run = run_simplugin("scan", str(library), "--threshold", "low")

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: threshold 'low' is no threshold of avgdiff:"
        " give a number from 0 to 1, or strict, default or loose\n"
    )


def test_threshold_zero_finds_the_identical_photos_and_only_them(library):
    shutil.copyfile(library / "seagull_1.jpeg", library / "copy.jpeg")

    found = pairs_found(library, "--threshold", "0")

    assert found == {"threshold": 0, "pairs": {frozenset({"seagull_1.jpeg", "copy.jpeg"})}}


def test_the_help_states_the_range_and_the_words():
    run = run_simplugin("scan", "--help")

    shown = " ".join(run.stdout.split())
    assert "0 finds identical photos" in shown
    assert "0 to 1 for avgdiff" in shown
    assert "strict, default or loose (avgdiff: 0.03, 0.07, 0.11" in shown


def test_the_configuration_file_takes_a_word(library, tmp_path):
    (tmp_path / "simplugin.toml").write_text('threshold = "strict"\n')

    found = pairs_found(library, "--config", str(tmp_path / "simplugin.toml"))

    assert found["threshold"] == 0.03
    assert found["pairs"] == {frozenset({"seagull_5.jpeg", "seagull_6.jpeg"})}


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("threshold = 5", "5 is outside avgdiff's distances"),
        ('threshold = "low"', "'low' is no threshold of avgdiff"),
    ],
)
def test_a_threshold_in_the_file_outside_the_range_names_the_file_and_the_range(
    library, tmp_path, line, complaint
):
    config = tmp_path / "simplugin.toml"
    config.write_text(line + "\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {config}: threshold: {complaint}:"
        " give a number from 0 to 1, or strict, default or loose\n"
    )


def test_the_api_takes_numbers_and_words_and_refuses_the_range(library):
    assert simplugin.scan(library, threshold="loose").settings.threshold == 0.11
    assert len(simplugin.scan(library, threshold=0).pairs) == 0  # no two seagulls are identical
    with pytest.raises(UsageError, match="outside avgdiff's distances: give a number from 0 to 1"):
        simplugin.scan(library, threshold=90)
    with pytest.raises(UsageError, match=r"threshold \[0.1\] is not a threshold: give a number"):
        simplugin.scan(library, threshold=[0.1])
