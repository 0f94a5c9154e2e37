"""How fast is simplugin, against the tutorial's naive approach, in the same run?

    python benchmarks/bench.py --photos 1000            # generate a library and compare
    python benchmarks/bench.py --folder ~/Pictures      # time a real library (no accuracy)
    python benchmarks/bench.py --signatures 50000 100000  # the comparison stage alone
    python benchmarks/bench.py --photos 0 --signatures 20000 --repeats 5 --baseline /tmp/old
        # no library; the comparison against an older commit's, from git archive

Prints one table. Every contender runs in its own process, one after the other, so
that its wall time and peak memory (the largest process's resident set, from wait4)
are its own. Machines are shared and noisy: read the ratios, which are measured in
the same run, rather than the absolute seconds.

The generated library is reproducible (--seed): JPEGs of 2 to 12 megapixels with EXIF
capture times, about a third of them with near-duplicate variants (re-encoded,
rescaled, cropped by 2%, brightened by 6%), taken seconds after their original. The
variants of one original are the ground truth for precision and recall.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve()
DECODE = "decode only, 1/8 scale, all cores"
NAIVE = "naive tutorial approach"


# --- the library -------------------------------------------------------------------------


def generate(
    folder: Path,
    count: int,
    seed: int,
    megapixels: tuple[float, float],
    dated: bool = True,
    with_variants: float = 0.35,
) -> set:
    """Write `count` photos into `folder`; return the known near-duplicate pairs.
    `dated=False` leaves out the capture times (the same pixels otherwise).
    `with_variants`: the share of originals that get 1 or 2 near-duplicate variants
    (0.35: about 57% of the photos are in a group; 0.03: about 7%)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    families: list[list[str]] = []
    written = 0
    start = 1_600_000_000
    while written < count:
        family = [f"IMG_{written:05d}.jpg"]
        scene = _scene(rng, megapixels)
        taken = start + int(rng.integers(0, 365 * 86400))
        _save(scene, folder / family[0], taken if dated else None, quality=92)
        written += 1
        if rng.random() < with_variants:
            for variant in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
                if written >= count:
                    break
                name = f"IMG_{written:05d}_v{variant}.jpg"
                _save(
                    _variant(scene, int(variant)),
                    folder / name,
                    taken + 2 + written % 5 if dated else None,
                    quality=70 if variant == 0 else 90,
                )
                family.append(name)
                written += 1
        families.append(family)
    return {tuple(sorted(p)) for f in families for p in itertools.combinations(f, 2)}


def _scene(rng: np.random.Generator, megapixels: tuple[float, float]) -> Image.Image:
    pixels = rng.uniform(*megapixels) * 1e6
    width = int((pixels * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    layout = rng.uniform(0, 255, (6, 8, 3)) * rng.uniform(0.3, 1.0) + rng.uniform(0, 80)
    small = Image.fromarray(np.clip(layout, 0, 255).astype(np.uint8)).resize(
        (64, 48), Image.BICUBIC
    )
    grain = rng.integers(-12, 13, (48, 64, 3))
    small = Image.fromarray(np.clip(np.asarray(small, int) + grain, 0, 255).astype(np.uint8))
    return small.resize((width, height), Image.BICUBIC)


def _variant(scene: Image.Image, kind: int) -> Image.Image:
    width, height = scene.size
    if kind == 1:  # a smaller export
        return scene.resize((width // 2, height // 2), Image.LANCZOS)
    if kind == 2:  # cropped by 2% on each side
        dx, dy = width // 50, height // 50
        return scene.crop((dx, dy, width - dx, height - dy))
    if kind == 3:  # brightened
        return Image.eval(scene, lambda v: min(255, int(v * 1.06)))
    return scene  # re-encoded (at a lower quality, by the caller)


def _save(image: Image.Image, path: Path, taken: int | None, quality: int) -> None:
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(taken))
    image.save(path, quality=quality, exif=exif)


# --- the contenders (each run as `bench.py --run NAME FOLDER OUT`) -----------------------


def naive(folder: Path) -> list[tuple[str, str]]:
    """The tutorial: full decode, 16x16, then a Python loop over every pair, keeping
    every distance in memory."""
    thumbnails = {}
    for path in sorted(folder.iterdir()):
        thumbnails[path.name] = np.asarray(
            Image.open(path).convert("RGB").resize((16, 16)), np.int16
        )
    distances = {}
    for a, b in itertools.combinations(thumbnails, 2):
        distances[(a, b)] = np.abs(thumbnails[a] - thumbnails[b]).mean() / 255
    return [pair for pair, distance in distances.items() if distance < 0.07]


def decode_only(folder: Path) -> list:
    """The floor: decode every JPEG at 1/8 scale on all cores, and nothing else."""
    from multiprocessing import Pool

    with Pool(len(os.sched_getaffinity(0))) as pool:
        pool.map(_decode, sorted(str(p) for p in folder.iterdir()), chunksize=8)
    return []


def _decode(path: str) -> None:
    with Image.open(path) as image:
        image.draft("RGB", (64, 64))
        image.load()


# --- peers that install from PyPI (--peers): each with its own defaults --------------------


def imagehash_bktree(folder: Path) -> list[tuple[str, str]]:
    """imagehash's perceptual hash of every photo, then a BK-tree query per photo for
    the hashes within 8 of 64 bits (imagehash's documented way to search)."""
    import imagehash
    import pybktree

    hashes = {path.name: imagehash.phash(Image.open(path)) for path in sorted(folder.iterdir())}
    tree = pybktree.BKTree(lambda a, b: a[1] - b[1], list(hashes.items()))
    pairs = set()
    for name, value in hashes.items():
        for _, (other, _) in tree.find((name, value), 8):
            if other != name:
                pairs.add(tuple(sorted((name, other))))
    return sorted(pairs)


def imagededup_phash(folder: Path) -> list[tuple[str, str]]:
    from imagededup.methods import PHash

    duplicates = PHash().find_duplicates(image_dir=str(folder))
    return sorted({tuple(sorted((a, b))) for a, found in duplicates.items() for b in found})


def czkawka_similar(folder: Path) -> list[tuple[str, str]]:
    from czkawka import ImageSimilarity

    finder = ImageSimilarity()
    finder.set_directories([folder])
    groups = finder.find_similar()
    return sorted(
        tuple(sorted((Path(a).name, Path(b).name)))
        for group in groups
        for a, b in itertools.combinations(group, 2)
    )


PEERS = {  # name: (module, how to install it, how to run it)
    "imagehash phash + BK-tree": ("imagehash", "pip install imagehash pybktree", imagehash_bktree),
    "imagededup PHash": ("imagededup", "pip install imagededup (needs torch)", imagededup_phash),
    "czkawka (Python bindings)": ("czkawka", "pip install czkawka", czkawka_similar),
}


def simplugin_scan(folder: Path, cache: Path) -> list[tuple[str, str]]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "simplugin",
            "scan",
            str(folder),
            "--json",
            "-",
            "--quiet",
            "--cache",
            str(cache),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [(Path(p["a"]).name, Path(p["b"]).name) for p in json.loads(out)["pairs"]]


def compare_only(count: int, rotations: bool) -> list:
    from simplugin.builtin.avgdiff import AverageDifference

    rng = np.random.default_rng(count)
    # Made a slice at a time, so the generator's float arrays do not count as peak memory.
    signatures = np.concatenate(
        [photo_like_signatures(min(5000, count - done), rng) for done in range(0, count, 5000)]
    )
    started = time.perf_counter()
    # Given only when asked, as the engine does.
    asked = {"rotations": True} if rotations else {}
    found = sorted(AverageDifference().pairs_within(signatures, 0.07, **asked))
    seconds = time.perf_counter() - started
    digest = hashlib.sha1(repr(found).encode()).hexdigest()[:12]  # the same pairs?
    print(json.dumps({"seconds": seconds, "pairs": len(found), "digest": digest}), file=sys.stderr)
    return []


def photo_like_signatures(count: int, rng: np.random.Generator) -> np.ndarray:
    """16x16 thumbnails shaped like photos': an exposure, a colour cast, a smooth scene
    at two scales and grain; a tenth of them near-copies of another."""

    def up(a):
        k = a.shape[1]
        t = np.linspace(0, k - 1, 16)
        i0 = np.minimum(np.floor(t).astype(int), k - 2)
        f = t - i0
        rows = a[:, i0] * (1 - f)[None, :, None, None] + a[:, i0 + 1] * f[None, :, None, None]
        return (
            rows[:, :, i0] * (1 - f)[None, None, :, None]
            + rows[:, :, i0 + 1] * f[None, None, :, None]
        )

    scene = up(rng.uniform(-1, 1, (count, 4, 4, 1)))
    scene = scene + 0.6 * up(rng.uniform(-1, 1, (count, 8, 8, 1)))
    scene = scene + 0.4 * up(rng.normal(0, 0.5, (count, 4, 4, 3)))
    image = rng.uniform(40, 215, (count, 1, 1, 1)) + rng.normal(0, 18, (count, 1, 1, 3))
    image = image + rng.uniform(35, 110, (count, 1, 1, 1)) * scene + rng.normal(0, 5, scene.shape)
    copies = count // 10
    image[:copies] = image[rng.integers(0, count, copies)] + rng.normal(0, 6, (copies, 16, 16, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


# --- measuring -------------------------------------------------------------------------


def measure(*arguments: str, code: Path | None = None) -> tuple[float, float, list, str]:
    """Run `bench.py --run ARGUMENTS` in a process of its own: seconds, peak MB, result.
    With `code`, the process imports the simplugin found there (a `git archive`)."""
    environment = dict(os.environ, PYTHONPATH=str(code)) if code else None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(HERE), "--run", *arguments, out.name],
            stderr=subprocess.PIPE,
            env=environment,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        errors = process.stderr.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{arguments[0]} failed:\n{errors}")
        return seconds, usage.ru_maxrss / 1024, json.loads(Path(out.name).read_text()), errors


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def accuracy(found: list, truth: set) -> tuple[float, float]:
    found_set = {tuple(sorted(p)) for p in found}
    hits = len(found_set & truth)
    return hits / max(1, len(found_set)), hits / max(1, len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="photos to generate (default 300)")
    parser.add_argument("--folder", type=Path, help="time this folder instead of generating one")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--megapixels", type=float, nargs=2, default=(2.0, 12.0))
    parser.add_argument(
        "--signatures",
        type=int,
        nargs="*",
        default=(),
        help="also time the comparison stage alone on this many signatures",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="time each comparison this often (medians shown)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also time the comparison of the simplugin in this folder (e.g. an older commit's,"
        " from `git archive COMMIT simplugin | tar -x -C FOLDER`), alternating with this one",
    )
    parser.add_argument("--skip-naive", action="store_true", help="the naive approach is slow")
    parser.add_argument(
        "--peers", action="store_true", help="also time imagehash, imagededup and czkawka"
    )
    parser.add_argument("--run", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.run:
        return _run(arguments.run)
    if arguments.photos == 0 and arguments.folder is None:  # the comparison stage alone
        for size in arguments.signatures:
            compare_with_and_without_rotations(size, arguments.repeats, arguments.baseline)
        return

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        truth: set = set()
        folder = arguments.folder
        if folder is None:
            folder = work / "library"
            started = time.perf_counter()
            # In a process of its own: Linux counts a parent's peak memory in its later
            # children's, so this process must stay small for the figures to mean anything.
            low, high = arguments.megapixels
            _, _, pairs, _ = measure(
                "generate",
                str(folder),
                str(arguments.photos),
                str(arguments.seed),
                str(low),
                str(high),
            )
            truth = {tuple(pair) for pair in pairs}
            megabytes = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
            print(
                f"generated {arguments.photos} photos ({megabytes:.0f} MB) in"
                f" {time.perf_counter() - started:.0f} s; {len(truth)} known near-duplicate pairs"
            )
        count = sum(1 for _ in folder.iterdir())
        rows = []
        cache = work / "cache.sqlite"
        for name, args in [
            (DECODE, ("decode", str(folder))),
            ("simplugin, cold", ("simplugin", str(folder), str(cache))),
            ("simplugin, warm re-scan", ("simplugin", str(folder), str(cache))),
            *([] if arguments.skip_naive else [(NAIVE, ("naive", str(folder)))]),
            *([(peer, ("peer", peer, str(folder))) for peer in PEERS] if arguments.peers else []),
        ]:
            if args[0] == "peer" and not _installed(PEERS[name][0]):
                print(f"{name}: not installed here ({PEERS[name][1]})")
                continue
            seconds, peak, found, _ = measure(*args)
            rows.append((name, seconds, peak, found))
        baseline = {name: seconds for name, seconds, _, _ in rows}
        header = ("contender", "seconds", "photos/s", "peak MB", "precision", "recall")
        print("\n{:36} {:>8} {:>9} {:>8} {:>9} {:>7}".format(*header))
        for name, seconds, peak, found in rows:
            precision, recall = accuracy(found, truth) if truth and name != DECODE else (None, None)
            print(
                f"{name:36} {seconds:8.1f} {count / seconds:9.0f} {peak:8.0f}"
                + (f" {precision:9.3f} {recall:7.3f}" if precision is not None else "")
            )
        cold = baseline["simplugin, cold"]
        print(f"\ncold scan / decode only: {cold / baseline[DECODE]:.2f}x")
        for peer in PEERS:
            if peer in baseline:
                print(f"simplugin cold scan is {baseline[peer] / cold:.1f}x faster than {peer}")
        if NAIVE in baseline:
            print(f"simplugin cold scan is {baseline[NAIVE] / cold:.1f}x faster than the naive one")
        for size in arguments.signatures:
            compare_with_and_without_rotations(size, arguments.repeats, arguments.baseline)


def compare_with_and_without_rotations(size: int, repeats: int, baseline: Path | None) -> None:
    """Time the comparison stage alone on `size` signatures, upright only and then in
    the eight orientations of `--rotations`, `repeats` times in turn (and the upright
    search of the `baseline` code before each), and print the medians and what
    rotations cost."""
    contenders = [("baseline", "upright", baseline)] if baseline else []
    contenders += [("current", "upright", None), ("current", "rotations", None)]
    runs: dict[tuple[str, str], list] = {(name, variant): [] for name, variant, _ in contenders}
    for _ in range(repeats):
        for name, variant, code in contenders:
            _, peak, _, errors = measure("compare", str(size), variant, code=code)
            runs[name, variant].append((json.loads(errors.strip().splitlines()[-1]), peak))
    seconds = {}
    for (name, variant), measured in runs.items():
        seconds[name, variant] = statistics.median(inner["seconds"] for inner, _ in measured)
        inner, peak = measured[0]
        digests = {inner["digest"] for inner, _ in measured}
        shown = f"{name}, " + ("upright" if variant == "upright" else "--rotations")
        print(
            f"comparison alone ({shown}), {size} signatures: {seconds[name, variant]:.2f} s"
            f" (median of {len(measured)}; {inner['pairs']} pairs, digest"
            f" {'/'.join(sorted(digests))}), peak {peak:.0f} MB"
        )
    if baseline:
        ratio = seconds["current", "upright"] / seconds["baseline", "upright"]
        same = (
            runs["current", "upright"][0][0]["digest"]
            == runs["baseline", "upright"][0][0]["digest"]
        )
        print(
            f"upright comparison, current / baseline, {size} signatures: {ratio:.2f}x"
            f" ({'the same' if same else 'DIFFERENT'} pairs)"
        )
    ratio = seconds["current", "rotations"] / seconds["current", "upright"]
    print(f"comparison with --rotations / without, {size} signatures: {ratio:.2f}x")


def _run(arguments: list[str]) -> None:
    name, *rest, out = arguments
    if name == "generate":
        folder, count, seed, low, high = rest
        truth = generate(Path(folder), int(count), int(seed), (float(low), float(high)))
        found = sorted(truth)
    elif name == "naive":
        found = naive(Path(rest[0]))
    elif name == "peer":
        peer, folder = rest
        found = PEERS[peer][2](Path(folder))
    elif name == "decode":
        found = decode_only(Path(rest[0]))
    elif name == "simplugin":
        found = simplugin_scan(Path(rest[0]), Path(rest[1]))
    else:
        size, variant = rest
        found = compare_only(int(size), variant == "rotations")
    Path(out).write_text(json.dumps(found))


if __name__ == "__main__":
    main()
