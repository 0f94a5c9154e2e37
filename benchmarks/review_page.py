"""Does the page `simplugin review` serves stay responsive with 5,000 groups?

    python benchmarks/review_page.py --groups 5000

Writes the served page (the html sink with `served`) of a synthetic result: GROUPS
groups of three real, tiny JPEGs (64 x 48 pixels, so that making them and their
thumbnails takes seconds, not the scan of 15,000 real photos, which is
benchmarks/report.py's subject); the page's cost depends on the number of groups and
photos, not on their pixels. The page is served by simplugin.review's own server and
loaded in Debian's Chromium (headless, through Playwright), and this measures, against
the seagull photos' 2-group page in the same run:

* first group on screen (from the request of the page);
* a filter typed (a name that leaves one group), until the list is redrawn, then
  the filter cleared, until the first group is back;
* a keeper change (a click on a photo), until that photo is marked as the keeper and
  the summary at the top counts again.

Machines are shared and noisy: read the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from simplugin import Duplicate, Group, Pair, Photo, ScanResult, scan, write
from simplugin.review import Review, ReviewServer, site_of

ROOT = Path(__file__).resolve().parents[1]
SEAGULLS = ROOT / "examples" / "photos"
PER_GROUP = 3


def tiny_photo(path: Path, pixels: np.ndarray) -> Photo:
    Image.fromarray(pixels).save(path, quality=80)
    seen = path.stat()
    return Photo(str(path), seen.st_size, seen.st_mtime_ns, 64, 48, "JPEG")


def synthetic_result(like: ScanResult, folder: Path, groups: int) -> ScanResult:
    """`groups` groups of PER_GROUP tiny photos, each group a keeper and its duplicates."""
    rng = np.random.default_rng(1)
    found, pairs, photos = [], [], []
    for number in range(groups):
        subfolder = folder / f"{number // 500:03d}"
        subfolder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 240, (48, 64, 3), dtype=np.uint8)
        members = [
            tiny_photo(subfolder / f"IMG_{number:05d}_{copy}.jpg", pixels + copy)
            for copy in range(PER_GROUP)
        ]
        distances = [round(0.001 + 0.06 * rng.random(), 6) for _ in members[1:]]
        duplicates = tuple(
            Duplicate(photo, d)
            for photo, d in sorted(zip(members[1:], distances, strict=True), key=lambda x: x[1])
        )
        found.append(Group(members[0], duplicates))
        pairs += [Pair(members[0], d.photo, d.distance) for d in duplicates]
        photos += members
    settings = dataclasses.replace(like.settings, roots=(str(folder),))
    return dataclasses.replace(
        like, settings=settings, photos=tuple(photos), pairs=tuple(pairs), groups=tuple(found)
    )


def served(page: Path) -> ReviewServer:
    server = ReviewServer(Review(site_of(str(page), str(page.parent / "near-duplicates"))))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


FILTER = "IMG_04242"  # one group of 5,000 (none of the seagulls': the list empties)
REDRAWN = "document.querySelectorAll('li.group').length <= 1"


def measure(browser, url: str) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector("li.group")
    first_group = time.perf_counter() - started
    page.wait_for_load_state("load")

    card = page.locator("li.group").first.locator("button.photo").nth(1)
    started = time.perf_counter()
    card.click()  # the summary counts again in the same task as the group is redrawn
    page.wait_for_function(
        "document.querySelector('li.group button.photo[data-member=\"1\"]')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    keeper = time.perf_counter() - started

    started = time.perf_counter()
    page.fill("#filter-text", FILTER)
    page.wait_for_function(REDRAWN)
    filtered = time.perf_counter() - started
    started = time.perf_counter()
    page.fill("#filter-text", "")
    page.wait_for_function("document.querySelectorAll('li.group').length >= 1")
    cleared = time.perf_counter() - started
    page.close()
    return {
        "first group on screen": first_group,
        "keeper changed": keeper,
        "filter typed -> list redrawn": filtered,
        "filter cleared -> list back": cleared,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="the median of this many loads")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        small = scan(SEAGULLS)
        write(small, "html", path=str(work / "small.html"), served=True)
        started = time.perf_counter()
        big = synthetic_result(small, work / "library", arguments.groups)
        write(big, "html", path=str(work / "big.html"), served=True)
        made = time.perf_counter() - started
        size = (work / "big.html").stat().st_size / 2**20
        print(
            f"{arguments.groups} groups, {len(big.photos)} photos, page {size:.1f} MiB,"
            f" made in {made:.1f} s"
        )
        servers = {name: served(work / f"{name}.html") for name in ("small", "big")}
        args = ["--disable-gpu", "--disable-background-networking", "--disable-component-update"]
        figures: dict[str, list[dict[str, float]]] = {"small": [], "big": []}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            measure(browser, servers["small"].url)  # warm the browser up
            for _ in range(arguments.rounds):
                for name, server in servers.items():
                    figures[name].append(measure(browser, server.url))
            browser.close()
        for server in servers.values():
            server.shutdown()
        print(
            f"\nserved page in Chromium, median of {arguments.rounds}:"
            f" {arguments.groups} groups against the 2-group seagull page"
        )
        print(f"  {'':32} {arguments.groups:>7} {'2':>7}  ratio")
        for name in figures["big"][0]:
            big_ms = 1000 * float(np.median([f[name] for f in figures["big"]]))
            small_ms = 1000 * float(np.median([f[name] for f in figures["small"]]))
            print(f"  {name:32} {big_ms:5.0f} ms {small_ms:5.0f} ms  {big_ms / small_ms:4.1f}x")


if __name__ == "__main__":
    main()
