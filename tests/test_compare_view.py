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
    # decode() waits for each photo (wait_for_function's polling would need an eval,
    # which the page's Content-Security-Policy refuses)
    page.locator("#compare img").evaluate_all("all => Promise.all(all.map(i => i.decode()))")
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


@pytest.fixture
def report(browser, library):  # noqa: F811
    """The seagulls' report: a group of two photos, then a group of three."""
    opened = Report(browser, library, cwd=library.parent)
    yield opened
    opened.page.close()
    assert opened.errors == [], "the page's script failed"


def focused(page) -> dict:
    return page.evaluate(
        "(() => { const card = document.activeElement;"
        " const item = card.closest('li.group'); const style = getComputedStyle(card);"
        " return {group: item && Number(item.dataset.group), member: card.dataset.member"
        " && Number(card.dataset.member), keep: card.classList.contains('keep'),"
        " outline: style.outlineStyle, width: parseFloat(style.outlineWidth)} })()"
    )


def test_j_and_k_go_from_group_to_group_and_l_and_h_from_photo_to_photo(report):
    keys = report.page.keyboard
    keys.press("j")
    assert focused(report.page)["group"] == 0
    keys.press("j")
    assert (focused(report.page)["group"], focused(report.page)["keep"]) == (1, True)
    keys.press("k")
    assert (focused(report.page)["group"], focused(report.page)["member"]) == (0, 0)
    keys.press("j")
    keys.press("l")
    keys.press("ArrowRight")
    assert (focused(report.page)["group"], focused(report.page)["member"]) == (1, 2)
    keys.press("h")
    assert focused(report.page)["member"] == 1
    keys.press("ArrowLeft")
    assert focused(report.page)["member"] == 0


def test_the_focus_is_always_drawn(report):
    report.page.keyboard.press("j")
    report.page.keyboard.press("l")

    shown = focused(report.page)
    assert shown["outline"] != "none" and shown["width"] >= 2


def test_enter_or_space_keeps_the_focused_photo_and_the_focus_stays_on_it(report):
    keys = report.page.keyboard
    keys.press("j")
    keys.press("j")
    keys.press("l")
    keys.press("Enter")
    assert focused(report.page) | {"outline": "", "width": 0} == {
        "group": 1,
        "member": 1,
        "keep": True,
        "outline": "",
        "width": 0,
    }
    keys.press("l")
    keys.press(" ")
    assert (focused(report.page)["member"], focused(report.page)["keep"]) == (2, True)
    assert report.page.locator("li.group").nth(1).locator(".photo.keep").count() == 1


def test_u_unticks_the_group_and_n_says_not_a_duplicate(report):
    before = report.summary()["Duplicates to move"]
    keys = report.page.keyboard
    keys.press("j")
    keys.press("j")
    keys.press("u")
    assert report.page.locator("li.group").nth(1).get_attribute("class") == "group unticked"
    assert report.summary()["Duplicates to move"] == str(int(before) - 2)
    keys.press("u")
    assert report.summary()["Duplicates to move"] == before

    keys.press("n")  # the second group is no duplicate: it leaves the page and the plan
    assert report.page.locator("li.group").count() == 1
    assert report.summary()["Duplicates to move"] == "1"


def test_c_opens_compare_where_z_zooms_f_flips_digits_pick_and_esc_closes(report):
    keys = report.page.keyboard
    keys.press("j")
    keys.press("j")
    keys.press("c")
    assert len(shown_images(report.page)) == 3
    keys.press("z")
    assert [image["width"] for image in shown_images(report.page)] == [768] * 3
    keys.press("f")
    assert [i["member"] for i in shown_images(report.page) if i["visible"]] == [0]
    keys.press("f")
    assert [i["member"] for i in shown_images(report.page) if i["visible"]] == [1]
    keys.press("3")
    assert [i["member"] for i in shown_images(report.page) if i["visible"]] == [2]
    keys.press("f")  # back to the one shown before
    assert [i["member"] for i in shown_images(report.page) if i["visible"]] == [1]
    keys.press("s")
    assert all(image["visible"] for image in shown_images(report.page))
    keys.press("k")  # the previous group's compare view
    assert len(shown_images(report.page)) == 2
    keys.press("Escape")
    assert report.page.locator("#compare").count() == 0
    assert focused(report.page)["group"] == 1  # back where the compare view was opened


def test_question_mark_lists_the_keys_in_the_page(report):
    report.page.keyboard.press("?")

    keys = report.page.locator("dialog#keys")
    assert keys.is_visible()
    listed = keys.locator("kbd").all_inner_texts()
    for key in ("j", "k", "→ or l", "← or h", "Enter or Space", "n", "u", "c", "z", "f", "?"):
        assert key in listed
    assert "not a duplicate" in keys.inner_text()
    report.page.keyboard.press("Escape")
    assert not keys.is_visible()


def test_keys_typed_in_the_filter_stay_in_the_filter(report):
    report.page.locator("#filter-text").fill("")
    report.page.locator("#filter-text").press_sequentially("jk")

    assert report.page.locator("#filter-text").input_value() == "jk"
    assert report.page.evaluate("document.activeElement.id") == "filter-text"
