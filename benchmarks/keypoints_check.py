"""Does `--metric keypoints` meet its targets? Precision, recall and F1 against avgdiff.

    python benchmarks/keypoints_check.py [--real ../shared/data/real-dev] [--photos 400]

Through the public API (`simplugin.scan`), on:

* the labelled real photos (`groups.json`: photos of one group are true pairs; a pair
  counts as found when the scan puts both photos in one group);
* bench.py's generated library, with capture times (the default `exif-time` bucketer)
  and without (`bucketer="none"`: no photo is in a burst, as for undated photos);

and the cold scan's seconds (no cache) of each metric on the generated library.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import bench

import simplugin


def grouped_pairs(result: simplugin.ScanResult, root: Path) -> set[tuple[str, str]]:
    pairs = set()
    for group in result.groups:
        names = sorted(str(Path(p.path).relative_to(root)) for p in group.photos)
        pairs.update(itertools.combinations(names, 2))
    return pairs


def direct_pairs(result: simplugin.ScanResult, root: Path) -> set[tuple[str, str]]:
    """The pairs the metric itself found, without those a group adds through a third photo."""
    return {
        tuple(sorted(str(Path(p).relative_to(root)) for p in (pair.a.path, pair.b.path)))
        for pair in result.pairs
    }


def scores(found: set, truth: set) -> str:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return (
        f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  ({hits}/{len(truth)}, {len(found)} found)"
    )


def timed_scan(root: Path, **settings) -> tuple[simplugin.ScanResult, float]:
    start = time.perf_counter()
    result = simplugin.scan(root, cache=False, **settings)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--real", type=Path, default=Path("../shared/data/real-dev"))
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--megapixels", type=float, nargs=2, default=(2.0, 12.0))
    args = parser.parse_args()
    metrics = ("avgdiff", "keypoints")
    if args.real.is_dir():
        labelled = json.loads((args.real / "groups.json").read_text())["groups"]
        truth = {p for g in labelled for p in itertools.combinations(sorted(g), 2)}
        for metric in metrics:
            result, _ = timed_scan(args.real, metric=metric)
            print(f"real-dev      {metric:9}  {scores(grouped_pairs(result, args.real), truth)}")
            print(f"  direct pairs {metric:9} {scores(direct_pairs(result, args.real), truth)}")
    with tempfile.TemporaryDirectory() as folder:
        library = Path(folder)
        truth = bench.generate(library, args.photos, args.seed, tuple(args.megapixels))
        for metric, bucketer in itertools.product(metrics, ("exif-time", "none")):
            result, seconds = timed_scan(library, metric=metric, bucketer=bucketer)
            label = "dated" if bucketer == "exif-time" else "undated"
            found = grouped_pairs(result, library)
            print(f"generated {label:7} {metric:9}  {scores(found, truth)}  cold {seconds:.1f} s")


if __name__ == "__main__":
    main()
