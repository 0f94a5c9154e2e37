"""The HTML report (`scan --html`), loaded in a real headless Chromium: what it shows,
what the reader can change, and the plan it exports, applied with `simplugin apply`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SEAGULLS, need_program, run_simplugin
from simplugin import scan, sharpness, write

# As root (CI) Chromium needs --no-sandbox, which Playwright passes; these keep it from
# reaching for Google's services on a machine without a network.
QUIET_CHROMIUM = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = os.environ.get("SIMPLUGIN_SCREENSHOT")  # where to keep the README's screenshot


@pytest.fixture(scope="module")
def browser():
    chromium_program = need_program("chromium", "chromium")  # Debian's: Playwright downloads none
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_program, args=QUIET_CHROMIUM)
        yield chromium
        chromium.close()


class Report:
    """A report written by a real `simplugin scan --html`, open in a browser page."""

    def __init__(self, browser, library: Path, *options: str, cwd: Path | None = None):
        self.path = library.parent / "report.html"
        scanned = os.path.relpath(library, cwd) if cwd else str(library)
        self.scan = run_simplugin("scan", scanned, "--html", str(self.path), *options, cwd=cwd)
        assert self.scan.returncode == 0, self.scan.stderr
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.path.as_uri())
        self.page.wait_for_load_state("load")

    def groups(self):
        return self.page.locator("li.group")

    def card(self, name: str):
        """The card of the photo whose path holds `name` (not one that only mentions it)."""
        path = self.page.locator(".path", has_text=name)
        return self.page.locator("button.photo").filter(has=path)

    def summary(self) -> dict[str, str]:
        terms = self.page.locator("#summary dt").all_inner_texts()
        values = self.page.locator("#summary dd").all_inner_texts()
        return dict(zip(terms, values, strict=True))

    def export_plan(self, target: Path) -> dict:
        with self.page.expect_download() as download:
            self.page.get_by_role("button", name="Export plan").click()
        download.value.save_as(target)
        return json.loads(target.read_text())

    def wait_for_thumbnails(self) -> None:
        """Scroll through the page, so that every lazy thumbnail loads, and wait for them."""
        for index in range(self.page.locator("img").count()):
            self.page.locator("img").nth(index).scroll_into_view_if_needed()
        self.page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        self.page.evaluate("window.scrollTo(0, 0)")

    def images_loaded(self) -> list[dict]:
        return self.page.evaluate(
            "Array.from(document.images).map(i => ({src: i.currentSrc, width: i.naturalWidth,"
            " complete: i.complete}))"
        )


@pytest.fixture
def open_report(browser):
    opened = []

    def open_(library: Path, *options: str, cwd: Path | None = None) -> Report:
        report = Report(browser, library, *options, cwd=cwd)
        opened.append(report)
        return report

    yield open_
    for report in opened:
        report.page.close()
        assert report.errors == [], "the page's script failed"


def test_every_group_is_a_row_of_thumbnails_with_the_keeper_marked(open_report, library):
    report = open_report(library)
    report.wait_for_thumbnails()

    assert report.groups().count() == 2
    rows = [
        group.locator("button.photo .path").all_inner_texts() for group in report.groups().all()
    ]
    assert [[Path(p).name for p in row] for row in rows] == [
        ["seagull_6.jpeg", "seagull_5.jpeg"],
        ["seagull_1.jpeg", "seagull_3.jpeg", "seagull_4.jpeg"],
    ]
    images = report.images_loaded()
    assert len(images) == 5 and all(image["width"] > 0 for image in images)
    keepers = report.page.locator("button.photo.keep .path").all_inner_texts()
    assert [Path(p).name for p in keepers] == ["seagull_6.jpeg", "seagull_1.jpeg"]


def test_each_photo_shows_its_distance_resolution_size_date_and_path(open_report, library):
    report = open_report(library)
    card = report.card("seagull_4.jpeg").inner_text()

    assert "Distance 0.0596" in card  # to its keeper, seagull_1
    assert "768 × 1024" in card
    assert f"{(library / 'seagull_4.jpeg').stat().st_size / 1024:.1f} KiB" in card
    assert "No capture date" in card  # the seagulls have no EXIF
    assert str(library / "seagull_4.jpeg") in card


def test_the_capture_date_comes_from_the_exif(open_report, tmp_path):
    library = tmp_path / "dublin"
    shutil.copytree(Path(__file__).parent / "data" / "dublin-sample", library)
    report = open_report(library)

    assert "Taken 20" in report.card("airplane_1.jpg").inner_text()


def test_the_header_says_what_the_scan_found(open_report, library):
    (library / "broken.jpg").write_bytes(b"not a photo")
    report = open_report(library)

    summary = report.summary()
    freed = sum((library / f"seagull_{n}.jpeg").stat().st_size for n in (3, 4, 5))
    assert summary["Photos scanned"] == "6"
    assert summary["Groups shown"] == "2 of 2"
    assert summary["Duplicates to move"] == "3"
    assert summary["Space freed by moving them"] == f"{freed / 1024:.1f} KiB"
    assert summary["Skipped"] == "1"
    assert summary["Metric"] == "avgdiff, below 0.07"
    report.page.locator("#skipped summary").click()
    assert "broken.jpg: not an image that Pillow can read" in report.page.inner_text("#skipped")


def test_thumbnails_are_small_copies_beside_the_page_never_the_originals(open_report, library):
    report = open_report(library)
    report.wait_for_thumbnails()
    folder = library.parent / "report-thumbnails"

    for image in report.images_loaded():
        assert Path(image["src"].removeprefix("file://")).parent == folder
    thumbnails = sorted(set(folder.glob("*.jpg")) - set(folder.glob("*.full.jpg")))
    assert len(thumbnails) == 5
    for thumbnail in thumbnails:
        assert max(Image.open(thumbnail).size) <= 320
    # and the compare view's full-size previews: at most 2,048 pixels, photos in groups only
    previews = sorted(folder.glob("*.full.jpg"))
    assert len(previews) == 5
    for preview in previews:
        assert max(Image.open(preview).size) <= 2048
    assert (folder / "CACHEDIR.TAG").exists()  # so a later scan of the library skips them


def test_a_new_report_reuses_the_thumbnails_of_unchanged_photos(browser, library):
    Report(browser, library).page.close()
    folder = library.parent / "report-thumbnails"
    made = {path.name: path.stat().st_mtime_ns for path in folder.glob("*.jpg")}

    Report(browser, library).page.close()

    assert {path.name: path.stat().st_mtime_ns for path in folder.glob("*.jpg")} == made


def test_the_page_loads_nothing_but_itself_and_its_thumbnails(open_report, library):
    report = open_report(library)
    report.wait_for_thumbnails()

    assert report.requests
    assert all(url.startswith("file://") for url in report.requests), report.requests


def test_groups_can_be_filtered_by_folder(open_report, tmp_path):
    library = tmp_path / "library"
    for folder, photos in (("2023", (5, 6)), ("2024", (1, 3))):
        (library / folder).mkdir(parents=True)
        for number in photos:
            shutil.copy(SEAGULLS / f"seagull_{number}.jpeg", library / folder)
    report = open_report(library)

    report.page.fill("#filter-text", "2024")

    assert report.groups().count() == 1
    assert "seagull_1.jpeg" in report.groups().first.inner_text()
    assert report.page.inner_text("#shown-count") == "1 of 2 groups shown"


def test_groups_can_be_filtered_by_distance(open_report, library):
    report = open_report(library)

    report.page.fill("#filter-distance", "0.02")

    assert report.groups().count() == 1
    assert "seagull_5.jpeg" in report.groups().first.inner_text()


def test_clicking_a_photo_makes_it_the_keeper(open_report, library):
    report = open_report(library)

    report.card("seagull_3.jpeg").click()

    assert report.card("seagull_3.jpeg").get_attribute("aria-pressed") == "true"
    assert "Keep" in report.card("seagull_3.jpeg").inner_text()
    assert report.card("seagull_1.jpeg").get_attribute("aria-pressed") == "false"
    # Distances are now to seagull_3; the scan measured both pairs.
    assert "Distance 0.0378" in report.card("seagull_1.jpeg").inner_text()
    assert "Distance 0.0" in report.card("seagull_4.jpeg").inner_text()


def test_unticking_a_group_takes_its_duplicates_out_of_the_space_freed(open_report, library):
    report = open_report(library)
    size_5 = (library / "seagull_5.jpeg").stat().st_size
    before = report.summary()

    report.groups().first.locator("input.tick").uncheck()

    assert report.summary()["Duplicates to move"] == "2"
    assert float(before["Space freed by moving them"].split()[0]) - float(
        report.summary()["Space freed by moving them"].split()[0]
    ) == pytest.approx(size_5 / 1024, abs=0.11)


def test_the_exported_plan_is_what_the_reader_chose_and_apply_moves_it(
    open_report, library, tmp_path
):
    report = open_report(library)
    report.card("seagull_3.jpeg").click()
    report.groups().first.locator("input.tick").uncheck()  # leave seagull_5 and 6 alone

    plan = report.export_plan(tmp_path / "plan.json")

    assert plan["roots"] == [str(library)]
    seen = plan["files"][str(library / "seagull_4.jpeg")]
    assert seen == {
        "size": (library / "seagull_4.jpeg").stat().st_size,
        "mtime_ns": str((library / "seagull_4.jpeg").stat().st_mtime_ns),  # exact, as text
    }
    assert [
        (Path(g["keep"]).name, [Path(d).name for d in g["duplicates"]]) for g in plan["groups"]
    ] == [("seagull_3.jpeg", ["seagull_1.jpeg", "seagull_4.jpeg"])]
    moved = run_simplugin("apply", str(tmp_path / "plan.json"), "--move-to", str(tmp_path / "dest"))
    assert moved.returncode == 0, moved.stderr
    assert sorted(p.name for p in library.iterdir()) == [
        "seagull_2.jpeg",
        "seagull_3.jpeg",
        "seagull_5.jpeg",
        "seagull_6.jpeg",
    ]
    assert sorted(p.name for p in (tmp_path / "dest").glob("*.jpeg")) == [
        "seagull_1.jpeg",
        "seagull_4.jpeg",
    ]


def test_file_names_are_shown_as_text_never_run_as_html_or_script(open_report, tmp_path):
    library = tmp_path / "library"
    (library / "<").mkdir(parents=True)  # with the file below: a path holding "</script>"
    names = {
        5: library / "<" / "script>alert('folder')<script>.jpeg",
        6: library / "<img src=x onerror=alert(1)> \"quoted\" & 'single'.jpeg",
    }
    for number, path in names.items():
        shutil.copy(SEAGULLS / f"seagull_{number}.jpeg", path)
    report = open_report(library)

    assert report.dialogs == []
    assert report.page.locator("img[src='x']").count() == 0
    shown = report.page.locator("button.photo .path").all_inner_texts()
    assert sorted(shown) == sorted(str(path) for path in names.values())


def test_an_exif_date_cannot_inject_html_either(open_report, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    for number in (5, 6):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = "2023:05:01 10:00:00<img src=x onerror=alert(1)>"
        exif.get_ifd(0x8769)[0x9011] = "<script>alert(2)</script>"  # OffsetTimeOriginal
        Image.open(SEAGULLS / f"seagull_{number}.jpeg").save(library / f"{number}.jpg", exif=exif)
    report = open_report(library)

    assert report.dialogs == []
    assert report.page.locator("img[src='x']").count() == 0
    assert "Taken 2023-05-01 10:00:00\n" in report.card("5.jpg").inner_text() + "\n"


def test_a_scan_without_near_duplicates_says_so(open_report, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(SEAGULLS / "seagull_2.jpeg", library)
    report = open_report(library)

    assert report.groups().count() == 0
    assert report.page.inner_text("#empty") == "No near-duplicates were found."


def test_a_folder_of_the_users_is_never_taken_for_the_thumbnails(library, tmp_path):
    theirs = tmp_path / "report-thumbnails"
    theirs.mkdir()
    (theirs / "holiday.jpg").write_bytes((SEAGULLS / "seagull_2.jpeg").read_bytes())

    run = run_simplugin("scan", str(library), "--html", str(tmp_path / "report.html"))

    assert run.returncode == 3
    assert f"{theirs} exists and is not a thumbnail folder of simplugin's" in run.stderr
    assert os.listdir(theirs) == ["holiday.jpg"]
    assert not (tmp_path / "report.html").exists()


def test_a_name_that_is_not_utf8_survives_the_page_and_the_plan(open_report, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    odd = os.fsdecode(b"caf\xe9.jpeg")  # Latin-1 bytes, as old cameras and Windows wrote
    shutil.copy(SEAGULLS / "seagull_5.jpeg", library / odd)
    shutil.copy(SEAGULLS / "seagull_6.jpeg", library / "plain.jpeg")
    report = open_report(library)
    keeper = report.page.locator("button.photo.keep .path").inner_text()
    if keeper.endswith("plain.jpeg"):
        report.card("caf").click()  # keep the odd one: the plain one moves

    plan = report.export_plan(tmp_path / "plan.json")
    moved = run_simplugin("apply", str(tmp_path / "plan.json"), "--move-to", str(tmp_path / "dest"))

    assert moved.returncode == 0, moved.stderr
    assert os.listdir(library) == [odd]
    assert plan["groups"][0]["keep"] == str(library / odd)


def test_a_large_report_adds_groups_and_loads_thumbnails_as_the_reader_scrolls(
    open_report, tmp_path
):
    library = tmp_path / "library"
    library.mkdir()
    generator = np.random.default_rng(7)
    for number in range(150):  # 150 pairs: a photo and a slightly brighter copy
        blocks = generator.integers(0, 250, (4, 4, 3), dtype=np.uint8)
        pixels = blocks.repeat(12, axis=0).repeat(16, axis=1)  # unlike any other pair
        Image.fromarray(pixels).save(library / f"p{number:03}a.png")
        Image.fromarray(pixels + 3).save(library / f"p{number:03}b.png")
    report = open_report(library)
    report.page.wait_for_function("document.images[0].complete")

    def thumbnails_requested() -> int:
        return sum("/report-thumbnails/" in url for url in report.requests)

    rendered = report.groups().count()
    assert rendered < 150  # the rest are added on scrolling
    assert 0 < thumbnails_requested() < 2 * rendered  # the others wait until in view
    for _ in range(50):
        report.page.keyboard.press("End")
        if report.groups().count() == 150:
            break
        report.page.wait_for_timeout(200)
    assert report.groups().count() == 150


def test_a_screenshot_of_the_report_shows_the_photos(open_report, library, tmp_path):
    report = open_report(library, cwd=library.parent)
    report.wait_for_thumbnails()
    target = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "report.png"

    report.page.screenshot(path=target, full_page=True)

    shot = np.asarray(Image.open(target).convert("RGB"))
    assert shot.shape[1] == 1200
    assert shot.std() > 20  # photos, not a blank page
    keep_green = np.all(shot == (0x1F, 0x9D, 0x55), axis=2)
    assert keep_green.sum() > 1000  # the keepers' frames are drawn


def test_a_photo_gone_since_the_scan_is_shown_without_a_thumbnail(browser, library, capfd):
    result = scan(library)
    (library / "seagull_4.jpeg").unlink()

    write(result, "html", path=str(library.parent / "report.html"))

    assert f"no thumbnail for {library / 'seagull_4.jpeg'}: " in capfd.readouterr().err
    page = browser.new_page()
    page.goto((library.parent / "report.html").as_uri())
    card = page.locator("button.photo", has_text="seagull_4.jpeg").inner_text()
    assert "No thumbnail: No such file or directory" in card
    assert page.locator("img").count() == 4
    page.close()


def test_the_report_needs_a_file_name_not_stdout(library):
    run = run_simplugin("scan", str(library), "--html", "-")

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: sink 'html' option 'path': the report is a file with its"
        " thumbnails beside it: give a file name\n"
    )


def test_an_identical_copy_of_the_keeper_says_so(open_report, library):
    shutil.copyfile(library / "seagull_1.jpeg", library / "seagull_1 copy.jpeg")
    report = open_report(library)
    one, copy = report.card("seagull_1.jpeg"), report.card("seagull_1 copy.jpeg")
    duplicate = copy if one.get_attribute("aria-pressed") == "true" else one

    assert "Distance 0.0000 · identical copy" in duplicate.inner_text()
    assert "identical copy" not in report.card("seagull_3.jpeg").inner_text()
    # Against another keeper, neither copy is a copy of it.
    report.card("seagull_3.jpeg").click()
    assert "identical copy" not in one.inner_text() + copy.inner_text()


def test_a_photo_grouped_through_another_names_it_and_follows_the_chosen_keeper(
    open_report, library
):
    # At 0.058, 1-3 and 3-4 are pairs, 1-4 is not: seagull_4 is grouped through seagull_3.
    report = open_report(library, "--threshold", "0.058")

    assert f"via {library / 'seagull_3.jpeg'}" in report.card("seagull_4.jpeg").inner_text()
    assert "via" not in report.card("seagull_3.jpeg").inner_text()
    # Keep seagull_3 instead: both others are now its own near-duplicates.
    report.card("seagull_3.jpeg").click()
    assert "via" not in report.card("seagull_4.jpeg").inner_text()
    assert "via" not in report.card("seagull_1.jpeg").inner_text()
    # Keep seagull_4: seagull_1 is in the group through seagull_3.
    report.card("seagull_4.jpeg").click()
    assert f"via {library / 'seagull_3.jpeg'}" in report.card("seagull_1.jpeg").inner_text()


def test_a_group_the_filter_hides_is_left_out_of_the_counts_and_the_exported_plan(
    open_report, library, tmp_path
):
    report = open_report(library)

    report.page.fill("#filter-text", "seagull_1")  # only the group of seagull 1, 3 and 4

    summary = report.summary()
    assert summary["Groups shown"] == "1 of 2"
    assert summary["Duplicates to move"] == "2"
    plan = report.export_plan(tmp_path / "plan.json")
    assert [Path(g["keep"]).name for g in plan["groups"]] == ["seagull_1.jpeg"]
    moved = run_simplugin("apply", str(tmp_path / "plan.json"), "--move-to", str(tmp_path / "dest"))
    assert moved.returncode == 0, moved.stderr
    assert sorted(p.name for p in (tmp_path / "dest").glob("*.jpeg")) == [
        "seagull_3.jpeg",
        "seagull_4.jpeg",
    ]
    assert (library / "seagull_5.jpeg").exists()


def test_the_readers_choices_survive_a_reload_of_the_page(open_report, library, tmp_path):
    report = open_report(library)
    report.card("seagull_3.jpeg").click()  # keep seagull 3
    report.groups().first.locator("input.tick").uncheck()  # leave seagull 5 and 6 alone
    seagull_4 = report.page.locator(".member").filter(has=report.card("seagull_4.jpeg"))
    seagull_4.get_by_role("button", name="Not a duplicate of the others").click()

    report.page.reload()
    report.page.wait_for_load_state("load")

    assert report.card("seagull_3.jpeg").get_attribute("aria-pressed") == "true"
    assert not report.groups().first.locator("input.tick").is_checked()
    assert report.card("seagull_4.jpeg").count() == 0
    plan = report.export_plan(tmp_path / "plan.json")
    assert [
        (Path(g["keep"]).name, [Path(d).name for d in g["duplicates"]]) for g in plan["groups"]
    ] == [("seagull_3.jpeg", ["seagull_1.jpeg"])]
    assert sorted(p.name for p in library.iterdir()) == [f"seagull_{n}.jpeg" for n in range(1, 7)]


def test_a_group_marked_not_a_duplicate_is_hidden_and_left_out_of_the_plan(
    open_report, library, tmp_path
):
    report = open_report(library)

    report.groups().first.get_by_role("button", name="Not a duplicate", exact=True).click()

    assert report.groups().count() == 1
    assert report.summary()["Groups shown"] == "1 of 2"
    assert report.page.inner_text("#shown-count") == "1 of 2 groups shown"
    plan = report.export_plan(tmp_path / "plan.json")
    assert [Path(g["keep"]).name for g in plan["groups"]] == ["seagull_1.jpeg"]
    report.page.get_by_role("button", name="Show the 1 group marked not a duplicate again").click()
    assert report.groups().count() == 2


def test_the_closest_figure_of_the_page_is_the_text_reports(open_report, library):
    # Keeping seagull 4, the closest pair of its group (1-3) does not involve the keeper.
    keep = f"path:{library / 'seagull_4.jpeg'}"
    report = open_report(library, "--threshold", "0.058", "--keep", keep)

    text = run_simplugin("scan", str(library), "--threshold", "0.058", "--keep", keep).stdout
    printed = [line.split("closest ")[-1] for line in text.splitlines() if line.startswith("Group")]
    titles = report.page.locator("li.group h2").all_inner_texts()
    shown = [title.split("closest ")[-1].split()[0] for title in titles]
    assert printed == shown == ["0.0159", "0.0378"]


def test_a_long_file_name_wraps_between_its_parts_not_inside_a_word(open_report, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    long_name = "_".join(["holiday", "in", "scotland"] * 5 + ["seagull"])
    for number, name in ((5, long_name + "_one.jpeg"), (6, long_name + "_two.jpeg")):
        shutil.copy(SEAGULLS / f"seagull_{number}.jpeg", library / name)
    report = open_report(library)

    lines = report.page.locator(".path").first.evaluate(LINES_OF)

    assert len(lines) > 2
    assert all(line[-1] in "/_-." for line in lines[:-1]), lines


# The text of each line an element is laid out in, from where each character is drawn.
LINES_OF = """(element) => {
  const lines = [];
  let top = null;
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const y = Math.round(range.getBoundingClientRect().top);
      if (y !== top) lines.push("");
      top = y;
      lines[lines.length - 1] += node.data[i];
    }
  }
  return lines;
}"""


def test_a_twelve_megapixel_photos_preview_is_its_half_scale_decode_with_the_keepers_figure(
    tmp_path,
):
    """A 4032 x 3024 JPEG is decoded at 1/2 (2016 x 1512), not in full, for its preview
    and sharpness figure; the figure is the one `--keep sharpest` ranks by."""
    library = tmp_path / "burst"
    library.mkdir()
    with Image.open(SEAGULLS / "seagull_1.jpeg") as seagull:
        scene = np.asarray(seagull.convert("RGB").resize((4032, 3024)), dtype=np.int16)
    for number in range(2):
        pixels = np.clip(scene + 4 * number, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(library / f"IMG_{number}.jpg", quality=90)

    run = run_simplugin("scan", str(library), "--html", str(tmp_path / "report.html"))

    assert run.returncode == 0, run.stderr
    folder = tmp_path / "report-thumbnails"
    previews = sorted(folder.glob("*.full.jpg"))
    assert [Image.open(preview).size for preview in previews] == [(2016, 1512)] * 2
    figures = set()
    for preview in previews:
        with Image.open(str(preview).removesuffix(".full.jpg") + ".jpg") as thumbnail:
            figures.add(float(thumbnail.info["comment"].split()[-1]))
    assert figures == {sharpness(str(library / f"IMG_{n}.jpg")) for n in range(2)}
