"""How accurate is each metric, on real photos and on generated ones?

    python benchmarks/accuracy.py                      # every installed metric
    python benchmarks/accuracy.py avgdiff --photos 300 --real-dev ../shared/data/real-dev

For each metric named (default: every installed one), and again with `--rotations` when
the metric supports it, scans each labelled set of photos with `simplugin.scan` (its
defaults otherwise: capture-time bursts, photos without a time compared with all) and
prints one table: precision, recall and F1 of the pairs of photos the scan puts in one
group (what a user acts on) against the true near-duplicate pairs, and the seconds a
cold scan (no signature cache) took per 1,000 photos of the set. Machines are shared
and noisy: compare the seconds of rows measured in the same run.

The sets:

- real-dev: 31 real photos (camera series, phone edits, greyscale and messenger copies),
  28 true pairs, labelled in its groups.json. Read where it is, never copied into the
  repository (its licences do not fit it): by default `../shared/data/real-dev` beside
  the repository; left out, with a word, when it is not there.
- seagulls: the six shipped seagulls; the true pairs are the reference's
  (tests/data/expected.json, the same file as ../shared/data/expected.json).
- dublin-sample: the four shipped Dublin photos; see DUBLIN_PAIRS.
- turned seagulls: the six seagulls and a copy of each turned or mirrored, pixels and
  all (see TURNS): a copy is a near-duplicate of its photo and of that photo's group.
- generated, dated / undated: bench.py's reproducible library (`--photos`, `--seed`):
  photos with near-duplicate variants (re-encoded, rescaled, cropped, brightened),
  with EXIF capture times and, with the same pixels, without.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import generate
from PIL import Image

import simplugin

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
DATA = ROOT / "tests" / "data"
REAL_DEV = ROOT.parent / "shared" / "data" / "real-dev"

# The shipped dublin-sample holds four photos: two taken seconds apart from a plane's
# window (the same view: a true pair), the bridge and the convention centre, each the
# only photo of its scene. The issue that asked for this benchmark names two more pairs
# any person calls the same shot, convention_centre_3~4 and river_1~2: those photos are
# not in the shipped sample, so its one true pair is the airplanes'.
DUBLIN_PAIRS = [("airplane_1.jpg", "airplane_2.jpg")]

# One copy of each seagull, each turned or mirrored another way; the seagulls' groups.
TURNS = {
    "seagull_1.jpeg": Image.Transpose.ROTATE_90,
    "seagull_2.jpeg": Image.Transpose.ROTATE_180,
    "seagull_3.jpeg": Image.Transpose.ROTATE_270,
    "seagull_4.jpeg": Image.Transpose.FLIP_LEFT_RIGHT,
    "seagull_5.jpeg": Image.Transpose.FLIP_TOP_BOTTOM,
    "seagull_6.jpeg": Image.Transpose.TRANSPOSE,
}
SEAGULL_GROUPS = [
    ["seagull_1.jpeg", "seagull_3.jpeg", "seagull_4.jpeg"],
    ["seagull_5.jpeg", "seagull_6.jpeg"],
]

Pairs = set[frozenset[str]]


@dataclass(frozen=True)
class LabelledSet:
    """Photos under `folder` and the pairs of them (paths relative to it) that are true
    near-duplicates."""

    name: str
    folder: Path
    truth: Pairs


@dataclass(frozen=True)
class Row:
    metric: str
    rotations: bool
    labelled: LabelledSet
    photos: int
    found: Pairs
    seconds: float

    @property
    def scores(self) -> tuple[float, float, float]:
        """Precision, recall and F1; a scan that finds nothing has precision 1."""
        hits = len(self.found & self.labelled.truth)
        precision = hits / len(self.found) if self.found else 1.0
        recall = hits / len(self.labelled.truth) if self.labelled.truth else 1.0
        total = precision + recall
        return precision, recall, (2 * precision * recall / total if total else 0.0)


def pairs_of(groups: Sequence[Sequence[str]]) -> Pairs:
    """Every two photos of one group."""
    return {frozenset(pair) for group in groups for pair in itertools.combinations(group, 2)}


def real_dev(folder: Path) -> LabelledSet:
    groups = json.loads((folder / "groups.json").read_text())["groups"]
    return LabelledSet("real-dev", folder, pairs_of(groups))


def seagulls() -> LabelledSet:
    expected = json.loads((DATA / "expected.json").read_text())["folders"]["seagulls"]
    truth = {frozenset((p["a"], p["b"])) for p in expected if p["near_duplicate"]}
    return LabelledSet("seagulls", DATA / "seagulls", truth)


def dublin() -> LabelledSet:
    return LabelledSet("dublin-sample", DATA / "dublin-sample", pairs_of(DUBLIN_PAIRS))


def turned(work: Path) -> LabelledSet:
    folder = work / "turned"
    folder.mkdir()
    for name, turn in TURNS.items():
        with Image.open(DATA / "seagulls" / name) as photo:
            photo.save(folder / name, quality=95)
            photo.transpose(turn).save(folder / f"turned {name}", quality=95)
    groups = [[*group, *(f"turned {name}" for name in group)] for group in SEAGULL_GROUPS]
    groups.append(["seagull_2.jpeg", "turned seagull_2.jpeg"])
    return LabelledSet("turned seagulls", folder, pairs_of(groups))


def generated(work: Path, photos: int, seed: int, dated: bool) -> LabelledSet:
    kind = "dated" if dated else "undated"
    folder = work / kind
    truth = generate(folder, photos, seed, (1.0, 3.0), dated=dated)
    return LabelledSet(f"generated, {kind}", folder, {frozenset(pair) for pair in truth})


def measure(metric: str, rotations: bool, labelled: LabelledSet) -> Row:
    """A cold scan of one set: the pairs its groups make, and how long it took."""
    started = time.perf_counter()
    result = simplugin.scan(labelled.folder, metric=metric, rotations=rotations, cache=False)
    seconds = time.perf_counter() - started

    def relative(photo: simplugin.Photo) -> str:
        return Path(photo.path).relative_to(labelled.folder).as_posix()

    found = pairs_of([[relative(p) for p in group.photos] for group in result.groups])
    return Row(metric, rotations, labelled, len(result.photos), found, seconds)


def print_table(rows: Sequence[Row]) -> None:
    header = ("metric", "set", "photos", "true", "found", "P", "R", "F1", "s/1000")
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        precision, recall, f1 = row.scores
        name = row.metric + (" --rotations" if row.rotations else "")
        cells = (
            name,
            row.labelled.name,
            str(row.photos),
            str(len(row.labelled.truth)),
            str(len(row.found)),
            f"{precision:.3f}",
            f"{recall:.3f}",
            f"{f1:.3f}",
            f"{row.seconds / max(1, row.photos) * 1000:.0f}",
        )
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("metrics", nargs="*", help="metric names (default: every installed one)")
    parser.add_argument("--photos", type=int, default=300, help="generated photos (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--real-dev", type=Path, default=REAL_DEV, help=f"the real-dev set (default {REAL_DEV})"
    )
    arguments = parser.parse_args()
    installed = simplugin.load_plugins().registered["metric"]
    metrics = arguments.metrics or sorted(installed)
    unknown = [name for name in metrics if name not in installed]
    if unknown:
        parser.error(f"not installed: {', '.join(unknown)} (installed: {', '.join(installed)})")

    with tempfile.TemporaryDirectory() as work:
        sets = [seagulls(), dublin(), turned(Path(work))]
        if (arguments.real_dev / "groups.json").is_file():
            sets.insert(0, real_dev(arguments.real_dev))
        else:
            print(f"real-dev: not found at {arguments.real_dev} (give --real-dev PATH)")
        for dated in (True, False):
            sets.append(generated(Path(work), arguments.photos, arguments.seed, dated))
        rows = [
            measure(metric, rotations, labelled)
            for metric in metrics
            for rotations in ((False, True) if installed[metric].supports_rotations else (False,))
            for labelled in sets
        ]
    print_table(rows)


if __name__ == "__main__":
    main()
