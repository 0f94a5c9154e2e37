"""The report's compare view and its keys, in a real headless Chromium: a group's photos
side by side at full size, zoomed to 100 % and panned together, flipped in one frame,
with each photo's figures (sharpness among them); and every key the page lists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageFilter
from test_html_report import Report, browser  # noqa: F401  (the fixture: Debian's Chromium)
from test_review_server import Review

from conftest import SEAGULLS

SCREENSHOT = os.environ.get("SIMPLUGIN_COMPARE_SCREENSHOT")  # the README's, when given


@pytest.fixture
def burst(tmp_path: Path) -> Path:
    """A seagull, and a bigger, blurred copy of it: one group of two."""
    folder = tmp_path / "burst"
    folder.mkdir()
    shutil.copy2(SEAGULLS / "seagull_1.jpeg", folder / "seagull_1.jpeg")
    with Image.open(SEAGULLS / "seagull_1.jpeg") as image:
        bigger = image.resize((image.width * 5 // 4, image.height * 5 // 4))
        bigger.filter(ImageFilter.GaussianBlur(2)).save(folder / "seagull_1-blurred.jpeg")
    return folder


@pytest.fixture
def opened(browser, burst):  # noqa: F811
    report = Report(browser, burst, cwd=burst.parent)  # paths shown as burst/NAME
    report.page.set_viewport_size({"width": 1000, "height": 700})
    yield report
    report.page.close()
    assert report.errors == [], "the page's script failed"


def open_compare(page) -> None:
    page.get_by_role("button", name="Compare", exact=True).first.click()


def shown_images(page) -> list[dict]:
    """The compare view's photos as the browser has them."""
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#compare img')).every(i => i.complete)"
    )
    return page.evaluate(
        "Array.from(document.querySelectorAll('#compare .pane')).map(pane => {"
        " const image = pane.querySelector('img'); const box = image.getBoundingClientRect();"
        " return {member: Number(pane.dataset.member), visible: !pane.hidden,"
        " natural: image.naturalWidth, width: box.width, src: image.currentSrc,"
        " x: pane.getBoundingClientRect().x, text: pane.innerText}})"
    )


def pans(page) -> list[list[float]]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('#compare .viewport')).map(v =>"
        " [v.scrollLeft / (v.scrollWidth - v.clientWidth),"
        " v.scrollTop / (v.scrollHeight - v.clientHeight)])"
    )


def test_compare_shows_the_groups_photos_side_by_side_at_full_size_with_their_figures(opened):
    open_compare(opened.page)

    images = shown_images(opened.page)
    # the keeper first: the blurred copy, the largest
    assert [image["natural"] for image in images] == [960, 768]  # the photos' own widths
    assert images[0]["x"] < images[1]["x"]  # side by side
    blurred, sharp = images
    assert "768 × 1024" in sharp["text"] and "960 × 1280" in blurred["text"]
    assert "KiB" in sharp["text"] and "No capture date" in sharp["text"]
    assert "Camera not recorded" in sharp["text"]
    assert "(sharpest)" in sharp["text"] and "(sharpest)" not in blurred["text"]
    figure = int(sharp["text"].split("Sharpness ")[1].split()[0].replace(",", ""))
    assert figure > 0


def test_zoom_shows_100_percent_and_panning_one_photo_pans_both(opened):
    open_compare(opened.page)
    shown_images(opened.page)

    opened.page.get_by_role("button", name="Fit / 100 % (z)").click()
    images = shown_images(opened.page)
    assert [image["width"] for image in images] == [960, 768]  # one photo pixel a CSS pixel
    assert pans(opened.page) == [[pytest.approx(0.5, abs=0.01)] * 2] * 2  # at the middle

    first = opened.page.locator("#compare .viewport").first.bounding_box()
    middle = (first["x"] + first["width"] / 2, first["y"] + first["height"] / 2)
    opened.page.mouse.move(*middle)
    opened.page.mouse.down()
    opened.page.mouse.move(middle[0] + 60, middle[1] + 90, steps=5)
    opened.page.mouse.up()

    (x1, y1), (x2, y2) = pans(opened.page)
    assert x1 < 0.5 and y1 < 0.5  # dragged right and down: the view moved up and left
    assert abs(x2 - x1) < 0.01 and abs(y2 - y1) < 0.01  # the other photo followed


def test_flip_shows_one_photo_then_the_other_in_the_same_frame(opened):
    open_compare(opened.page)
    shown_images(opened.page)

    opened.page.keyboard.press("f")
    first = [image for image in shown_images(opened.page) if image["visible"]]
    opened.page.keyboard.press("f")
    second = [image for image in shown_images(opened.page) if image["visible"]]

    assert [image["member"] for image in first] == [0]
    assert [image["member"] for image in second] == [1]
    assert first[0]["x"] == second[0]["x"]  # the same frame
    opened.page.keyboard.press("s")
    assert all(image["visible"] for image in shown_images(opened.page))


def test_the_served_compare_view_shows_the_originals_and_nothing_else(browser, burst, tmp_path):  # noqa: F811
    review = Review(burst, tmp_path)
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    try:
        page.goto(review.url)
        open_compare(page)
        images = shown_images(page)
        assert [image["natural"] for image in images] == [960, 768]
        assert all("/photos/" in image["src"] for image in images)
        path = images[0]["src"].split(review.host + f":{review.port}")[1]
        status, body = review.request("GET", path)
        assert status == 200 and body == (burst / "seagull_1-blurred.jpeg").read_bytes()
        made_up = path.rsplit("/", 1)[0] + "/aaaaaaaaaaaaaaaaaaaaaaaa"
        assert review.request("GET", made_up)[0] == 404
        assert review.request("GET", f"/{review.token}/photos/{burst}/seagull_1.jpeg")[0] == 404
        status, _ = review.request("GET", path.replace(review.token, "wrong-token"))
        assert status == 403
    finally:
        page.close()
        review.end()


def test_a_screenshot_of_the_compare_view_shows_both_photos(opened, tmp_path):
    open_compare(opened.page)
    shown_images(opened.page)
    target = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "compare.png"

    opened.page.screenshot(path=target)

    shot = Image.open(target).convert("L")
    assert shot.size == (1000, 700)
    left, right = shot.crop((0, 100, 500, 600)), shot.crop((500, 100, 1000, 600))
    assert min(left.getextrema()[1] - left.getextrema()[0], right.getextrema()[1]) > 50
