"""The machine-readable result, for scripts: `simplugin scan --json FILE` (or `-`).

The schema (version 1) is documented in the README. Paths are strings exactly as the
scan saw them, relative ones relative to `base` (the current folder of the scan); a
file name that is not valid UTF-8 keeps its raw bytes as `\\udcXX` escapes (Python's
surrogateescape convention), so `os.fsencode(json.load(f)[...])` gives back the
original name. The document is a plan for `simplugin apply` (see
`simplugin.load_plan`): `files` records each grouped photo's size and modification
time, as the HTML report's plans do, so that a photo changed since the scan is left
alone.
"""

from __future__ import annotations

import json
import os
import sys

from simplugin import PLAN_VERSION, Option, ScanResult, Sink, hookimpl, write_atomically


def as_document(result: ScanResult) -> dict:
    settings = result.settings
    return {
        "version": PLAN_VERSION,  # a plan shares this schema, and its version
        "metric": settings.metric,
        "threshold": settings.threshold,
        "bucketer": settings.bucketer,
        "only_identical": settings.only_identical,
        "roots": list(settings.roots),
        "protect": list(settings.protect),  # `apply` never moves a photo under these
        "base": _current_folder(),
        "photos": len(result.photos),
        "undated": result.undated,
        "ignored": result.ignored,  # pairs left out as marked not duplicates (simplugin ignore)
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "pairs": [
            {
                "a": p.a.path,
                "b": p.b.path,
                "distance": round(p.distance, 6),
                "identical": p.identical,  # the same bytes: a copy, not a near-duplicate
            }
            for p in result.pairs
        ],
        "groups": [
            {
                "keep": g.keep.path,
                "duplicates": [d.photo.path for d in g.duplicates],
                "distances": [round(d.distance, 6) for d in g.duplicates],
                "identical": [d.identical for d in g.duplicates],
                # null: a near-duplicate of the keeper; else the member it is paired with
                # on the shortest chain of pairs to the keeper
                "via": [d.via.path if d.via else None for d in g.duplicates],
            }
            for g in result.groups
        ],
        "files": {
            # mtime_ns is a string, as in the report's plans (JavaScript's numbers end at 2**53)
            photo.path: {"size": photo.size, "mtime_ns": str(photo.mtime_ns)}
            for group in result.groups
            for photo in group.photos
        },
    }


def _current_folder() -> str | None:
    """What relative paths are relative to; None if the current folder was removed."""
    try:
        return os.getcwd()
    except OSError:
        return None


def encode(document: dict) -> bytes:
    # Lone surrogates (undecodable bytes in a file name) cannot be written as UTF-8;
    # "backslashreplace" turns each into the JSON escape \udcXX, which reads back as-is.
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return text.encode("utf-8", "backslashreplace")


class JsonSink(Sink):
    name = "json"
    description = "write the result as JSON to a file, or to stdout with path '-'"
    options = {"path": Option(str, "file to write, or '-' for stdout", required=True)}

    def write(self, result: ScanResult, options) -> None:
        data = encode(as_document(result))
        path = options["path"]
        if path == "-":
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        write_atomically(path, data)


@hookimpl
def register_sinks(register):
    register(JsonSink())
