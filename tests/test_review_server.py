"""`simplugin review` serves its page from a local server: run as a real process, the page
driven in a real headless Chromium (moving duplicates to a folder, undoing it), and the
server's refusals proven with real HTTP requests."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from test_html_report import browser  # noqa: F401  (the fixture: Debian's Chromium)

from conftest import SEAGULLS, run_simplugin
from simplugin.review import BODY_LIMIT, IDLE_VARIABLE, TOKEN_HEADER

ROOT = Path(__file__).parents[1]


class Review:
    """`simplugin review LIBRARY --no-open` running as a process of its own, serving."""

    def __init__(
        self, library: Path, folders: Path, idle: float | None = None, data_home=None, cache=None
    ):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "XDG_CACHE_HOME": str(cache or folders / "cache"),
            "XDG_CONFIG_HOME": str(folders / "config"),
            "XDG_STATE_HOME": str(folders / "state"),  # where trash runs keep their journals
            # the trash and the ignore list: the test's own (conftest.py), or the review's
            "XDG_DATA_HOME": str(data_home or folders / "share"),
        }
        if idle is not None:
            env[IDLE_VARIABLE] = str(idle)
        self.folders = folders
        self.data_home = Path(env["XDG_DATA_HOME"])  # the trash, the ignore list
        self.stderr_path = folders / "stderr.txt"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "simplugin", "review", "--no-open", str(library)],
                cwd=folders,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.url = ""
        for line in self.process.stdout:
            if line.startswith("http://"):
                self.url = line.strip()
                break
        assert self.url, self.stderr()
        address = urllib.parse.urlsplit(self.url)
        self.host, self.port = address.hostname, address.port
        self.token = address.path.strip("/")

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str):
        """A raw HTTP request: the path and headers exactly as given."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            headers = {name.replace("_", "-"): value for name, value in headers.items()}
            headers.setdefault("Host", f"{self.host}:{self.port}")
            for name, value in headers.items():
                connection.putheader(name, value)
            if body is not None and "Content-Length" not in headers:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def action(self, name: str, request: dict, **headers: str):
        """A POST as the page sends it, with `headers` changed."""
        sent = {
            "Origin": f"http://{self.host}:{self.port}",
            "Content-Type": "application/json",
            TOKEN_HEADER: self.token,
            **headers,
        }
        sent = {name: value for name, value in sent.items() if value is not None}
        return self.request(
            "POST", f"/{self.token}/api/{name}", json.dumps(request).encode(), **sent
        )

    def end(self, sent: int | None = signal.SIGINT) -> int:
        if sent is not None and self.process.poll() is None:
            self.process.send_signal(sent)
        code = self.process.wait(timeout=60)
        self.process.stdout.close()
        return code


@pytest.fixture
def start_review(tmp_path):
    started = []

    def start(library: Path, idle: float | None = None) -> Review:
        review = Review(library, tmp_path, idle, data_home=os.environ["XDG_DATA_HOME"])
        started.append(review)
        return review

    yield start
    for review in started:
        review.end()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One review, to send requests to."""
    folders = tmp_path_factory.mktemp("served")
    library = folders / "library"
    shutil.copytree(SEAGULLS, library)
    review = Review(library, folders)
    yield review
    review.end()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith("simplugin-journal-")
    }


# --- the page ----------------------------------------------------------------------------


def test_the_page_moves_the_chosen_duplicates_to_a_folder_and_undo_puts_them_back(
    browser,  # noqa: F811
    start_review,
    library,
    tmp_path,
):
    before = snapshot(library)
    review = start_review(library)
    page = browser.new_page()
    errors, proposed = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    destination = tmp_path / "moved"

    def answer(dialog):
        proposed.append(dialog.default_value)
        dialog.accept(str(destination))

    page.on("dialog", answer)
    page.goto(review.url)
    groups = page.locator("li.group")
    groups.nth(0).locator("input.tick").uncheck()  # seagull 6 and 5 stay as they are
    card = page.locator("button.photo").filter(has=page.locator(".path", has_text="seagull_3"))
    card.click()  # keep seagull 3 rather than seagull 1
    page.get_by_role("button", name="Move to folder…").click()
    page.get_by_role("button", name="Undo this move").wait_for()

    assert proposed == [str(library.parent / "near-duplicates")]
    assert sorted(snapshot(library)) == [
        "seagull_2.jpeg",
        "seagull_3.jpeg",
        "seagull_5.jpeg",
        "seagull_6.jpeg",
    ]
    assert snapshot(destination) == {
        name: before[name] for name in ("seagull_1.jpeg", "seagull_4.jpeg")
    }
    moved = page.locator("button.photo.moved .path").all_inner_texts()
    assert sorted(Path(path).name for path in moved) == ["seagull_1.jpeg", "seagull_4.jpeg"]
    assert "moved 2 files" in page.locator("#outcome").inner_text()

    page.get_by_role("button", name="Undo this move").click()
    page.locator("#outcome", has_text="put back").wait_for()

    assert snapshot(library) == before
    assert snapshot(destination) == {}
    assert page.locator("button.photo.moved").count() == 0
    page.close()
    assert errors == []


def open_page(browser, review, answers=None):  # noqa: F811
    """The review's page in the browser; dialogs answered with `answers` (a folder),
    or accepted (a confirmation)."""
    page = browser.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept(*([answers] if answers else [])))
    page.goto(review.url)
    return page


def test_the_page_moves_the_duplicates_to_the_trash_and_undo_puts_them_back(
    browser,  # noqa: F811
    start_review,
    library,
):
    before = snapshot(library)
    review = start_review(library)
    page = open_page(browser, review)
    trash = review.data_home / "Trash"

    page.get_by_role("button", name="Move to trash").click()
    page.get_by_role("button", name="Undo this move").wait_for()

    assert sorted(snapshot(library)) == ["seagull_1.jpeg", "seagull_2.jpeg", "seagull_6.jpeg"]
    trashed = {
        name: before[name] for name in ("seagull_3.jpeg", "seagull_4.jpeg", "seagull_5.jpeg")
    }
    assert snapshot(trash / "files") == trashed
    assert len(list((review.folders / "state" / "simplugin" / "journals").iterdir())) == 1
    marked = page.locator("button.photo.moved .path").all_inner_texts()
    assert sorted(Path(path).name for path in marked) == sorted(trashed)

    page.get_by_role("button", name="Undo this move").click()
    page.locator("#outcome", has_text="put back").wait_for()

    assert snapshot(library) == before
    assert snapshot(trash / "files") == {}
    assert page.locator("button.photo.moved").count() == 0
    page.close()
    assert page.errors == []


def test_not_a_duplicate_on_the_page_leaves_those_pairs_out_of_later_scans(
    browser,  # noqa: F811
    start_review,
    library,
):
    before = snapshot(library)
    review = start_review(library)
    page = open_page(browser, review)

    page.locator("li.group").first.get_by_role("button", name="Not a duplicate", exact=True).click()
    page.locator("#outcome", has_text="marked 1 pair").wait_for()
    assert page.locator("li.group").count() == 1  # seagull 6 and 5: hidden
    seagull_4 = page.locator(".member").filter(has=page.locator(".path", has_text="seagull_4"))
    seagull_4.get_by_role("button", name="Not a duplicate of the others").click()
    page.locator("#outcome", has_text="marked 2 pairs").wait_for()
    assert page.locator(".path", has_text="seagull_4").count() == 0

    assert snapshot(library) == before
    later = run_simplugin("scan", str(library))
    groups = [
        sorted(Path(line.split()[1]).name for line in group.splitlines()[1:])
        for group in later.stdout.split("\n\n")
    ]
    assert groups == [["seagull_1.jpeg", "seagull_3.jpeg"]]
    page.close()
    assert page.errors == []


def test_a_group_the_filter_hides_is_not_moved(
    browser,  # noqa: F811
    start_review,
    library,
    tmp_path,
):
    before = snapshot(library)
    review = start_review(library)
    destination = tmp_path / "moved"
    page = open_page(browser, review, answers=str(destination))

    page.fill("#filter-text", "seagull_1")  # hides the group of seagull 6 and 5
    page.get_by_role("button", name="Move to folder…").click()
    page.get_by_role("button", name="Undo this move").wait_for()

    assert sorted(snapshot(destination)) == ["seagull_3.jpeg", "seagull_4.jpeg"]
    assert snapshot(library)["seagull_5.jpeg"] == before["seagull_5.jpeg"]
    page.close()
    assert page.errors == []


def test_ctrl_c_ends_the_review_with_130(start_review, library):
    review = start_review(library)

    assert review.end(signal.SIGINT) == 130


def test_a_review_whose_page_is_closed_ends_by_itself_with_0(start_review, library):
    review = start_review(library, idle=0.5)  # no page ever asks: closed from the start

    assert review.end(sent=None) == 0
    assert "the review page has been closed" in review.stderr()


def test_review_never_moves_anything_until_the_page_asks(start_review, library):
    before = snapshot(library)
    review = start_review(library)

    assert review.end() == 130
    assert snapshot(library) == before


# --- what the server serves, and what it refuses -------------------------------------------


def test_the_page_and_its_thumbnails_are_served_with_the_token(served):
    status, page = served.request("GET", f"/{served.token}/")
    assert status == 200 and b"Near-duplicate photos" in page
    assert b"connect-src 'self'" in page  # the static report's policy says 'none'

    data = json.loads(page.split(b'id="scan-data" type="application/json">')[1].split(b"</")[0])
    thumbnail = data["groups"][0]["members"][0]["thumbnail"]["src"]
    status, image = served.request("GET", f"/{served.token}/{thumbnail}")
    assert status == 200 and image.startswith(b"\xff\xd8")  # a JPEG


def test_a_heartbeat_from_the_page_is_answered(served):
    status, answer = served.action("heartbeat", {})

    assert status == 200 and json.loads(answer)["every"] > 0


@pytest.mark.parametrize(
    "path",
    ["/", "/report.html", "/{token}x/", "/x{token}/", "/{short}/", "/{token}"],
    ids=["no token", "a file without token", "longer", "shifted", "shorter", "no slash"],
)
def test_a_request_without_the_right_token_is_refused(served, path):
    path = path.format(token=served.token, short=served.token[:-1])

    assert served.request("GET", path)[0] == 403


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1", "127.0.0.1:1", "localhost.evil.example:{port}"]
)
def test_a_request_for_another_host_is_refused_as_dns_rebinding(served, host):
    host = host.format(port=served.port)

    assert served.request("GET", f"/{served.token}/", Host=host)[0] == 403
    assert served.action("heartbeat", {}, Host=host)[0] == 403


def test_localhost_at_the_port_is_the_same_server(served):
    host = f"localhost:{served.port}"

    assert served.request("GET", f"/{served.token}/", Host=host)[0] == 200
    assert served.action("heartbeat", {}, Host=host, Origin=f"http://{host}")[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": None},
        {"Origin": "null"},
        {TOKEN_HEADER: None},
        {TOKEN_HEADER: "wrong"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ],
    ids=[
        "foreign origin",
        "no origin",
        "opaque origin",
        "no token header",
        "wrong token header",
        "plain text",
        "a form",
    ],
)
def test_an_action_not_from_the_page_itself_is_refused(served, headers):
    assert served.action("heartbeat", {}, **headers)[0] == 403


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
def test_an_action_by_another_method_than_post_is_refused(served, method):
    status, _ = served.request(method, f"/{served.token}/api/move")

    assert status == 405


@pytest.mark.parametrize(
    "path",
    [
        "../report.html",
        "report.html",
        "..%2freport.html",
        "%2e%2e/report.html",
        "/etc/passwd",
        "report-thumbnails/../report.html",
        "report-thumbnails%2f..%2f..%2freport.html",
        "report-thumbnails/CACHEDIR.TAG",
        "report-thumbnails//etc/passwd",
        "api/heartbeat/../../report.html",
    ],
)
def test_a_path_in_a_request_never_reaches_the_file_system(served, path):
    assert served.request("GET", f"/{served.token}/{path}")[0] == 404


def test_undo_takes_only_an_action_of_this_server_never_a_journal(served, tmp_path):
    journal = tmp_path / "simplugin-journal-20260101-000000.jsonl"
    journal.write_text("{}\n")

    assert served.action("undo", {"action": str(journal)})[0] == 404
    assert served.action("undo", {"journal": str(journal)})[0] == 404
    assert served.action("undo", {"action": [str(journal)]})[0] == 404


def test_a_body_larger_than_a_plan_is_refused_unread(served):
    status, _ = served.request(
        "POST",
        f"/{served.token}/api/move",
        body=b"",
        Origin=f"http://{served.host}:{served.port}",
        Content_Type="application/json",
        Content_Length=str(BODY_LIMIT + 1),
        **{TOKEN_HEADER: served.token},
    )

    assert status == 413


def test_a_move_into_a_relative_folder_is_refused(served):
    status, answer = served.action("move", {"plan": {"groups": []}, "folder": "moved"})

    assert status == 400 and "full path" in json.loads(answer)["error"]


@pytest.mark.parametrize(
    "request_",
    [
        {"group": "/etc/passwd"},
        {"paths": ["/etc/passwd", "/etc/hosts"]},
        {"group": 99},
        {"group": -1},
        {"group": True},
        {"group": 0, "apart": "/etc/passwd"},
        {"group": 0, "apart": 7},
    ],
    ids=["a path as group", "paths", "no such group", "negative", "true", "a path", "no photo"],
)
def test_not_a_duplicate_takes_a_group_of_the_report_never_a_path(served, request_):
    ignore_list = served.data_home / "simplugin" / "ignored.json"

    assert served.action("not-a-duplicate", request_)[0] == 404
    assert not ignore_list.exists()


@pytest.mark.parametrize("action", ["trash", "not-a-duplicate"])
def test_the_new_actions_are_guarded_as_a_move_is(served, action):
    assert served.request("GET", f"/{served.token}/api/{action}")[0] == 405
    assert served.action(action, {}, Origin="http://evil.example")[0] == 403
    assert served.action(action, {}, **{TOKEN_HEADER: None})[0] == 403


def groups_of(review) -> list[list[str]]:
    from simplugin.builtin.html_report import scan_data

    page = review.request("GET", f"/{review.token}/")[1]
    return [[member["path"] for member in group["members"]] for group in scan_data(page)["groups"]]


@pytest.mark.parametrize("action", ["move", "trash"])
def test_a_plan_naming_photos_this_review_did_not_show_moves_nothing(served, tmp_path, action):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(SEAGULLS, elsewhere)
    before = snapshot(elsewhere)
    plan = {
        "roots": [str(elsewhere)],
        "groups": [
            {"keep": str(elsewhere / "seagull_1.jpeg"), "duplicates": [str(elsewhere / name)]}
            for name in ("seagull_2.jpeg",)
        ],
    }

    status, answer = served.action(action, {"plan": plan, "folder": str(tmp_path / "moved")})

    assert status == 400
    assert "seagull_1.jpeg is not a photo of this review" in json.loads(answer)["error"]
    assert snapshot(elsewhere) == before
    assert not (tmp_path / "moved").exists()


def test_a_plan_mixing_photos_of_two_groups_of_the_review_moves_nothing(served, tmp_path):
    first, second = groups_of(served)[:2]
    library = Path(first[0]).parent
    before = snapshot(library)
    plan = {"groups": [{"keep": first[0], "duplicates": [second[0]]}]}

    status, answer = served.action("move", {"plan": plan, "folder": str(tmp_path / "moved")})

    assert status == 400 and "is not in the group of" in json.loads(answer)["error"]
    assert snapshot(library) == before


def test_a_move_still_arriving_when_ctrl_c_comes_is_refused_in_full_and_nothing_moves(
    start_review, library, tmp_path
):
    import socket
    import time

    before = snapshot(library)
    review = start_review(library)
    first = groups_of(review)[0]
    body = json.dumps(
        {
            "plan": {"groups": [{"keep": first[0], "duplicates": first[1:]}]},
            "folder": str(tmp_path / "moved"),
        }
    ).encode()
    head = (
        f"POST /{review.token}/api/move HTTP/1.1\r\nHost: {review.host}:{review.port}\r\n"
        f"Origin: http://{review.host}:{review.port}\r\nContent-Type: application/json\r\n"
        f"{TOKEN_HEADER}: {review.token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((review.host, review.port), timeout=60) as connection:
        connection.sendall(head + body[:10])
        # answered on a connection accepted after this one: the move is being read
        assert review.action("heartbeat", {})[0] == 200
        review.process.send_signal(signal.SIGINT)
        for _ in range(600):  # until the server says it waits for this request
            if "before stopping" in review.stderr() or review.process.poll() is not None:
                break
            time.sleep(0.1)
        with contextlib.suppress(OSError):
            connection.sendall(body[10:])
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk

    assert answer.startswith(b"HTTP/1.0 503")
    assert b"the review is ending" in answer
    assert review.end(sent=None) == 130
    assert snapshot(library) == before


def raw(review, data: bytes, reset: bool = False) -> bytes:
    """`data` sent on a connection of its own; the answer, or b"" when `reset` (the
    connection is then reset at once, as a closed tab or a network cut does)."""
    import socket
    import struct

    with socket.create_connection((review.host, review.port), timeout=60) as connection:
        connection.sendall(data)
        if reset:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return b""
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def action_head(review, length: str) -> bytes:
    return (
        f"POST /{review.token}/api/move HTTP/1.1\r\nHost: {review.host}:{review.port}\r\n"
        f"Origin: http://{review.host}:{review.port}\r\nContent-Type: application/json\r\n"
        f"{TOKEN_HEADER}: {review.token}\r\nContent-Length: {length}\r\n\r\n"
    ).encode("latin-1")  # as HTTP reads headers


def test_a_client_that_goes_away_mid_request_leaves_no_traceback(start_review, library):
    review = start_review(library)

    short = raw(review, action_head(review, "10") + b"{}")
    for _ in range(20):
        raw(
            review,
            f"GET /{review.token}/ HTTP/1.1\r\nHost: {review.host}:{review.port}\r\n\r\n".encode(),
            reset=True,
        )
    assert review.action("heartbeat", {})[0] == 200
    assert review.end() == 130

    assert short.startswith(b"HTTP/1.0 400")
    for sign in ("Traceback", "BrokenPipeError", "ConnectionResetError", "error:"):
        assert sign not in review.stderr()


@pytest.mark.parametrize(
    ("length", "status"),
    [("²", b"411"), ("¹", b"411"), ("-1", b"411"), ("", b"411"), ("1e3", b"411")],
)
def test_a_length_that_is_no_number_of_ascii_digits_is_refused(served, length, status):
    assert raw(served, action_head(served, length) + b"{}").startswith(b"HTTP/1.0 " + status)


def test_a_folder_with_a_nul_character_is_refused(served):
    status, answer = served.action("move", {"plan": {"groups": []}, "folder": "/tmp/x\u0000y"})

    assert status == 400 and "NUL" in json.loads(answer)["error"]


def test_two_reviews_at_once_each_serve_their_own_page_and_leave_no_folder(library, tmp_path):
    from simplugin.builtin.html_report import scan_data

    cache = tmp_path / "cache"
    reviews = cache / "simplugin" / "review"
    dead = reviews / "run-999999999-0000"  # of a process that is gone
    dead.mkdir(parents=True)
    (dead / "report.html").write_text("")
    other = tmp_path / "other"
    other.mkdir()
    for name in ("seagull_5.jpeg", "seagull_6.jpeg"):
        shutil.copy(library / name, other)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = Review(library, tmp_path / "a", cache=cache)
    try:
        second = Review(other, tmp_path / "b", cache=cache)
        try:
            for review in (first, second):
                page = review.request("GET", f"/{review.token}/")[1]
                for group in scan_data(page)["groups"]:
                    for member in group["members"]:
                        src = member["thumbnail"]["src"]
                        assert review.request("GET", f"/{review.token}/{src}")[0] == 200
            assert not dead.exists()
        finally:
            assert second.end() == 130
    finally:
        assert first.end() == 130
    assert sorted(path.name for path in reviews.iterdir()) == ["thumbnails"]


def test_a_heartbeat_lost_on_the_way_is_tried_again_and_the_review_goes_on(
    browser,  # noqa: F811
    start_review,
    library,
):
    review = start_review(library, idle=2)  # a beat every 0.5 s
    page = browser.new_page()
    lost = []

    def lose_two(route):
        if len(lost) < 2:
            lost.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/api/heartbeat", lose_two)
    page.goto(review.url)
    page.locator("#connection", has_text="Reconnecting").wait_for()
    page.locator("#connection").wait_for(state="hidden")
    page.wait_for_timeout(4000)  # twice the idle time: a server left silent would stop

    assert len(lost) == 2
    assert review.process.poll() is None
    page.close()


def test_the_served_page_speaks_of_its_own_buttons_and_of_the_ignore_list(
    browser,  # noqa: F811
    start_review,
    library,
    tmp_path,
):
    pair = tmp_path / "pair"
    pair.mkdir()
    for name in ("seagull_5.jpeg", "seagull_6.jpeg"):
        shutil.copy(library / name, pair)
    review = start_review(pair)
    page = browser.new_page()
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.goto(review.url)
    page.get_by_role("button", name="Move to trash").wait_for()
    help = page.locator("#controls .help").inner_text()
    page.get_by_role("button", name="Move to trash").click()
    page.keyboard.press("?")
    keys = page.locator("body").inner_text()
    page.keyboard.press("Escape")
    page.locator("li.group").first.get_by_role("button", name="Not a duplicate", exact=True).click()
    page.locator("#outcome", has_text="marked 1 pair").wait_for()
    unmark = page.locator("#unmark").inner_text()

    assert "Move to folder… or Move to trash" in help and "--move-to" not in help
    assert asked == ["Send the 1 duplicate of the ticked groups shown to the trash?"]
    assert "record the pair in the ignore list" in keys
    assert "until simplugin ignore --forget" in unmark
    assert sorted(path.name for path in pair.iterdir()) == ["seagull_5.jpeg", "seagull_6.jpeg"]
    page.close()
