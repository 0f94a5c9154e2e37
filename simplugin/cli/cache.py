"""`simplugin cache`: where the signature cache is, what it holds, and emptying it."""

from __future__ import annotations

import argparse

from ..cache import SignatureCache
from ..cache import default_path as cache_default_path
from ..errors import ExitCode
from ..text import human_size
from .common import command


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "cache",
        run,
        help="show or clear the signature cache",
        description="The signature cache keeps what reading each photo gave (its signature, size"
        " and capture time), keyed by path, size and modification time, so that a re-scan reads"
        " only new and changed photos, and the near-duplicate pairs the last scans found, so that a"
        " re-scan compares only what changed. 'info' shows where it is and what it holds; 'clear'"
        " empties it. It never holds your photos, only their summaries.",
    )
    parser.add_argument("action", choices=("info", "clear"))
    parser.add_argument(
        "--cache", metavar="PATH", help=f"the cache file (default: {cache_default_path()})"
    )


def run(arguments: argparse.Namespace) -> int:
    cache = SignatureCache.open(arguments.cache)
    if cache is None:
        return ExitCode.FAILED
    try:
        if arguments.action == "clear":
            entries, pairs = cache.clear()
            print(f"removed {entries} entries and {pairs} pairs from {cache.path}")
            return ExitCode.OK
        info = cache.info()
    finally:
        cache.close()
    print(f"cache: {info['path']}")
    print(f"size: {human_size(info['bytes'])}")
    for kind, count in info["entries"].items() or [("entries", 0)]:
        print(f"{kind}: {count} photos")
    print(f"pairs kept for re-scans: {info['pairs']}")
    print(f"folder records (re-scans look up a folder at once): {info['folder_records']}")
    return ExitCode.OK
