"""Tag every photo of a group in its XMP sidecar, where photo managers show keywords.

`simplugin scan LIBRARY --xmp` writes into the sidecar of each photo of each group
(`IMG_1.jpg.xmp`, or an existing `IMG_1.xmp`) the keywords `simplugin|keep` or
`simplugin|duplicate` and `simplugin|group|0042` in `lr:hierarchicalSubject`, the same
as `simplugin-keep`... in `dc:subject` and `simplugin/keep`... in `digiKam:TagsList`;
with the options, a colour label (`xmp:Label`) and a rating (`xmp:Rating`, -1 is
"rejected") for the duplicates. The photos themselves are never written. Everything
else in a sidecar is kept (see `simplugin.xmp`); a sidecar that cannot be parsed is
left as it is. Each sidecar written is journaled in `$XDG_STATE_HOME/simplugin/journals`
with its previous bytes, and `simplugin undo JOURNAL` puts them back.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simplugin import (
    XMP_LABELS,
    FolderListings,
    Option,
    OutputIncomplete,
    ScanResult,
    Sink,
    UnreadableSidecar,
    XmpTags,
    counted,
    error_reason,
    hookimpl,
    printable,
    read_xmp_sidecar,
    tell,
    write_xmp_sidecar,
    xmp_carried,
    xmp_journal,
    xmp_sidecar_for,
    xmp_tagged,
    xmp_unavailable,
)


def _label(value: str) -> str:
    for label in XMP_LABELS:
        if value.strip().lower() == label.lower():
            return label
    raise ValueError(f"{value!r} is not one of {', '.join(XMP_LABELS)}")


def _rating(value: Any) -> int:
    rating = int(value)
    if not -1 <= rating <= 5:
        raise ValueError(f"{rating} is not a rating from -1 (rejected) to 5")
    return rating


@dataclass(frozen=True, slots=True)
class PlannedSidecar:
    photo: str  # as the user typed it, for the output
    sidecar: str  # likewise
    tags: XmpTags
    before: bytes | None  # None: the run creates it
    after: bytes


class XmpSink(Sink):
    name = "xmp"
    changes_files = True
    description = "tag every photo of a group (keep, duplicate, group) in its XMP sidecar"
    options = {
        "label": Option(_label, "a colour label for duplicates: " + ", ".join(XMP_LABELS)),
        "rating": Option(_rating, "a rating for duplicates, -1 (rejected) to 5"),
        "lightroom_names": Option(
            bool, "create IMG_1.xmp (Lightroom's name), not IMG_1.jpg.xmp", default=False
        ),
        "merge_into_keeper": Option(
            bool,
            "also give each keeper its duplicates' keywords and their best rating",
            default=False,
        ),
        "dry_run": Option(bool, "only print which sidecars would be written", default=False),
    }

    def unavailable(self) -> str | None:
        return xmp_unavailable()

    def write(self, result: ScanResult, options: Mapping[str, Any]) -> None:
        planned, unchanged, failed = plan(result, options)
        verb = "would tag" if options["dry_run"] else "tagged"
        if options["dry_run"]:
            for item in planned:
                _out(f"would tag {_described(item)}")
        elif planned:
            written = _write_all(result, planned)
            failed += len(planned) - len(written)
            planned = written
        tell(
            f"{verb} {counted(len(planned), 'sidecar')} ({sum(i.before is None for i in planned)}"
            f" new); {unchanged} already tagged so"
        )
        if failed:
            raise OutputIncomplete(f"{counted(failed, 'sidecar')} could not be tagged")


@dataclass(frozen=True, slots=True)
class Found:
    """A photo's sidecar as the run found it: its path, what it holds (None: none yet),
    or why it cannot be tagged."""

    photo: str
    sidecar: str
    before: bytes | None = None
    problem: str | None = None


def plan(result: ScanResult, options: Mapping[str, Any]) -> tuple[list[PlannedSidecar], int, int]:
    """The sidecars to write, how many already say what they would, and how many cannot
    be written (each said in one line)."""
    listings = FolderListings()
    claimed: dict[str, str] = {}
    planned: list[PlannedSidecar] = []
    unchanged = failed = 0
    for number, group in enumerate(result.groups, start=1):
        found = [_find(photo.path, listings, claimed, options) for photo in group.photos]
        carried = None
        if options["merge_into_keeper"]:
            carried = xmp_carried([f.before for f in found[1:] if f.before and not f.problem])
        for index, item in enumerate(found):
            duplicate = index > 0
            tags = XmpTags(
                "duplicate" if duplicate else "keep",
                number,
                options["label"] if duplicate else None,
                options["rating"] if duplicate else None,
                None if duplicate else carried,
            )
            problem, after = item.problem, None
            if problem is None:
                try:
                    after = xmp_tagged(item.before, tags)
                except UnreadableSidecar as error:
                    problem = str(error)
            if problem is not None or after is None:
                tell(f"not tagging {printable(item.sidecar)}: {problem}; left as it is")
                failed += 1
            elif after == item.before:
                unchanged += 1
            else:
                planned.append(PlannedSidecar(item.photo, item.sidecar, tags, item.before, after))
    return planned, unchanged, failed


def _find(
    photo: str, listings: FolderListings, claimed: dict[str, str], options: Mapping[str, Any]
) -> Found:
    """The sidecar of `photo` and what it holds; one already another photo's is refused
    (a RAW file and its JPEG twin share `IMG_1.xmp`)."""
    listing = listings.of(os.path.dirname(photo))
    names = frozenset(listing.names if listing else ())
    sidecar, exists = xmp_sidecar_for(photo, names, options["lightroom_names"])
    owner = claimed.setdefault(os.path.abspath(sidecar), photo)
    if owner != photo:
        return Found(photo, sidecar, problem=f"it is the sidecar of {printable(owner)} too")
    try:
        return Found(photo, sidecar, read_xmp_sidecar(sidecar) if exists else None)
    except (OSError, UnreadableSidecar) as error:
        why = str(error) if isinstance(error, UnreadableSidecar) else error_reason(error)
        return Found(photo, sidecar, problem=why)


def _write_all(result: ScanResult, planned: list[PlannedSidecar]) -> list[PlannedSidecar]:
    """Write each planned sidecar under one journal; those written."""
    try:
        journal = xmp_journal(roots=[os.path.abspath(root) for root in result.settings.roots])
    except OSError as error:
        raise OutputIncomplete(
            f"cannot write the journal of an xmp run: {error_reason(error)}; nothing was tagged"
        ) from error
    written = []
    try:
        for item in planned:
            try:
                write_xmp_sidecar(os.path.abspath(item.sidecar), item.after, item.before, journal)
            except (OSError, OutputIncomplete) as error:
                why = str(error) if isinstance(error, OutputIncomplete) else error_reason(error)
                tell(f"could not tag {printable(item.sidecar)}: {why}; left as it was")
                continue
            _out(f"tagged {_described(item)}")
            written.append(item)
    finally:
        journal.close()
    undo = f"simplugin undo {shlex.quote(journal.path)}"
    tell(f"journaled in {journal.path}; to put every sidecar back: {undo}")
    return written


def _described(item: PlannedSidecar) -> str:
    made = " (new)" if item.before is None else ""
    return f"{printable(item.sidecar)}{made}: {item.tags.role}, group {item.tags.group:04d}"


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@hookimpl
def register_sinks(register):
    register(XmpSink())
