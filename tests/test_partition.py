"""A large comparison split into tasks for an executor's workers (bands with halos for a
metric with a partition key, blocks of the pair matrix for any other, batches of small
comparisons) finds exactly the pairs and distances of the search in the scan's process."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simplugin import Metric, SimpluginError, hookimpl, load_plugins
from simplugin.builtin.avgdiff import AverageDifference
from simplugin.engine import Comparison, ScanContext, run_comparisons
from simplugin.reading import Reader
from simplugin.types import ScanSettings, Workers

# --- real workers, until the executors land: forked processes and threads ----------------

_worker_context = None  # the Reader a forked worker was started with


def _remember(context):
    global _worker_context
    _worker_context = context


def _run(task, args):
    return task(_worker_context, *args)


class ProcessWorkers(Workers):
    """Forked processes that share the context, as the local executor's do; a pool that
    lost a worker is started again for the next task."""

    def __init__(self, context, slots: int, spread_from: int = 0):
        self.context, self.slots, self.spread_from = context, slots, spread_from
        self.pool: ProcessPoolExecutor | None = None

    def started(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                2,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_remember,
                initargs=(self.context,),
            )
        return self.pool

    def submit(self, task, *args):
        try:
            return self.started().submit(_run, task, args)
        except BrokenProcessPool:
            self.close(at_once=True)
            return self.started().submit(_run, task, args)

    def worker_lost(self, error):
        return isinstance(error, BrokenProcessPool)

    def close(self, at_once=False):
        if self.pool is not None:
            self.pool.shutdown(wait=not at_once, cancel_futures=at_once)
            self.pool = None


class ThreadWorkers(Workers):
    def __init__(self, context, slots: int, spread_from: int = 0):
        self.context, self.slots, self.spread_from = context, slots, spread_from
        self.pool = ThreadPoolExecutor(2)

    def submit(self, task, *args):
        return self.pool.submit(task, self.context, *args)

    def worker_lost(self, error):
        return False

    def close(self, at_once=False):
        self.pool.shutdown(wait=not at_once, cancel_futures=at_once)


# --- a metric without a partition key ---------------------------------------------------


class Manhattan(Metric):
    """The L1 distance of small vectors, with no partition key: split into blocks."""

    name = "manhattan"
    default_threshold = 3.0
    signature_shape = (3,)
    signature_dtype = "int16"

    def signature(self, image):
        return np.zeros(3, np.int16)

    def distance(self, a, b):
        return float(np.abs(a.astype(np.int64) - b).sum()) / 2


class Fragile(Manhattan):
    """Kills the worker it runs on while the file `marker` exists (`once`: removes it
    first, so that the task sent again succeeds)."""

    name = "fragile"
    marker = ""
    once = True
    parent = os.getpid()

    def pairs_within(self, signatures, threshold, **asked):
        if os.getpid() != self.parent and os.path.exists(self.marker):
            if self.once:
                os.remove(self.marker)
            os._exit(1)
        return super().pairs_within(signatures, threshold, **asked)


class TestMetrics:
    @hookimpl
    def register_metrics(self, register):
        register(Manhattan())
        register(Fragile())


HOST = load_plugins(autoload=False, extra={"test-metrics": TestMetrics()})
AVGDIFF = HOST.metric("avgdiff")


class Stages:
    """A progress that counts what it is told."""

    def __init__(self):
        self.total, self.advanced = None, 0

    def stage(self, name, total):
        self.total = total

    def found(self, total, finished=False):
        pass

    def advance(self, count=1):
        self.advanced += count


def reader_of(metric: Metric) -> Reader:
    return Reader(metric, HOST.provider_of(metric))


def pairs_found(metric, signatures, comparisons, threshold, workers=None, rotations=False):
    progress = Stages()
    chosen = ScanSettings(roots=(), metric=metric.name, threshold=threshold, rotations=rotations)
    context = ScanContext(HOST, chosen, metric, None, progress, workers)
    found = run_comparisons(context, signatures, comparisons)
    assert progress.advanced == progress.total  # every stage it announced, it went through
    return found, progress.total


@pytest.fixture(scope="module")
def avgdiff_processes():
    with ProcessWorkers(reader_of(AVGDIFF), slots=2) as workers:
        yield workers


# --- signatures --------------------------------------------------------------------------


def thumbnails(seed: int, count: int, clusters: int) -> np.ndarray:
    """Random 16x16 thumbnails; with `clusters`, each a small change of one of that many
    scenes (and some exact copies), so that many pairs are near."""
    rng = np.random.default_rng(seed)
    if not clusters:
        return rng.integers(0, 256, (count, 16, 16, 3), dtype=np.uint8)
    scenes = rng.integers(30, 226, (clusters, 16, 16, 3))
    noise = rng.normal(0, rng.uniform(0, 12), (count, 16, 16, 3))
    found = np.clip(scenes[rng.integers(0, clusters, count)] + noise, 0, 255).astype(np.uint8)
    copies = rng.integers(0, count, count // 5)
    found[: len(copies)] = found[copies]
    return found


THRESHOLDS = st.sampled_from([0.0, 0.03, 0.07, 0.11]) | st.floats(0.0, 0.3)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(2, 400),
    clusters=st.sampled_from([0, 1, 3, 20]),
    threshold=THRESHOLDS,
    rotations=st.booleans(),
    slots=st.integers(2, 16),
)
def test_bands_with_halos_find_exactly_the_pairs_of_the_search_in_the_scan(
    avgdiff_processes, seed, count, clusters, threshold, rotations, slots
):
    signatures = thumbnails(seed, count, clusters)
    everything = [Comparison(range(count))]
    here, _ = pairs_found(AVGDIFF, signatures, everything, threshold, rotations=rotations)
    avgdiff_processes.slots = slots

    spread, _ = pairs_found(
        AVGDIFF, signatures, everything, threshold, avgdiff_processes, rotations
    )

    assert spread == here  # the same pairs, each distance to the last bit


def test_a_large_search_is_cut_into_several_bands_per_slot(avgdiff_processes):
    signatures = thumbnails(7, 1000, 150)
    everything = [Comparison(range(1000))]
    here, _ = pairs_found(AVGDIFF, signatures, everything, 0.07)
    avgdiff_processes.slots = 2

    spread, tasks = pairs_found(AVGDIFF, signatures, everything, 0.07, avgdiff_processes)

    assert len(here) > 500 and spread == here
    assert tasks >= 6


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    left=st.integers(0, 200),
    right=st.integers(0, 200),
    clusters=st.sampled_from([0, 2, 10]),
    threshold=THRESHOLDS,
    rotations=st.booleans(),
)
def test_comparing_undated_photos_with_dated_ones_in_bands_finds_the_same_pairs(
    avgdiff_processes, seed, left, right, clusters, threshold, rotations
):
    signatures = thumbnails(seed, left + right, clusters)
    undated, dated = range(left), range(left, left + right)
    comparisons = [Comparison(undated), Comparison(undated, dated)]
    here, _ = pairs_found(AVGDIFF, signatures, comparisons, threshold, rotations=rotations)
    avgdiff_processes.slots = 5

    spread, _ = pairs_found(
        AVGDIFF, signatures, comparisons, threshold, avgdiff_processes, rotations
    )

    assert spread == here


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(2, 150),
    split=st.integers(0, 150),
    threshold=st.sampled_from([0.0, 1.0, 3.0, 10.0]),
    slots=st.integers(2, 12),
)
def test_a_metric_without_a_partition_key_is_split_into_blocks_that_find_the_same_pairs(
    seed, count, split, threshold, slots
):
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 12, (count, 3)).astype(np.int16)
    metric = HOST.metric("manhattan")
    comparisons = [
        Comparison(range(count)),
        Comparison(range(split // 2), range(split // 2, count)),
    ]
    here, _ = pairs_found(metric, signatures, comparisons, threshold)

    with ThreadWorkers(reader_of(metric), slots) as workers:
        spread, tasks = pairs_found(metric, signatures, comparisons, threshold, workers)

    assert spread == here
    assert tasks > 1 or count < 20


def test_many_small_buckets_are_sent_in_batches_and_find_the_same_pairs(avgdiff_processes):
    signatures = thumbnails(5, 3000, 40)
    rng = np.random.default_rng(5)
    buckets = [Comparison(rng.choice(3000, int(rng.integers(1, 30)), replace=False), burst=True)]
    buckets += [Comparison(list(range(n, n + 7))) for n in range(0, 2990, 5)]
    here, _ = pairs_found(AVGDIFF, signatures, buckets, 0.07)
    avgdiff_processes.slots = 2

    spread, tasks = pairs_found(AVGDIFF, signatures, buckets, 0.07, avgdiff_processes)

    assert spread == here
    assert 1 < tasks < len(buckets)  # batched, not a task each


def test_comparisons_below_the_workers_spread_from_stay_in_the_scans_process():
    signatures = thumbnails(3, 300, 5)
    metric = HOST.metric("avgdiff")
    with ThreadWorkers(None, slots=4, spread_from=301**2) as workers:  # a context no task reads
        found, stages = pairs_found(metric, signatures, [Comparison(range(300))], 0.07, workers)

    assert stages == 1
    assert found == pairs_found(metric, signatures, [Comparison(range(300))], 0.07)[0]


def test_a_comparison_that_loses_its_worker_once_is_sent_again(tmp_path):
    signatures = np.random.default_rng(1).integers(0, 9, (80, 3)).astype(np.int16)
    metric = HOST.metric("fragile")
    metric.marker, metric.once = str(tmp_path / "crash"), True
    (tmp_path / "crash").touch()
    here, _ = pairs_found(metric, signatures, [Comparison(range(80))], 3.0)

    with ProcessWorkers(reader_of(metric), slots=2) as workers:
        spread, _ = pairs_found(metric, signatures, [Comparison(range(80))], 3.0, workers)

    assert spread == here
    assert not (tmp_path / "crash").exists()  # a worker did die


def test_a_comparison_that_loses_its_worker_twice_stops_the_scan_in_one_line(tmp_path):
    signatures = np.random.default_rng(1).integers(0, 9, (80, 3)).astype(np.int16)
    metric = HOST.metric("fragile")
    metric.marker, metric.once = str(tmp_path / "crash"), False
    (tmp_path / "crash").touch()

    with ProcessWorkers(reader_of(metric), slots=2) as workers:
        with pytest.raises(SimpluginError) as stopped:
            pairs_found(metric, signatures, [Comparison(range(80))], 3.0, workers)

    assert "lost its worker twice" in str(stopped.value)
    assert "\n" not in str(stopped.value)


def test_avgdiffs_partition_key_keeps_every_near_pair_within_its_window():
    signatures = thumbnails(9, 500, 6)
    metric = AverageDifference()
    for rotations in (False, True):
        asked = {"rotations": True} if rotations else {}
        keys, window = metric.partition_key(signatures, 0.07, **asked)
        for i, j, _ in metric.pairs_within(signatures, 0.07, **asked):
            assert abs(int(keys[i]) - int(keys[j])) < window
