"""Showing paths and sizes to a person, one line each."""

from __future__ import annotations

import reprlib
import sys


def printable(path: str) -> str:
    """`path` as it can be shown on one terminal line.

    A name with a newline, another control character, or bytes that are not valid
    UTF-8 (which Python holds as lone surrogates) is shown quoted with Python's
    escapes, like `'bad\\nname.jpg'`, so that one photo is always one line and nothing
    is sent raw to the terminal.
    """
    return path if path.isprintable() else repr(path)


def quoted(value: object, limit: int = 60) -> str:
    """`value` as Python writes it (`'low'`, `nan`, `[1, 2]`), cut to about `limit`
    characters, so that an error message quoting a 30 MB value stays one short line."""
    shortened = reprlib.Repr()
    shortened.maxstring = shortened.maxother = shortened.maxlong = limit
    text = shortened.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 photo`, `3 photos`: a number with its noun (`plural` where adding an s is wrong)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def human_size(size: int) -> str:
    """Bytes for a person: `512 B`, `135.7 KiB`, `2.4 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def error_reason(error: OSError) -> str:
    """Why a file operation failed, in the system's words ("Permission denied"), without
    the path that the message around it names already; else the error's own message."""
    return error.strerror or str(error)


def tell(message: str) -> None:
    """One line for the person running simplugin, on stderr (stdout is for data)."""
    sys.stderr.write(f"simplugin: {message}\n")
    sys.stderr.flush()
