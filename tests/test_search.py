"""The bulk search of `avgdiff` prunes pairs with lower bounds, and must find exactly the
pairs that comparing every pair finds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simplugin import Metric
from simplugin.builtin.avgdiff import AverageDifference

METRIC = AverageDifference()


def reference_within(signatures, threshold):
    return sorted(Metric.pairs_within(METRIC, signatures, threshold))


def image_like(seed: int, count: int) -> np.ndarray:
    """Smooth scenes with an exposure and a colour cast, some of them near-copies."""
    rng = np.random.default_rng(seed)
    layout = rng.uniform(-1, 1, (count, 2, 2, 3)).repeat(8, axis=1).repeat(8, axis=2)
    exposure = rng.uniform(40, 215, (count, 1, 1, 1))
    scenes = exposure + 60 * layout + rng.normal(0, 6, (count, 16, 16, 3))
    copies = rng.integers(0, count, count // 3)
    scenes[: len(copies)] = scenes[copies] + rng.normal(0, 8, (len(copies), 16, 16, 3))
    return np.clip(scenes, 0, 255).astype(np.uint8)


signatures = st.integers(2, 40).flatmap(
    lambda n: arrays(np.uint8, (n, 16, 16, 3), elements=st.integers(0, 255))
)


@settings(max_examples=60, deadline=None)
@given(signatures, st.floats(0.0, 0.6))
def test_the_search_equals_comparing_every_pair_on_any_signatures(found, threshold):
    assert sorted(METRIC.pairs_within(found, threshold)) == reference_within(found, threshold)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 300), st.sampled_from([0.02, 0.05, 0.07, 0.1]))
def test_the_search_equals_comparing_every_pair_on_image_like_signatures(seed, count, threshold):
    found = image_like(seed, count)

    assert sorted(METRIC.pairs_within(found, threshold)) == reference_within(found, threshold)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 120), st.integers(1, 120))
def test_comparing_two_sets_equals_comparing_every_pair_between_them(seed, left, right):
    found = image_like(seed, left + right)
    ours, theirs = found[:left], found[left:]

    assert sorted(METRIC.pairs_between(ours, theirs, 0.07)) == sorted(
        Metric.pairs_between(METRIC, ours, theirs, 0.07)
    )
