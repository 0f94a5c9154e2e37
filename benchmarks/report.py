"""Does the HTML report stay usable with thousands of groups?

    python benchmarks/report.py --groups 3000

Generates a library of GROUPS pairs of near-duplicate photos (blocky 1-megapixel JPEGs,
each pair a photo and a brightened copy), then measures, in one run:

* the scan with `--html` (thumbnails made), against the same scan with `--json` only:
  the report's own cost is the difference; then `--html` again, reusing thumbnails;
* the page in Debian's Chromium (headless, through Playwright): time to the load event
  and to the first group on screen, thumbnails fetched on opening, and the time a filter
  takes, against the report of the 6 seagull photos as the baseline.

Machines are shared and noisy: read the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
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


def timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "simplugin", *args, "-q", "--no-cache"],
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


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
    arguments = parser.parse_args()
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
