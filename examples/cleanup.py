"""Scripting a clean-up with simplugin's Python API: move only the closest duplicates.

    python examples/cleanup.py ~/Pictures ~/near-duplicates              # show the plan
    python examples/cleanup.py ~/Pictures ~/near-duplicates --apply      # move, journaled

It scans with the defaults, keeps the groups whose every duplicate is closer to its
keeper than --closer-than (0.03: re-encodes and resized copies, not retakes), and hands
only those to the built-in move sink, which journals every move for `simplugin undo`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from simplugin import SimpluginError, scan, write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", help="the folder to clean up")
    parser.add_argument("destination", help="where the duplicates go")
    parser.add_argument("--closer-than", type=float, default=0.03, metavar="D")
    parser.add_argument("--apply", action="store_true", help="move them (default: only show)")
    arguments = parser.parse_args()
    try:
        result = scan([arguments.library])
        chosen = tuple(
            group
            for group in result.groups
            if all(d.distance < arguments.closer_than for d in group.duplicates)
        )
        print(
            f"{len(chosen)} of {len(result.groups)} groups are closer than {arguments.closer_than}",
            file=sys.stderr,
        )
        write(
            dataclasses.replace(result, groups=chosen),
            "move",
            to=arguments.destination,
            dry_run=not arguments.apply,
        )
    except SimpluginError as error:
        print(f"cleanup: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
