"""A CSV sink for simplugin: one row per duplicate, with its keeper and distance.

    pip install ./examples/simplugin-csv
    simplugin scan PHOTOS --sink csv --sink-option csv.path=dupes.csv

or, in simplugin.toml::

    [[sinks]]
    name = "csv"
    path = "dupes.csv"
"""

from __future__ import annotations

import csv

from simplugin import Option, Sink, hookimpl

COLUMNS = ("group", "keep", "duplicate", "distance", "duplicate_bytes")


class CsvSink(Sink):
    name = "csv"
    description = "write one row per duplicate (group, keep, duplicate, distance) to a CSV file"
    options = {"path": Option(str, "the CSV file to write", required=True)}

    def write(self, result, options):
        with open(
            options["path"], "w", newline="", encoding="utf-8", errors="surrogateescape"
        ) as out:
            rows = csv.writer(out)
            rows.writerow(COLUMNS)
            for number, group in enumerate(result.groups, start=1):
                for duplicate in group.duplicates:
                    rows.writerow(
                        (
                            number,
                            group.keep.path,
                            duplicate.photo.path,
                            f"{duplicate.distance:.6f}",
                            duplicate.photo.size,
                        )
                    )


@hookimpl
def register_sinks(register):
    register(CsvSink())
