"""Tagging photos in their XMP sidecars, where photo managers read keywords, journaled
so that `simplugin undo` puts every sidecar back byte for byte.

A photo's sidecar is its existing `IMG_1.jpg.xmp` (darktable, digiKam), else its
existing `IMG_1.xmp` (Lightroom), else a new `IMG_1.jpg.xmp` (or `IMG_1.xmp` when asked).
The sidecar is read and written by Exempi, Adobe's XMP toolkit (the `xmp` extra,
python-xmp-toolkit, over Debian's `libexempi8`): everything in it that is not
simplugin's survives as the same XMP data (a darktable history, ratings, keywords, GPS,
namespaces no program here knows), though Exempi may write it out in another form.
simplugin's keywords are replaced on every run, never accumulated: in
`lr:hierarchicalSubject` (a Bag) the ones starting with `simplugin|`, in `dc:subject`
(a Bag) those starting with `simplugin-`, in `digiKam:TagsList` (a Seq) those starting
with `simplugin/`. A new array gets the container type the XMP specification gives it;
an existing one keeps its own.

Before a sidecar is replaced (atomically, keeping its permissions), its previous bytes
are copied beside the journal, in `$XDG_STATE_HOME/simplugin/journals`, and the journal
records their SHA-256 and that of what the run wrote (or that the run created the
sidecar). Undo puts back only a sidecar that still holds what the run wrote: one that
another program changed since stays as it is.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Any

from . import moves
from .files import open_regular
from .moves import Journal, JournalRead, Move, Rejected, UndoReport
from .output import write_atomically
from .text import error_reason, human_size, printable
from .trash import journals_folder

XMP_MISSING = "writing XMP sidecars needs the xmp extra: pip install 'simplugin[xmp]'"
LIBRARY_MISSING = (
    "writing XMP sidecars needs the Exempi library (Debian and Ubuntu: apt install libexempi8)"
)
SIDECAR_LIMIT = 16 << 20  # a sidecar read whole (darktable's run to some hundred KiB)
XMP_LABELS = ("Red", "Yellow", "Green", "Blue", "Purple")  # xmp:Label, as managers name them

NS_DC = "http://purl.org/dc/elements/1.1/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_LIGHTROOM = "http://ns.adobe.com/lightroom/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"


@dataclass(frozen=True, slots=True)
class Keywords:
    """One of simplugin's keyword arrays: its property, the container type the XMP
    specification gives it (ordered: a Seq), how simplugin's items start, and how a
    keyword path ("simplugin", "keep") is written in it."""

    namespace: str
    name: str
    ordered: bool
    separator: str

    def item(self, path: tuple[str, ...]) -> str:
        return self.separator.join(path)

    def is_ours(self, item: str) -> bool:
        return item.startswith("simplugin" + self.separator)


KEYWORDS = (
    Keywords(NS_LIGHTROOM, "hierarchicalSubject", ordered=False, separator="|"),
    Keywords(NS_DC, "subject", ordered=False, separator="-"),  # flat: `simplugin-keep`
    Keywords(NS_DIGIKAM, "TagsList", ordered=True, separator="/"),
)


@dataclass(frozen=True, slots=True)
class XmpCarried:
    """What a keeper's sidecar receives from its duplicates' (`--xmp-merge-into-keeper`):
    their own keywords, by array (in the order of KEYWORDS), and their best rating."""

    keywords: tuple[tuple[str, ...], ...] = ((), (), ())
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class XmpTags:
    """What a photo's sidecar says of it: its `role` ("keep" or "duplicate") in its
    group, numbered from 1; a colour label and a rating to set, if any; what it
    receives from its duplicates, if anything."""

    role: str
    group: int
    label: str | None = None
    rating: int | None = None
    carried: XmpCarried | None = None

    def paths(self) -> tuple[tuple[str, ...], ...]:
        return ("simplugin", self.role), ("simplugin", "group", f"{self.group:04d}")


class UnreadableSidecar(ValueError):
    """A sidecar that is not XMP Exempi can parse; it is never written."""


def xmp_unavailable() -> str | None:
    """Why sidecars cannot be written in this installation, or None."""
    try:
        import libxmp  # noqa: F401
    except ImportError:
        return XMP_MISSING
    except Exception:  # libxmp.ExempiLoadError: the Python package without its library
        return LIBRARY_MISSING
    return None


def xmp_tagged(existing: bytes | None, tags: XmpTags) -> bytes:
    """The sidecar `existing` (None: none yet) with simplugin's keywords replaced by
    `tags`'s, and its label and rating set if `tags` has them. Raises UnreadableSidecar."""
    meta = _parsed(existing)
    if tags.carried is not None:
        _receive(meta, tags.carried)
    for keywords in KEYWORDS:
        _replace_ours(meta, keywords, [keywords.item(path) for path in tags.paths()])
    if tags.label is not None:
        meta.set_property(NS_XMP, "Label", tags.label)
    if tags.rating is not None:
        meta.set_property(NS_XMP, "Rating", str(tags.rating))
    text = meta.serialize_to_str(omit_packet_wrapper=True)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


def _parsed(existing: bytes | None) -> Any:
    """The XMP of a sidecar (an empty one for None). Raises UnreadableSidecar."""
    from libxmp import XMPError, XMPMeta

    XMPMeta.register_namespace(NS_LIGHTROOM, "lr")
    XMPMeta.register_namespace(NS_DIGIKAM, "digiKam")
    meta = XMPMeta()
    if existing is not None:
        try:
            meta.parse_from_str(existing.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise UnreadableSidecar("it is not XMP (not UTF-8)") from error
        except XMPError as error:
            raise UnreadableSidecar("it is not XMP (Exempi cannot parse it)") from error
    return meta


def xmp_carried(sidecars: list[bytes]) -> XmpCarried:
    """What the duplicates' `sidecars` give their keeper: every keyword of theirs that is
    not simplugin's, and their best rating (-1, rejected, is none). A sidecar that cannot
    be parsed gives nothing (its own tagging says so)."""
    found: list[list[str]] = [[] for _ in KEYWORDS]
    ratings: list[int] = []
    for sidecar in sidecars:
        try:
            meta = _parsed(sidecar)
        except UnreadableSidecar:
            continue
        for items, keywords in zip(found, KEYWORDS, strict=True):
            for item in _items(meta, keywords):
                if not keywords.is_ours(item) and item not in items:
                    items.append(item)
        rating = _rating(meta)
        if rating is not None and rating > 0:
            ratings.append(rating)
    return XmpCarried(tuple(map(tuple, found)), max(ratings, default=None))


def _items(meta: Any, keywords: Keywords) -> list[str]:
    count = meta.count_array_items(keywords.namespace, keywords.name)
    items = (meta.get_array_item(keywords.namespace, keywords.name, i) for i in range(1, count + 1))
    return [item for item in items if isinstance(item, str)]


def _rating(meta: Any) -> int | None:
    if not meta.does_property_exist(NS_XMP, "Rating"):
        return None
    try:
        return round(float(meta.get_property(NS_XMP, "Rating")))
    except (TypeError, ValueError):
        return None


def _receive(meta: Any, carried: XmpCarried) -> None:
    """Add the keywords the keeper lacks, and raise its rating to the best carried."""
    for items, keywords in zip(carried.keywords, KEYWORDS, strict=True):
        have = set(_items(meta, keywords))
        kind = {"prop_value_is_array": True, "prop_array_is_ordered": keywords.ordered}
        for item in items:
            if item not in have:
                meta.append_array_item(keywords.namespace, keywords.name, item, kind)
    own = _rating(meta)
    if carried.rating is not None and (own is None or own < carried.rating):
        meta.set_property(NS_XMP, "Rating", str(carried.rating))


def _replace_ours(meta: Any, keywords: Keywords, items: list[str]) -> None:
    """Remove simplugin's items of an array (last first, so the numbers hold), unless
    they are `items` already, then add `items`: to the existing array, of its own kind,
    or to a new one of the kind the XMP specification gives the property."""
    present = _items(meta, keywords)
    if [item for item in present if keywords.is_ours(item)] == items:
        return  # as a run wrote them: where they are, whatever was added around them
    count = meta.count_array_items(keywords.namespace, keywords.name)
    for index in range(count, 0, -1):
        item = meta.get_array_item(keywords.namespace, keywords.name, index)
        if isinstance(item, str) and keywords.is_ours(item):
            meta.delete_property(keywords.namespace, f"{keywords.name}[{index}]")
    kind = {"prop_value_is_array": True, "prop_array_is_ordered": keywords.ordered}
    for item in items:
        meta.append_array_item(keywords.namespace, keywords.name, item, kind)


def xmp_sidecar_for(photo: str, names: frozenset[str], lightroom: bool) -> tuple[str, bool]:
    """The sidecar of `photo` among the `names` in its folder, and whether it exists:
    `IMG_1.jpg.xmp`, else `IMG_1.xmp`, else the one to create (Lightroom's `IMG_1.xmp`
    with `lightroom`). Names are matched whatever their case, as the photo's are."""
    folder, name = os.path.split(photo)
    by_lower = {n.lower(): n for n in names}
    choices = (name + ".xmp", os.path.splitext(name)[0] + ".xmp")
    for choice in choices:
        if choice.lower() in by_lower:
            return os.path.join(folder, by_lower[choice.lower()]), True
    return os.path.join(folder, choices[1] if lightroom else choices[0]), False


def read_xmp_sidecar(path: str) -> bytes:
    """The bytes of the sidecar at `path`: a regular file, never through a link, at
    most SIDECAR_LIMIT. Raises OSError, or UnreadableSidecar when too large."""
    with open_regular(path, follow_symlinks=False) as file:
        data = file.read(SIDECAR_LIMIT + 1)
    if len(data) > SIDECAR_LIMIT:
        raise UnreadableSidecar(f"it is larger than {human_size(SIDECAR_LIMIT)}")
    return data


# --- writing, journaled ------------------------------------------------------------------


def xmp_journal(**header: object) -> Journal:
    """A new journal for a run that tags sidecars, in `$XDG_STATE_HOME/simplugin/journals`;
    its header says so (`action: "xmp"`) and records `header` (the sink's `roots`)."""
    return Journal.create(journals_folder(), action="xmp", **header)


def _backups_of(journal_path: str) -> str:
    """The folder holding the previous bytes of the sidecars a journal's run replaced."""
    return os.path.splitext(journal_path)[0] + ".sidecars"


def _backup_path(journal_path: str, sidecar: str) -> str:
    """Where a sidecar's previous bytes are kept: named by the hash of its path, since a
    run writes a sidecar once."""
    name = hashlib.sha256(os.fsencode(sidecar)).hexdigest()[:32] + ".xmp"
    return os.path.join(_backups_of(journal_path), name)


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def write_xmp_sidecar(path: str, data: bytes, before: bytes | None, journal: Journal) -> None:
    """Write `data` to the sidecar at `path` (absolute), which held `before` (None: it
    did not exist), journaled with a copy of `before`. Raises OSError, OutputIncomplete."""
    backup = _backup_path(journal.path, path)
    mode = None
    if before is not None:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        os.makedirs(os.path.dirname(backup), 0o700, exist_ok=True)
        _write_new(backup, before)
    journal.write(
        event="tagging",
        source=path,
        target=backup,
        created=before is None,
        mode=mode,
        before_sha256=_sha256(before),
        after_sha256=_sha256(data),
    )
    try:
        write_atomically(path, data)
        if mode is not None:
            os.chmod(path, mode)  # the user's permissions, not those of a new file
    except BaseException:
        journal.write(event="failed", source=path, target=backup)
        raise
    journal.write(event="tagged", source=path, target=backup)


def _write_new(path: str, data: bytes) -> None:
    """Write `data` to a new file at `path`, synced; never replacing one."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


# --- undo --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tagged:
    """A sidecar a run wrote, as its journal tells."""

    move: Move  # the sidecar both ways: undo puts it back where it is
    backup: str  # the copy of its previous bytes
    created: bool
    mode: int | None
    before: str | None  # SHA-256 of its previous bytes
    after: str  # SHA-256 of what the run wrote
    written: bool = False  # the journal says the write finished
    failed: bool = False
    restored: bool = False  # an undo put it back: final, whatever it holds later


def undo(journal_path: str, dry_run: bool = False) -> UndoReport:
    """Put back every sidecar an xmp journal's run wrote, newest first: the previous
    bytes of those it replaced, none of those it created. Safe to run again; nothing is
    done if any line of the journal is not trusted."""
    read = moves.read_journal(journal_path, action="xmp", take=_take, events=_EVENTS)
    # Nothing in an xmp journal is proven by the files it names (a moved file is in the
    # journal's own folder, a trashed one has the .trashinfo the run made): the journal
    # is trusted only where simplugin writes it, in a folder of the user's own.
    home = os.path.realpath(journals_folder())
    if read.destination != home and not read.rejected:
        where = f"it is in {printable(read.destination)}, not in {printable(home)}"
        read.rejected.append(Rejected(None, f"{where}, where simplugin keeps xmp journals"))
    return moves.undo_records(read, dry_run, _undo_one)


def _undo_one(record: _Tagged, journal: Journal | None) -> bool | str | None:
    """True when put back (or it would be, without a journal), None when there was
    nothing to do, else why not."""
    sidecar, backup = record.move.source, record.backup
    if record.restored or (record.failed and not record.written):
        return None
    try:
        now = _sha256(read_xmp_sidecar(sidecar))
    except FileNotFoundError:
        now = None
    if now == record.before:
        return None  # as it was: the write never happened, or was put back already
    if now != record.after:
        return "it changed since the run wrote it (another program wrote to it?) and stays as it is"
    previous = None
    if not record.created:
        previous = read_xmp_sidecar(backup)
        if _sha256(previous) != record.before:
            return f"the copy of its previous bytes, {printable(backup)}, changed"
    if journal is None:
        return True
    journal.write(event="restoring", source=sidecar, target=backup)
    if previous is None:
        os.unlink(sidecar)
    else:
        write_atomically(sidecar, previous)
        if record.mode is not None:
            os.chmod(sidecar, record.mode)
    journal.write(event="restored", source=sidecar, target=backup)
    return True


_EVENTS = frozenset({"tagging", "tagged", "failed", "restoring", "restored"})


def _take(entry: dict, event: str, item: Move, read: JournalRead, number: int) -> str | None:
    """Check one entry of an xmp journal and record what it tells; why it is not
    trusted, or None."""
    if item.target != _backup_path(read.path, item.source):
        return f"{moves._shown(item.target)} is not where this journal keeps its copies"
    if event == "tagging":
        return _start(entry, item, read, number)
    record = read.records.get(item)
    if record is None:
        return f"it names no sidecar written before it ({event} {moves._shown(item.source)})"
    record.written |= event == "tagged"
    record.failed |= event == "failed"
    record.restored |= event == "restored"
    return None


def _start(entry: dict, item: Move, read: JournalRead, number: int) -> str | None:
    created, mode = entry.get("created"), entry.get("mode")
    before, after = entry.get("before_sha256"), entry.get("after_sha256")
    if not isinstance(created, bool):
        return f"its created flag is not true or false: {moves._quoted(created)}"
    if not (mode is None or (type(mode) is int and 0 <= mode <= 0o7777)):
        return f"its mode is not a file's permissions: {moves._quoted(mode)}"
    if not _is_digest(after) or not (_is_digest(before) or (created and before is None)):
        return "it does not record what the sidecar held before and after"
    if not item.source.lower().endswith(".xmp"):
        return f"{moves._shown(item.source)} is no XMP sidecar (.xmp)"
    if item.source in read.named:
        return f"{moves._shown(item.source)} is already written by line {read.named[item.source]}"
    read.records[item] = _Tagged(
        Move(item.source, item.source), item.target, created, mode, before, after
    )
    read.named[item.source] = number
    return None


def _is_digest(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def unreadable_reason(error: Exception) -> str:
    """Why a sidecar could not be read or parsed, for one line."""
    return str(error) if isinstance(error, UnreadableSidecar) else error_reason(error)
