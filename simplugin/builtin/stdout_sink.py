"""The default report: each group of near-duplicates on stdout, most similar first.

    Group 1: 2 photos, closest 0.0159
      keep    photos/seagull_6.jpeg  768x1024  137.8 KiB
      0.0159  photos/seagull_5.jpeg  768x1024  137.5 KiB
      0.0000  photos/copy of 6.jpeg  768x1024  137.8 KiB  identical copy

    Group 2: 3 photos, closest 0.0378  (with --threshold 0.058)
      keep    photos/seagull_1.jpeg  768x1024  135.7 KiB
      0.0378  photos/seagull_3.jpeg  768x1024  131.5 KiB
      0.0596  photos/seagull_4.jpeg  768x1024  131.3 KiB  via photos/seagull_3.jpeg

"closest" is the distance of the group's most similar pair, as the page shows it (two
members other than the keeper, when the keeper is not in that pair). The keeper comes
first, then each duplicate with its distance to the keeper, and "identical copy" when it
holds the same bytes as the keeper. A duplicate that is not a near-duplicate of the
keeper itself, only of another member, names the member it is in the group through
("via"): its distance to the keeper may be over the threshold. Nothing is printed when
there are no groups, so `[ -z "$(simplugin scan ...)" ]` works.
"""

from __future__ import annotations

import sys

from simplugin import Duplicate, ScanResult, Sink, hookimpl, human_size, printable


class StdoutSink(Sink):
    name = "stdout"
    description = "print the groups of near-duplicates for a person to read"

    def write(self, result: ScanResult, options) -> None:
        out = sys.stdout
        closest_of = result.closest()
        for number, group in enumerate(result.groups, start=1):
            closest = closest_of[number - 1]
            if number > 1:
                out.write("\n")
            out.write(f"Group {number}: {len(group.photos)} photos, closest {closest:.4f}\n")
            rows = [("keep", group.keep, "")] + [
                (f"{d.distance:.4f}", d.photo, _remark(d)) for d in group.duplicates
            ]
            width = max(len(printable(photo.path)) for _, photo, _ in rows)
            for label, photo, copy in rows:
                out.write(
                    f"  {label:<6}  {printable(photo.path):<{width}}"
                    f"  {photo.width}x{photo.height}  {human_size(photo.size)}{copy}\n"
                )
        out.flush()


def _remark(duplicate: Duplicate) -> str:
    if duplicate.identical:
        return "  identical copy"
    if duplicate.via is not None:
        return f"  via {printable(duplicate.via.path)}"
    return ""


@hookimpl
def register_sinks(register):
    register(StdoutSink())
