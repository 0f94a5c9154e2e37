"""Does the HTML report stay usable with thousands of groups?

    python benchmarks/report.py --groups 3000

Generates a library of GROUPS pairs of near-duplicate photos (blocky 1-megapixel JPEGs,
each pair a photo and a brightened copy), then measures, in one run:

* the scan with `--html` (thumbnails made), against the same scan with `--json` only:
  the report's own cost is the difference; then `--html` again, reusing thumbnails;
* the page in Debian's Chromium (headless, through Playwright): time to the load event
  and to the first group on screen, thumbnails fetched on opening, and the time a filter
  takes, against the report of the 6 seagull photos as the baseline.

With `--previews` instead, it measures what the compare view costs, on 20 photos of
4032 x 3024 in one group (a 12-megapixel photo upscaled from the Dublin sample, each
a little brighter than the one before): `scan --html` (thumbnails, full-size previews
and sharpness figures made), the size of the thumbnail folder, `--keep sharpest`, and
both at once, for this worktree's code and for each of `--before REVISION...`
(unpacked with git archive), in the same run:

    python benchmarks/report.py --previews --before 6d67bde^1 6d67bde

Machines are shared and noisy: read the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SEAGULLS = ROOT / "examples" / "photos"


def generate(folder: Path, groups: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for number in range(groups):
        blocks = rng.integers(0, 240, (6, 8, 3), dtype=np.uint8)
        pixels = blocks.repeat(144, axis=0).repeat(144, axis=1)  # 1152 x 864
        subfolder = folder / f"{number // 500:03d}"
        subfolder.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(subfolder / f"IMG_{number:05d}.jpg", quality=90)
        Image.fromarray(pixels + 8).save(subfolder / f"IMG_{number:05d}_edit.jpg", quality=85)


def timed(*args: str, code: Path = ROOT) -> float:
    """Seconds `simplugin ARGS` takes with the code in folder `code`; NaN if it fails
    (an option the code has not learnt yet)."""
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "simplugin", *args, "-q", "--no-cache"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,
    )
    if finished.returncode not in (0, 1):
        return float("nan")
    return time.perf_counter() - started


def generate_burst(folder: Path, photos: int) -> None:
    """`photos` JPEGs of 4032 x 3024, one scene a little brighter each time: one group."""
    folder.mkdir(parents=True)
    with Image.open(ROOT / "tests" / "data" / "dublin-sample" / "airplane_1.jpg") as source:
        scene = np.asarray(source.convert("RGB").resize((4032, 3024)), dtype=np.int16)
    for number in range(photos):
        pixels = np.clip(scene + number, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"IMG_{number:04d}.jpg", quality=92)


def unpacked(revision: str, work: Path) -> Path:
    """The code of `revision`, unpacked from git into a folder of `work`."""
    target = work / ("code-" + revision.replace("/", "_").replace("^", "_parent"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
    ).stdout
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def measure_previews(work: Path, code: Path) -> dict[str, float]:
    """The compare view's costs with the code in `code`, from fresh thumbnail folders."""
    burst = work / "burst"
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    figures = {
        "scan --html (thumbnails made)": timed(
            "scan", str(burst), "--html", str(out / "a.html"), code=code
        )
    }
    thumbnails = out / "a-thumbnails"
    figures["thumbnail folder, MiB"] = folder_bytes(thumbnails) / 2**20
    previews = list(thumbnails.glob("*.full.jpg"))
    if previews:
        with Image.open(previews[0]) as preview:
            figures["preview long side, px"] = float(max(preview.size))
    figures["scan --html (thumbnails reused)"] = timed(
        "scan", str(burst), "--html", str(out / "a.html"), code=code
    )
    figures["scan --json (no report)"] = timed(
        "scan", str(burst), "--json", str(out / "r.json"), code=code
    )
    figures["scan --keep sharpest"] = timed(
        "scan", str(burst), "--keep", "sharpest", "--json", str(out / "r.json"), code=code
    )
    figures["scan --keep sharpest --html"] = timed(
        "scan", str(burst), "--keep", "sharpest", "--html", str(out / "b.html"), code=code
    )
    return figures


def compare_previews(revisions: list[str], photos: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        generate_burst(work / "burst", photos)
        codes = {revision: unpacked(revision, work) for revision in revisions}
        codes["this worktree"] = ROOT
        timed("scan", str(work / "burst"), "--json", str(work / "warm.json"))  # disk cache
        results: dict[str, dict[str, float]] = {}
        for _ in range(repeat):  # the revisions in turn, each figure its best of `repeat`
            for name, code in codes.items():
                for figure, value in measure_previews(work, code).items():
                    best = results.setdefault(name, {}).get(figure, float("inf"))
                    results[name][figure] = min(best, value) if value == value else value
    print(f"\n{photos} photos of 4032 x 3024 in one group, no signature cache,")
    print(f"best of {repeat} runs (seconds, unless said):")
    print(f"  {'':34}" + "".join(f"{name:>16}" for name in results))
    for figure in results["this worktree"]:
        values = [result.get(figure, float("nan")) for result in results.values()]
        print(f"  {figure:34}" + "".join(f"{value:16.2f}" for value in values))


def open_page(browser, page_path: Path) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    thumbnails = []
    page.on("request", lambda r: thumbnails.append(r.url) if "-thumbnails/" in r.url else None)
    started = time.perf_counter()
    page.goto(page_path.as_uri())
    page.wait_for_selector("li.group")
    first_group = time.perf_counter() - started
    page.wait_for_load_state("load")
    loaded = time.perf_counter() - started
    at_first = page.evaluate("document.querySelectorAll('li.group').length")
    started = time.perf_counter()
    page.fill("#filter-text", "IMG_00042")  # one group of thousands
    page.wait_for_function("document.querySelectorAll('li.group').length <= 1")
    filtered = time.perf_counter() - started
    figures = {
        "first group on screen": first_group,
        "load event": loaded,
        "filter typed -> list redrawn": filtered,
        "thumbnails fetched on opening": len(set(thumbnails)),
        "groups on the page at first": at_first,
    }
    page.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--previews", action="store_true", help="measure the compare view")
    parser.add_argument("--photos", type=int, default=20, help="with --previews")
    parser.add_argument("--before", nargs="*", default=[], help="revisions, with --previews")
    parser.add_argument("--repeat", type=int, default=3, help="runs, with --previews")
    arguments = parser.parse_args()
    if arguments.previews:
        compare_previews(arguments.before, arguments.photos, arguments.repeat)
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        library = work / "library"
        started = time.perf_counter()
        generate(library, arguments.groups, arguments.seed)
        print(f"generated {2 * arguments.groups} photos in {time.perf_counter() - started:.1f} s")
        json_only = timed("scan", str(library), "--json", str(work / "result.json"))
        cold = timed(
            "scan", str(library), "--json", str(work / "r.json"), "--html", str(work / "big.html")
        )
        warm = timed(
            "scan", str(library), "--json", str(work / "r.json"), "--html", str(work / "big.html")
        )
        timed("scan", str(SEAGULLS), "--html", str(work / "small.html"))
        size = (work / "big.html").stat().st_size
        folder = work / "big-thumbnails"
        thumbnail_bytes = sum(p.stat().st_size for p in folder.iterdir())

        print(f"\nscan of {2 * arguments.groups} photos, {arguments.groups} groups (no cache):")
        print(f"  --json only (baseline)            {json_only:7.1f} s")
        print(f"  --json --html, thumbnails made    {cold:7.1f} s  ({cold / json_only:.2f}x)")
        print(f"  --json --html, thumbnails reused  {warm:7.1f} s  ({warm / json_only:.2f}x)")
        print(
            f"  page {size / 2**20:.1f} MiB; thumbnails {thumbnail_bytes / 2**20:.1f} MiB"
            f" in {len(os.listdir(folder)) - 1} files"
        )

        chromium = "/usr/bin/chromium"
        args = ["--disable-gpu", "--disable-background-networking", "--disable-component-update"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=args)
            open_page(browser, work / "small.html")  # warm the browser up
            small = open_page(browser, work / "small.html")
            big = open_page(browser, work / "big.html")
            browser.close()
        print(f"\nin Chromium: {arguments.groups} groups against the 2-group seagull report")
        for name, value in big.items():
            if isinstance(value, float):
                ratio = value / small[name] if small[name] else float("nan")
                print(
                    f"  {name:32} {value * 1000:7.0f} ms  vs {small[name] * 1000:5.0f} ms"
                    f"  ({ratio:.1f}x)"
                )
            else:
                print(f"  {name:32} {value:7d}     vs {small[name]:5d}")


if __name__ == "__main__":
    main()
