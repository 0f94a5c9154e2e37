"""The local server of `simplugin review`: the report, served to this computer's browser,
which can then move the duplicates it shows and undo that.

`simplugin review` writes the report as `scan --html` does (with the html sink's
`served` option), then serves it here and opens it. The page's "Move to folder…" posts
the plan it would export; the server runs exactly `simplugin apply PLAN --move-to DEST`
(`apply_plan`: load_plan's checks, the move sink, its journal) and answers with what
that printed, what moved, and an action id; the page's Undo names that id, and the
server runs `simplugin undo JOURNAL` (`undo_journal`) on the journal that action made.
"Move to trash" runs `simplugin apply PLAN --trash` the same way (its journal is in the
trash journals folder), and its Undo too. "Not a duplicate" records, as `simplugin
ignore` does, the photos of a group (or one photo against the others of its group) in
the ignore list the scan read; the page names them by their numbers in the report.
The page never sends a path to undo or to ignore, only plans and folders to move into.
A plan may name only photos of this review's result, each group's keeper and
duplicates among the photos of one group the report showed (anything else: the whole
request is refused, 400, nothing moves); its roots, protected folders, sizes and times
are the scan's, not the request's; and every photo is checked again, as `apply` checks
any plan. The folder to move into is the person's choice, as for `apply --move-to`. Nothing moves
unless the page asks: the server itself never moves a file.

What a request may do is one entry of `ACTIONS` (a POST to `/TOKEN/api/NAME`), so that
a new kind of action (a move to the trash, "not a duplicate") is one more function.

A server that can move files is guarded, since any web page the person visits could
send requests to it:
- it listens on 127.0.0.1 only, on a port the system picks;
- every request names a secret token (`secrets.token_urlsafe(32)`), given only in the
  URL the command prints and opens: in the path for the page and its thumbnails, and
  also in the `X-Simplugin-Token` header for actions;
- a request whose `Host` is not 127.0.0.1:PORT or localhost:PORT is refused (a
  rebound DNS name reaching this port);
- an action must be a POST with a JSON body (`Content-Type: application/json`, which
  a cross-site form cannot send without the browser asking first) and an `Origin` that
  is the page's own; other methods get 405;
- only the page, the thumbnails that the report made, and the photos of its groups
  (`photos/ID`, for the compare view; the ids are those the html sink listed in
  `originals.json`) are served: a request's path is looked up among names the server
  knows, and never reaches the file system; a photo is opened only if it is a
  regular file;
- bodies are at most `BODY_LIMIT` bytes, as a plan file is (larger: 413, unread).

The server ends on Ctrl-C (exit 130), or when the page has been closed for a while:
the page sends a heartbeat, and once no request came for `IDLE_SECONDS` (counted from
the start, too, so an unopened page does not keep a server forever) it stops with
exit 0. Tests shorten that with the environment variable SIMPLUGIN_REVIEW_IDLE_SECONDS.
Once it is stopping, an action that changes files and has not started is refused (503,
"the review is ending"); the one under way finishes, and every answer under way is
sent in full, before the process ends.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import ignored, trash
from .builtin.html_report import ORIGINALS, scan_data, thumbnail_folder
from .errors import ExitCode, OutputIncomplete, UsageError
from .files import NotRegularFile, open_regular
from .ignored import default_path as default_ignore_list
from .moves import NotAJournal, read_journal
from .plan import PLAN_SIZE_LIMIT, parse_document, plan_from_document
from .text import counted, error_reason, printable, tell

IDLE_SECONDS = 120.0  # no request from the page this long: it was closed
IDLE_VARIABLE = "SIMPLUGIN_REVIEW_IDLE_SECONDS"  # for tests: a shorter wait
BODY_LIMIT = PLAN_SIZE_LIMIT + 4096  # a plan, and the folder to move it into
TOKEN_HEADER = "X-Simplugin-Token"
DECIMAL = re.compile(r"[0-9]{1,20}")
LOOPBACK = "127.0.0.1"


def idle_seconds() -> float:
    given = os.environ.get(IDLE_VARIABLE, "")
    try:
        return max(0.0, float(given)) if given else IDLE_SECONDS
    except ValueError:
        return IDLE_SECONDS


@dataclass(frozen=True)
class Site:
    """What the server serves, fixed when it starts: the page, and each thumbnail's
    address (`report-thumbnails/NAME.jpg`, as the page names it) with its file."""

    page: bytes
    files: Mapping[str, str]
    proposed_folder: str  # where the page proposes to move duplicates
    groups: tuple[tuple[str, ...], ...] = ()  # each group's photos, as the page numbers them
    ignore_list: str = ""  # where "Not a duplicate" records (`simplugin ignore`'s list)
    photos: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # path, media type
    # what a plan from the page may not choose: the scan's roots, protected folders...
    scan: Mapping[str, Any] = field(default_factory=dict)
    # each photo's size and modification time as the scan saw them, by path
    seen: Mapping[str, dict] = field(default_factory=dict)


def site_of(page: str, proposed_folder: str, ignore_list: str = "") -> Site:
    """The report written at `page` and the thumbnails beside it: the html sink has
    just removed those of photos not in this result, so every one left is one of them."""
    folder = thumbnail_folder(page)
    prefix = urllib.parse.quote(os.path.basename(folder))
    files = {
        f"{prefix}/{urllib.parse.quote(name)}": os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.endswith(".jpg") and os.path.isfile(os.path.join(folder, name))
    }
    photos = {}
    with contextlib.suppress(OSError, ValueError):  # a page without a compare view
        with open(os.path.join(folder, ORIGINALS), "rb") as listing:
            photos = {
                f"photos/{id}": (path, kind) for id, (path, kind) in json.load(listing).items()
            }
    with open(page, "rb") as file:
        shown = file.read()
    data = scan_data(shown)
    groups = tuple(tuple(member["path"] for member in group["members"]) for group in data["groups"])
    seen = {
        member["path"]: {"size": member["size"], "mtime_ns": member["mtimeNs"]}
        for group in data["groups"]
        for member in group["members"]
    }
    scan = {name: data[name] for name in ("version", "metric", "threshold", "bucketer", "protect")}
    scan["roots"] = data["absoluteRoots"]
    ignore_list = ignore_list or default_ignore_list()
    return Site(shown, files, proposed_folder, groups, ignore_list, photos, scan, seen)


# --- each run's own folder -------------------------------------------------------------------
# Two reviews at once each write a report and thumbnails, and the html sink removes the
# thumbnails that are not of its own result: each run has a folder of its own under
# REVIEWS_FOLDER, `run-PID-RANDOM`, removed when it ends (and, at the next start, when the
# process that made it is gone). The thumbnails of the run that ended last are kept in
# `thumbnails/`, and the next run starts from hard links to them: a photo's thumbnail is
# made again only when it is new (the sink writes each by renaming a new file, so a link
# is never written through).

RUN_PREFIX = "run-"
KEPT_THUMBNAILS = "thumbnails"


def start_run(reviews: str) -> str:
    """A new folder of this run in `reviews`, its thumbnails' folder seeded; the page is
    to be written there as `report.html`. Folders of runs whose process is gone are removed."""
    os.makedirs(reviews, exist_ok=True)
    for name in os.listdir(reviews):
        if name.startswith(RUN_PREFIX) and not process_alive(name.split("-")[1]):
            shutil.rmtree(os.path.join(reviews, name), ignore_errors=True)
    run = os.path.join(reviews, f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
    thumbnails = thumbnail_folder(os.path.join(run, "report.html"))
    os.makedirs(thumbnails)
    kept = os.path.join(reviews, KEPT_THUMBNAILS)
    with contextlib.suppress(OSError):
        for name in os.listdir(kept):
            if name.endswith(".jpg"):  # only these: the sink rewrites its other files
                with contextlib.suppress(OSError):
                    os.link(os.path.join(kept, name), os.path.join(thumbnails, name))
    return run


def end_run(run: str) -> None:
    """Keep the run's thumbnails for the next run (in place of the last kept), and remove
    the rest of its folder."""
    reviews = os.path.dirname(run)
    kept = os.path.join(reviews, KEPT_THUMBNAILS)
    retired = os.path.join(run, "retired")
    with contextlib.suppress(OSError):
        os.rename(kept, retired)  # another run may have just done the same: then no matter
    with contextlib.suppress(OSError):
        os.rename(thumbnail_folder(os.path.join(run, "report.html")), kept)
    shutil.rmtree(run, ignore_errors=True)


def process_alive(pid: str) -> bool:
    if not pid.isdecimal():
        return True  # not a folder of ours as named: left alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):
        return True
    return True


def proposed_folder(paths: list[str]) -> str:
    """`near-duplicates` beside the first folder reviewed (beside the folder of a photo
    reviewed alone): outside it, so that the next review does not read what moved."""
    first = os.path.abspath(os.path.expanduser(paths[0]))
    folder = first if os.path.isdir(first) else os.path.dirname(first)
    return os.path.join(os.path.dirname(folder), "near-duplicates")


@dataclass(frozen=True)
class Journaled:
    """The journal of an action of the page, and whether it is a trash run's, whose
    entries only the trash's reader reads."""

    path: str
    trash: bool

    def moved(self) -> list[dict]:
        """What the run moved (or sent to the trash), from where to where."""
        try:
            read = trash.read_journal(self.path) if self.trash else read_journal(self.path)
        except (NotAJournal, OSError):
            return []
        return [{"source": move.source, "target": move.target} for move in read.records]


@dataclass
class Review:
    """The server's state: when the page was last heard from, and the journal of each
    move the page asked for, by the id the page was given. One action at a time."""

    site: Site
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)
    journals: dict[str, Journaled] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set once the server stops: no action that changes files starts after it.
    stopping: threading.Event = field(default_factory=threading.Event)
    under_way: int = 0  # requests being answered, which the process waits for
    answered: threading.Condition = field(default_factory=threading.Condition)

    @contextlib.contextmanager
    def request_under_way(self):
        with self.answered:
            self.under_way += 1
        try:
            yield
        finally:
            with self.answered:
                self.under_way -= 1
                self.answered.notify_all()

    def wait_for_requests_under_way(self) -> None:
        with self.answered:
            if self.under_way:
                tell("finishing the request under way before stopping")
            self.answered.wait_for(lambda: self.under_way == 0)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


# --- actions ------------------------------------------------------------------------------


def heartbeat(review: Review, request: dict) -> Answer:
    """The page is open; it is told how often to say so, and where to propose moving."""
    every = max(0.2, idle_seconds() / 4)
    return Answer(200, {"every": every, "proposedFolder": review.site.proposed_folder})


def move_to_folder(review: Review, request: dict) -> Answer:
    """`simplugin apply PLAN --move-to FOLDER` of the page's plan."""
    folder = request.get("folder")
    if not isinstance(folder, str) or not os.path.isabs(os.path.expanduser(folder)):
        return Answer(400, {"error": "give the folder to move into as a full path"})
    if "\0" in folder:  # no path has one; the file system refuses it
        return Answer(400, {"error": "a folder's name has no NUL character"})
    folder = os.path.expanduser(folder)
    return applied(review, request.get("plan"), folder, journals_folder=folder)


def move_to_trash(review: Review, request: dict) -> Answer:
    """`simplugin apply PLAN --trash` of the page's plan: its journal is in the trash
    journals folder, and its Undo is the same as a move's."""
    return applied(review, request.get("plan"), None, journals_folder=trash.journals_folder())


class NotOfThisReview(ValueError):
    """A plan from the page that names what this review did not show."""


def plan_of_this_review(site: Site, plan: object) -> dict:
    """The page's choices as a plan of this review's own result: each group's keeper and
    duplicates must be photos of one group the report showed, and the roots, protected
    folders, sizes and modification times are the scan's, whatever the request says, so
    that a request can move only what this review showed. Raises `NotOfThisReview`."""
    chosen = plan.get("groups") if isinstance(plan, dict) else None
    if not isinstance(chosen, list):
        raise NotOfThisReview("the plan has no list of groups")
    group_of = {path: number for number, group in enumerate(site.groups) for path in group}
    groups = []
    for choice in chosen:
        if not isinstance(choice, dict):
            raise NotOfThisReview("a group of the plan is no JSON object")
        keep, duplicates = choice.get("keep"), choice.get("duplicates")
        if not isinstance(duplicates, list):
            raise NotOfThisReview("a group of the plan has no list of duplicates")
        number = group_of.get(keep) if isinstance(keep, str) else None
        for path in [keep, *duplicates]:
            if not isinstance(path, str) or path not in group_of:
                raise NotOfThisReview(f"{printable(str(path))} is not a photo of this review")
            if group_of[path] != number:
                raise NotOfThisReview(f"{printable(path)} is not in the group of {printable(keep)}")
        groups.append({**choice, "keep": keep, "duplicates": duplicates})
    named = {path for group in groups for path in (group["keep"], *group["duplicates"])}
    files = {path: site.seen[path] for path in sorted(named)}
    return {**site.scan, "format": "simplugin-plan", "groups": groups, "files": files}


def applied(review: Review, plan: object, folder: str | None, journals_folder: str) -> Answer:
    """`apply_plan` of the page's plan, into `folder` (None: the trash); what it
    printed, what moved, and the id of the action, by which the page may undo it."""
    from .cli.moves import apply_plan  # not at import: simplugin.cli loads every command

    try:
        document = plan_of_this_review(review.site, plan)
    except NotOfThisReview as refusal:
        tell(f"refused a plan from the page: {refusal}; nothing moved")
        return Answer(400, {"error": f"{refusal}; nothing moved"})
    before = journals_in(journals_folder)
    code, lines = captured(
        lambda: apply_plan(
            lambda: plan_from_document(document, "the plan"), folder, to_trash=folder is None
        )
    )
    made = sorted(journals_in(journals_folder) - before)
    answer: dict[str, Any] = {"code": int(code), "lines": lines, "moved": [], "action": None}
    if len(made) == 1:  # what the move sink journaled: what moved, and its undo
        action = secrets.token_urlsafe(12)
        journaled = Journaled(made[0], trash=folder is None)
        review.journals[action] = journaled
        answer.update(action=action, journal=made[0], moved=journaled.moved())
    return Answer(200, answer)


def undo_move(review: Review, request: dict) -> Answer:
    """`simplugin undo JOURNAL` of the journal a move of this server made."""
    action = request.get("action")
    journal = review.journals.get(action) if isinstance(action, str) else None
    if journal is None:
        return Answer(404, {"error": "no such action of this review"})
    from .cli.moves import undo_journal

    moved = journal.moved()
    code, lines = captured(lambda: undo_journal(journal.path))
    back = [move["source"] for move in moved if os.path.lexists(move["source"])]
    return Answer(200, {"code": int(code), "lines": lines, "back": back})


def not_a_duplicate(review: Review, request: dict) -> Answer:
    """`simplugin ignore` of photos of one group, named by their numbers in the page
    (never by path): every pair among them, or, with `apart`, every pair of that photo
    with each other photo of its group ("this photo is not a duplicate of the others")."""
    group, apart = request.get("group"), request.get("apart")
    groups = review.site.groups
    if not (isinstance(group, int) and not isinstance(group, bool) and 0 <= group < len(groups)):
        return Answer(404, {"error": "no such group in this review"})
    paths = groups[group]
    if apart is not None and not (
        isinstance(apart, int) and not isinstance(apart, bool) and 0 <= apart < len(paths)
    ):
        return Answer(404, {"error": "no such photo in this group"})
    code, lines = captured(lambda: ignore_photos(review.site.ignore_list, paths, apart))
    return Answer(200, {"code": int(code), "lines": lines})


def ignore_photos(list_path: str, paths: Sequence[str], apart: int | None) -> int:
    """Record the pairs in the ignore list at `list_path`, as `simplugin ignore` does."""
    try:
        ignore_list = ignored.load(list_path)
        photos = [ignored.content(path) for path in paths]
    except ignored.UnreadableList as error:
        tell(f"could not read the ignore list {printable(list_path)}: {error}; nothing recorded")
        return ExitCode.FAILED
    except OSError as error:
        tell(f"could not read {printable(error.filename or '')}: {error_reason(error)}")
        return ExitCode.FAILED
    if apart is None:
        marked = [photos]
    else:  # the pairs of that photo, not those among the others
        marked = [[photos[apart], other] for other in photos if other is not photos[apart]]
    added = 0
    for together in marked:
        ignore_list, new = ignore_list.with_photos(together)
        added += new
    try:
        ignored.save(ignore_list)
    except OutputIncomplete as error:
        tell(f"{error}; nothing recorded")
        return ExitCode.FAILED
    print(f"marked {counted(added, 'pair')} as not duplicates in {printable(list_path)}")
    return ExitCode.OK


@dataclass(frozen=True)
class Action:
    """What a POST to `/TOKEN/api/NAME` runs. One that changes files runs alone, and
    the server does not stop while it runs (not for a silent page, nor for Ctrl-C)."""

    run: Callable[[Review, dict], Answer]
    changes_files: bool


ACTIONS: Mapping[str, Action] = {
    "heartbeat": Action(heartbeat, changes_files=False),
    "move": Action(move_to_folder, changes_files=True),
    "trash": Action(move_to_trash, changes_files=True),
    "not-a-duplicate": Action(not_a_duplicate, changes_files=True),
    "undo": Action(undo_move, changes_files=True),
}


def journals_in(folder: str) -> set[str]:
    pattern = os.path.join(glob.escape(os.path.abspath(folder)), "simplugin-journal-*.jsonl")
    return set(glob.glob(pattern))


def captured(run: Callable[[], int]) -> tuple[int, list[str]]:
    """What `run` exits with and prints, as the terminal would show it; the terminal
    shows it too, on stderr (stdout ended with the page's address). Actions run one at
    a time and the server's other threads print nothing, so capturing the process's
    streams captures this action's lines only."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            code = run()
        except UsageError as error:
            tell(str(error))
            code = ExitCode.USAGE
    sys.stderr.write(output.getvalue())
    sys.stderr.flush()
    return code, output.getvalue().splitlines()


# --- HTTP ---------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    timeout = 60  # seconds: a client that stalls mid-request does not hold the server forever
    server_version = "simplugin"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal shows what the actions did, not every request

    def do_GET(self) -> None:
        with self.server.review.request_under_way():
            self.answering(self.get)

    def do_POST(self) -> None:
        # Answered in full before the process ends, even once it is stopping.
        with self.server.review.request_under_way():
            self.answering(self.post)

    def refuse_method(self) -> None:
        self.answering(self.refused_method)

    def refused_method(self) -> None:
        self.trusted()
        raise Refused(405, "only GET (the page) and POST (an action)")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = refuse_method

    def answering(self, respond: Callable[[], None]) -> None:
        """`respond`, or a refusal; a client gone (reset, closed) is no one to answer,
        and a bug is one line on the terminal, not a traceback: the server goes on."""
        try:
            try:
                respond()
            except Refused as refusal:
                self.send(refusal.status, json.dumps({"error": str(refusal)}).encode(), "json")
        except ConnectionError:
            self.close_connection = True
        except Exception as error:
            tell(f"error: {self.command} {printable(self.path.split('/', 2)[-1])}: {error!r}")
            self.close_connection = True
            with contextlib.suppress(OSError):
                failed = json.dumps({"error": "the server failed; see its terminal"})
                self.send(500, failed.encode(), "json")

    def trusted(self) -> str:
        """The path after the token, once Host and token are right."""
        review = self.server.review
        if self.headers.get("Host", "") not in self.server.hosts:
            raise Refused(403, "not this server's host")
        prefix = f"/{review.token}/"
        if not secrets.compare_digest(self.path[: len(prefix)].encode(), prefix.encode()):
            raise Refused(403, "no or wrong token")
        review.last_seen = time.monotonic()
        return self.path[len(prefix) :]

    def get(self) -> None:
        name = self.trusted()
        if name.startswith("api/") and name.removeprefix("api/") in ACTIONS:
            raise Refused(405, "an action is a POST")
        if name == "":
            self.send(200, self.server.review.site.page, "text/html; charset=utf-8")
            return
        site = self.server.review.site
        if name in site.photos:
            self.send_photo(*site.photos[name])
            return
        file = site.files.get(name)
        if file is None:
            raise Refused(404, "not found")
        try:
            with open(file, "rb") as thumbnail:
                self.send(200, thumbnail.read(), "image/jpeg")
        except OSError:
            raise Refused(404, "not found") from None

    def send_photo(self, path: str, kind: str) -> None:
        """A photo of the result, as it is on disk now, read as it is sent."""
        try:
            photo = open_regular(path)
        except (OSError, NotRegularFile):
            raise Refused(404, "not found (moved or gone since the scan)") from None
        with photo:
            left = os.fstat(photo.fileno()).st_size
            self.send_head(200, left, kind)
            # No more than announced, should the file grow while it is sent.
            while left > 0 and (chunk := photo.read(min(left, 1 << 20))):
                self.wfile.write(chunk)
                left -= len(chunk)

    def post(self) -> None:
        name = self.trusted()
        action = ACTIONS.get(name.removeprefix("api/")) if name.startswith("api/") else None
        if action is None:
            raise Refused(404 if name.startswith("api/") else 405, "no such action")
        review = self.server.review
        if not secrets.compare_digest(
            self.headers.get(TOKEN_HEADER, "").encode(), review.token.encode()
        ):
            raise Refused(403, "no or wrong token header")
        if self.headers.get("Origin", "") != f"http://{self.headers['Host']}":
            raise Refused(403, "not from the page")
        if self.headers.get_content_type() != "application/json":
            raise Refused(403, "an action is JSON")
        request = self.body()
        if action.changes_files:
            with review.lock:
                if review.stopping.is_set():  # Ctrl-C or the idle stop came while it waited
                    raise Refused(503, "the review is ending: nothing was done")
                answer = action.run(review, request)
        else:
            answer = action.run(review, request)
        self.send(answer.status, json.dumps(answer.body).encode(), "json")

    def body(self) -> dict:
        length = self.headers.get("Content-Length", "")
        if not DECIMAL.fullmatch(length):  # ASCII digits: int() takes others, isdigit "²"
            raise Refused(411, "say the body's length")
        if int(length) > BODY_LIMIT:
            self.close_connection = True  # the body is not read
            raise Refused(413, "larger than a plan can be")
        data = self.rfile.read(int(length))
        if len(data) < int(length):
            self.close_connection = True
            raise Refused(400, "the body is shorter than its length")
        try:
            request = parse_document(data, "the request")
        except UsageError as error:
            raise Refused(400, str(error)) from None
        if not isinstance(request, dict):
            raise Refused(400, "the request is no JSON object")
        return request

    def send(self, status: int, body: bytes, kind: str) -> None:
        self.send_head(status, len(body), kind)
        self.wfile.write(body)

    def send_head(self, status: int, length: int, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if kind == "json" else kind)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the page asks for many thumbnails at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request is no error; anything else, one line."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            tell(f"error: serving a request: {error!r}")

    def __init__(self, review: Review):
        super().__init__((LOOPBACK, 0), Handler)
        self.review = review
        port = self.server_address[1]
        self.hosts = {f"{LOOPBACK}:{port}", f"localhost:{port}"}
        self.url = f"http://{LOOPBACK}:{port}/{review.token}/"


def serve(server: ReviewServer, announce: Callable[[], None]) -> int:
    """Serve, `announce` the page (print its address, open it: a browser may ask for it
    before it returns), and go on until the page has been silent for the idle time
    (exit 0) or Ctrl-C (KeyboardInterrupt, which the command turns into exit 130)."""
    thread = threading.Thread(target=server.serve_forever, name="review-server", daemon=True)
    thread.start()
    idle = idle_seconds()
    review = server.review
    try:
        announce()
        while (left := review.last_seen + idle - time.monotonic()) > 0 or review.under_way:
            time.sleep(max(left, 0.1))  # a move under way: the page waits for its answer
    finally:
        review.stopping.set()
        server.shutdown()
        # Never end the process in the middle of a move, nor of any answer.
        review.wait_for_requests_under_way()
        server.server_close()
    tell(f"the review page has been closed for {idle:g} s: stopped serving it")
    return ExitCode.OK
