"""A report to review in a browser: `simplugin scan LIBRARY --html report.html`.

Every group is a row of thumbnails, the keeper marked, each photo with its distance to
the keeper, size, resolution, capture date and path; at the top, what the scan found.
The reader can pick another keeper, untick groups, filter by path or distance, and
export a plan that `simplugin apply PLAN --move-to DEST` carries out. The page that
`simplugin review` serves (`served`) also moves and undoes through its server
(simplugin/review.py).

The page works offline, from the file system, with no network: its script and style
are inline, and a Content-Security-Policy lets it load nothing but its own thumbnails.
Thumbnails (at most 320 pixels a side, never the originals) are made once, in a folder
beside the page (`report-thumbnails/`), tagged with a CACHEDIR.TAG so that no scan reads
them as photos; they are named after the photo's path, size and modification time, so a
new report reuses those of unchanged photos. The compare view (compare.js) shows each
photo at full size: a static page shows a preview of at most 2,048 pixels a side made
beside its thumbnail (`NAME.full.jpg`); the served page shows the original itself, which
the server knows by the id `photos/NAME` (the html sink lists them in `originals.json`),
when a browser can show its format. Each photo's sharpness figure (`simplugin.sharpness`)
is measured from the same decode and kept in its thumbnail's JPEG comment, so it too is
computed once per unchanged photo. Scan data reaches the page as JSON, and the
script shows it as text only, so no file name can inject HTML or script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from PIL import Image

from simplugin import (
    PLAN_VERSION,
    WORKER_LOST,
    CameraFacts,
    LocalWorkers,
    Option,
    OutputIncomplete,
    Photo,
    ScanResult,
    Sink,
    Unreadable,
    camera_facts,
    check_replaceable,
    default_jobs,
    each_on,
    error_reason,
    hookimpl,
    is_cache,
    open_measured,
    printable,
    remembered_sharpness,
    sharpness_of_image,
    tag_as_cache,
    tell,
    write_atomically,
)

THUMBNAIL_SIZE = 320  # pixels, the longest side at most: sharp in the page's 200px frames
THUMBNAIL_QUALITY = 80
FULL_SIZE = 2048  # pixels, the compare view's previews at most: sharper than most screens
# show. A preview is made from the decode the sharpness figure is measured on
# (`open_measured`): a JPEG at the smallest scale leaving 1,920 pixels on its long side,
# so a 4032 x 3024 photo decodes at 1/2 and its preview is 2016 x 1512.
FULL_QUALITY = 85
FULL_SUFFIX = ".full.jpg"
THUMBNAIL_NAME = re.compile(r"[a-z2-7]{24}(\.full)?\.jpg")  # what _thumbnail_name makes
SHARPNESS_COMMENT = re.compile(rb"simplugin sharpness ([0-9.]+)")
ORIGINALS = "originals.json"  # the served page's photos, by id, for simplugin/review.py
# Formats a browser shows (Pillow's names) and their media types: the served page shows
# these originals at full size, and a preview of the others.
BROWSER_FORMATS = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "BMP": "image/bmp",
}
SCRIPTS = ("page.js", "compare.js", "keys.js")
STYLES = ("page.css", "compare.css")
SERIAL_BELOW = 16  # fewer photos than this are not worth starting worker processes
TELL_ABOVE = 500  # photos whose thumbnails take long enough to say what is going on


@dataclass(frozen=True, slots=True)
class Preview:
    """What the report shows of one photo beyond its scan facts."""

    thumbnail: str | None  # file name in the thumbnail folder
    width: int = 0
    height: int = 0
    taken: str | None = None
    problem: str | None = None  # why there is no thumbnail
    camera: str = ""  # make and model, as the EXIF says
    sharpness: float | None = None
    full: str | None = None  # the full-size preview's file name, when one was made
    full_width: int = 0
    full_height: int = 0


def thumbnail_folder(page: str) -> str:
    """`albums/report.html` keeps its thumbnails in `albums/report-thumbnails/`."""
    return os.path.splitext(page)[0] + "-thumbnails"


def _page_path(path: str) -> str:
    if str(path).strip() in ("", "-"):
        raise ValueError("the report is a file with its thumbnails beside it: give a file name")
    return str(path)


class HtmlSink(Sink):
    name = "html"
    description = "write a report to review in a browser, choose keepers and export a plan"
    options = {
        "path": Option(
            _page_path,
            "the .html file to write; thumbnails go in a folder beside it",
            required=True,
        ),
        "served": Option(
            bool,
            "the page is for `simplugin review`'s local server: it may talk to the server"
            " that serves it (Move to folder, Undo), and to nothing else",
            default=False,
        ),
    }

    def excluded_paths(self, options: Mapping[str, Any]) -> list[str]:
        return [thumbnail_folder(os.path.expanduser(options["path"]))]

    def write(self, result: ScanResult, options: Mapping[str, Any]) -> None:
        page = os.path.expanduser(options["path"])
        folder = thumbnail_folder(page)
        check_replaceable(page)  # before any thumbnail is made beside it
        try:
            if os.path.isdir(folder) and os.listdir(folder) and not is_cache(folder):
                # Someone else's folder: its files must not be pruned, nor hidden from scans.
                raise OutputIncomplete(
                    f"not writing the report {page}: {folder} exists and is not a thumbnail"
                    " folder of simplugin's; give the report another name"
                )
            os.makedirs(folder, exist_ok=True)
            tag_as_cache(folder, "the thumbnails of the report " + os.path.basename(page))
        except OSError as error:
            raise OutputIncomplete(
                f"could not write the report {page}: {folder}: {error_reason(error)}"
            ) from error
        photos = [photo for group in result.groups for photo in group.photos]
        served = options["served"]
        made = make_previews(photos, folder, [not served or needs_preview(p) for p in photos])
        previews = dict(zip((p.path for p in photos), made, strict=True))
        for photo in photos:
            if previews[photo.path].problem:
                tell(f"no thumbnail for {printable(photo.path)}: {previews[photo.path].problem}")
        used = {name for p in previews.values() for name in (p.thumbnail, p.full) if name}
        _remove_unused(folder, used)
        url = urllib.parse.quote(os.path.basename(folder))
        originals = {  # what the compare view of a served page shows at full size
            _thumbnail_name(p)[:-4]: [os.path.abspath(p.path), BROWSER_FORMATS[p.format]]
            for p in photos
            if served and not needs_preview(p)
        }
        write_atomically(os.path.join(folder, ORIGINALS), json.dumps(originals).encode())
        data = {**page_data(result, previews, url, served), "served": served}
        write_atomically(page, render(data, served=served))
        if served:  # the file alone cannot move anything: the served address is the page
            tell("report ready: open the address printed below (not the file)")
        else:
            tell(f"report written to {page}: open it in a browser")


def needs_preview(photo: Photo) -> bool:
    """Whether the served page shows a full-size preview of `photo` (a HEIC, a TIFF, a
    RAW), not the original, which a browser could not show."""
    return photo.format not in BROWSER_FORMATS


def make_previews(photos: Sequence[Photo], folder: str, full: Sequence[bool]) -> list[Preview]:
    """A thumbnail, capture date, camera and sharpness for each photo, and a full-size
    preview for those `full` says, made on every core."""
    # Figures `--keep sharpest` measured in this process are not measured again.
    work = [
        (p.path, _thumbnail_name(p), folder, f, remembered_sharpness(p.path))
        for p, f in zip(photos, full, strict=True)
    ]
    if len(work) < SERIAL_BELOW:
        return [_preview(*item) for item in work]
    missing = sum(not os.path.exists(os.path.join(folder, item[1])) for item in work)
    if missing >= TELL_ABOVE:
        tell(f"making {missing} thumbnails for the report (later reports reuse them)")
    # The local executor's processes, whatever the scan's executor: the thumbnails are
    # written into the report's folder, on this machine.
    with LocalWorkers(default_jobs(), None) as workers:
        batches = [work[start : start + 8] for start in range(0, len(work), 8)]
        previews = (_made_or_lost(made) for _, made in each_on(workers, _previews, batches))
        return list(_counted(previews, len(work)) if sys.stderr.isatty() else previews)


def _previews(_context: None, batch: list[tuple]) -> list[Preview]:
    """The task a worker runs: the previews of a few photos."""
    return [_preview(*item) for item in batch]


def _made_or_lost(made: Preview) -> Preview:
    if made is WORKER_LOST:
        return Preview(None, problem="decoding it made the decoder crash (its process died)")
    return made


def _counted(previews: Iterator[Preview], total: int) -> Iterator[Preview]:
    """The previews as they are made, with how many on the terminal's progress line."""
    drawn = 0.0
    for done, preview in enumerate(previews, 1):
        if time.monotonic() - drawn >= 0.1 or done == total:
            sys.stderr.write(f"\r\033[Kmaking thumbnails: {done}/{total}")
            sys.stderr.flush()
            drawn = time.monotonic()
        yield preview
    sys.stderr.write("\r\033[K")
    sys.stderr.flush()


def _thumbnail_name(photo: Photo) -> str:
    identity = f"{os.path.abspath(photo.path)}\0{photo.size}\0{photo.mtime_ns}"
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).digest()
    return base64.b32encode(digest[:15]).decode().lower() + ".jpg"


def _preview(path: str, name: str, folder: str, full: bool, figure: float | None) -> Preview:
    try:
        camera = camera_facts(path)
    except Exception:  # no readable EXIF: the report says "no capture date", no camera
        camera = CameraFacts()
    facts = {
        "taken": camera.taken.isoformat(sep=" ", timespec="seconds") if camera.taken else None,
        "camera": " ".join(part for part in (camera.make, camera.model) if part),
    }
    try:
        preview = _reused(name, folder, full, facts) or _made(
            path, name, folder, full, facts, figure
        )
        return preview if figure is None else replace(preview, sharpness=figure)
    except Unreadable as reason:
        return Preview(None, problem=str(reason), **facts)
    except OSError as error:
        return Preview(None, problem=error_reason(error), **facts)


def _reused(name: str, folder: str, full: bool, facts: dict) -> Preview | None:
    """The preview an earlier report made of the same file, if it made all this one needs."""
    target, full_name = os.path.join(folder, name), name[:-4] + FULL_SUFFIX
    if not os.path.exists(target) or (full and not os.path.exists(os.path.join(folder, full_name))):
        return None
    with Image.open(target) as thumbnail:
        figure = SHARPNESS_COMMENT.fullmatch(thumbnail.info.get("comment", b""))
        if figure is None:  # made by a simplugin that did not measure sharpness
            return None
        preview = Preview(name, *thumbnail.size, sharpness=float(figure[1]), **facts)
    if not full:
        return preview
    with Image.open(os.path.join(folder, full_name)) as shown:
        return replace(preview, full=full_name, full_width=shown.width, full_height=shown.height)


def _made(
    path: str, name: str, folder: str, full: bool, facts: dict, figure: float | None
) -> Preview:
    """Decode the photo once, for its sharpness figure (unless `figure` is known),
    full-size preview and thumbnail."""
    image = open_measured(path).image
    figure = sharpness_of_image(image) if figure is None else figure
    image.thumbnail((FULL_SIZE, FULL_SIZE))
    full_name = None
    if full:
        full_name = name[:-4] + FULL_SUFFIX
        _save(image, os.path.join(folder, full_name), quality=FULL_QUALITY)
    full_size = image.size if full else (0, 0)
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    comment = f"simplugin sharpness {figure}".encode()
    _save(image, os.path.join(folder, name), quality=THUMBNAIL_QUALITY, comment=comment)
    return Preview(
        name,
        *image.size,
        sharpness=figure,
        full=full_name,
        **facts,
        full_width=full_size[0],
        full_height=full_size[1],
    )


def _save(image: Image.Image, target: str, **options: Any) -> None:
    partial = f"{target}.{os.getpid()}.partial"
    image.save(partial, "JPEG", **options)
    os.replace(partial, target)  # never a half-written preview under its name


def _remove_unused(folder: str, used: set[str]) -> None:
    """Remove the thumbnails an earlier report made of photos this one does not show."""
    for name in os.listdir(folder):
        if THUMBNAIL_NAME.fullmatch(name) and name not in used:
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                pass  # a stale thumbnail is harmless


def page_data(
    result: ScanResult, previews: Mapping[str, Preview], url: str, served: bool = False
) -> dict:
    """Everything the page's script shows, as JSON-ready values."""
    settings = result.settings
    # The distances measured within each group: to its keeper (member 0), and every
    # near-duplicate pair. A group is made of pairs, so both photos of a pair are in it.
    position = {
        photo.path: (number, member)
        for number, group in enumerate(result.groups)
        for member, photo in enumerate(group.photos)
    }
    known = [
        {(0, member): d.distance for member, d in enumerate(group.duplicates, start=1)}
        for group in result.groups
    ]
    # Members with the same bytes: an identical copy is at distance 0, so always a pair.
    copies: list[set[tuple[int, int]]] = [set() for _ in result.groups]
    paired: list[list[tuple[int, int]]] = [[] for _ in result.groups]
    for pair in result.pairs:
        (number, a), (_, b) = position[pair.a.path], position[pair.b.path]
        known[number].setdefault((min(a, b), max(a, b)), pair.distance)
        paired[number].append((min(a, b), max(a, b)))
        if pair.identical:
            copies[number].add((min(a, b), max(a, b)))
    groups = []
    for group, distances, identical, pairs, closest in zip(
        result.groups, known, copies, paired, result.closest(), strict=True
    ):
        groups.append(
            {
                "members": [
                    _member(photo, previews[photo.path], url, served) for photo in group.photos
                ],
                "distances": [[i, j, round(d, 6)] for (i, j), d in sorted(distances.items())],
                "identical": [[i, j] for i, j in sorted(identical)],
                "pairs": [[i, j] for i, j in sorted(pairs)],  # shows who is in "via" whom
                "closest": round(closest, 6),  # as the text report's (ScanResult.closest)
                "spread": round(max(d.distance for d in group.duplicates), 6),
            }
        )
    return {
        "version": PLAN_VERSION,
        "metric": settings.metric,
        "threshold": settings.threshold,
        "bucketer": settings.bucketer,
        "roots": [printable(root) for root in settings.roots],
        "absoluteRoots": [os.path.abspath(root) for root in settings.roots],
        "protect": list(settings.protect),  # carried into the plan: apply never moves these
        "photos": len(result.photos),
        "skipped": [{"shown": printable(s.path), "reason": s.reason} for s in result.skipped],
        "generated": time.strftime("%Y-%m-%d %H:%M"),
        "groups": groups,
    }


def _full(photo: Photo, preview: Preview, url: str, served: bool) -> dict | None:
    """What the compare view shows at full size: the original, which the server serves by
    its id, or the preview beside the thumbnail."""
    if served and preview.thumbnail and not needs_preview(photo):
        return {
            "src": f"photos/{preview.thumbnail[:-4]}",
            "width": photo.width,
            "height": photo.height,
        }
    if preview.full:
        return {
            "src": f"{url}/{preview.full}",
            "width": preview.full_width,
            "height": preview.full_height,
        }
    return None


def _member(photo: Photo, preview: Preview, url: str, served: bool = False) -> dict:
    thumbnail = None
    if preview.thumbnail:
        thumbnail = {
            "src": f"{url}/{preview.thumbnail}",
            "width": preview.width,
            "height": preview.height,
        }
    return {
        "path": os.path.abspath(photo.path),
        "shown": printable(photo.path),
        "size": photo.size,
        "mtimeNs": str(photo.mtime_ns),  # a string: JavaScript numbers end at 2**53
        "width": photo.width,
        "height": photo.height,
        "format": photo.format,
        "taken": preview.taken,
        "thumbnail": thumbnail,
        "full": _full(photo, preview, url, served),
        "camera": preview.camera,
        "sharpness": preview.sharpness,
        "problem": preview.problem,
    }


def render(data: dict, served: bool = False) -> bytes:
    """The page: the template with its style, script and data inline. A `served` page
    may also send requests to the server it came from (connect-src 'self')."""
    assets = resources.files(__name__)
    # One script and one style, in this order: the compare view and the keys build on
    # the page's functions (page.js), through the hooks it leaves for them.
    script = "\n".join((assets / name).read_text("utf-8") for name in SCRIPTS)
    style = "\n".join((assets / name).read_text("utf-8") for name in STYLES)
    # The script is allowed by its hash, so even a tag smuggled into the page could
    # not run; the page may load images from its own folder and nothing from anywhere.
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    connect = "'self'" if served else "'none'"
    policy = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline';"
        f" img-src 'self' file: data:; connect-src {connect}; form-action 'none';"
        " base-uri 'none'"
    )
    values = {"CSP": policy, "STYLE": style, "SCRIPT": script, "DATA": _script_safe_json(data)}
    page = (assets / "page.html").read_text("utf-8")
    # One pass, so that nothing inserted is itself taken for a placeholder.
    return re.sub(r"__([A-Z]+)__", lambda m: values[m.group(1)], page).encode("utf-8")


def scan_data(page: bytes) -> dict:
    """The scan's data that a page `render` made shows (its groups, their photos' paths,
    sizes and modification times, the roots and protected folders)."""
    start = page.index(b'<script id="scan-data" type="application/json">')
    text = page[page.index(b">", start) + 1 : page.index(b"</script>", start)]
    return json.loads(text)


def _script_safe_json(data: dict) -> str:
    """JSON that cannot end its <script> element: `<`, `>` and `&` become \\u escapes.
    ASCII only, so a lone surrogate (a non-UTF-8 byte in a name) travels as `\\udcXX`."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@hookimpl
def register_sinks(register):
    register(HtmlSink())
