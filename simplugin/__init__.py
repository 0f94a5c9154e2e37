"""simplugin: find near-duplicate photos, with plugins for metrics, bucketing and output.

Scripting::

    from simplugin import scan
    result = scan(["~/Pictures"])
    for group in result.groups:
        print(group.keep.path, [d.photo.path for d in group.duplicates])

Writing a plugin: subclass `Metric`, `Bucketer`, `Sink` or `Executor`, register an instance
from a `@hookimpl` function (see `simplugin.hookspecs`), and publish the module under the
`simplugin` entry-point group (docs/plugin-guide.md).

The names below are simplugin's public API: what scripts and plugins may use, the
built-in plugins included, which import nothing else. Besides the scan and its results
and the plugin interfaces, they give a plugin what simplugin itself relies on:

* messages for the user, one line each: `tell`, `printable`, `quoted`, `counted`, `human_size`,
  `error_reason`;
* files: `write_atomically` (and `check_replaceable`, what it checks first),
  `open_regular` (never a FIFO or a device), `kind_of`,
  `is_cache` and `tag_as_cache` (CACHEDIR.TAG), `FolderListing(s)` (a photo's sidecars);
* photos: `open_displayed` (as a person sees it), `probe` (its size without decoding
  it), `capture_time` (EXIF), `RAW_EXTENSIONS` (the camera RAW file names), `sharpness`
  (and `open_measured`, the decode it is measured on, `sharpness_of_image`,
  `remembered_sharpness`);
* work on every core: `default_jobs`, `worker_pool`; where a scan's work runs: `Executor`,
  `Workers` (and `LocalWorkers`, the `local` executor's), `each_on` (items in batches on
  workers, an item that kills its worker costing only itself: `WORKER_LOST`);
* the reference metric, to build on: `AverageDifference` (`avgdiff`'s class, with its
  exact, pruned bulk search);
* changing the user's files, with undo: `leaving` (which files of the duplicates leave
  the library: `Leaving`, `LeavingFile`, `leaving_total`; `leave_whole` sends
  each unit whole), `Move`, `move`, `Journal`,
  `send_to_trash` and `trash_journal` (the freedesktop.org trash, on Linux), and the
  XMP sidecars photo managers read: `xmp_tagged` (Exempi, the `xmp` extra),
  `write_xmp_sidecar` and `xmp_journal`;
* plans: `load_plan`, `PLAN_VERSION` (the version of the JSON schema a plan shares).

`import simplugin` is light (no numpy, Pillow or SQLite): what needs them is imported
when a name is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import OutputIncomplete, PluginError, SimpluginError, UsageError
from .files import NotRegularFile, kind_of, open_regular
from .hookspecs import hookimpl
from .text import counted, error_reason, human_size, printable, quoted, tell
from .types import (
    Bucketer,
    Duplicate,
    Executor,
    Group,
    Metric,
    Option,
    Pair,
    Photo,
    ScanResult,
    ScanSettings,
    Sink,
    Skipped,
    Workers,
)

# The public names whose modules load numpy, Pillow, exifread or SQLite are imported on
# first use (PEP 562), by module. Type checkers read the same names below.
_ON_FIRST_USE = {
    "builtin.avgdiff": ("AverageDifference",),
    "discover": ("FolderListing", "FolderListings", "is_cache", "tag_as_cache"),
    "engine": ("SinkRequest", "deliver", "prepare_sinks", "scan", "write"),
    "exif": ("CameraFacts", "camera_facts", "capture_time"),
    "explanation": ("Explanation", "explain"),
    "imaging": ("RAW_EXTENSIONS", "Displayed", "Unreadable", "open_displayed", "probe"),
    "laplacian": ("open_measured", "remembered_sharpness", "sharpness", "sharpness_of_image"),
    "removal": ("Leaving", "LeavingFile", "leave_whole", "leaving", "leaving_total"),
    "moves": ("Journal", "Move", "move"),
    "output": ("check_replaceable", "write_atomically"),
    "plan": ("PLAN_VERSION", "load_plan"),
    "plugins": ("load_plugins",),
    "executors": ("WORKER_LOST", "LocalWorkers", "each_on", "worker_pool"),
    "reading": ("default_jobs",),
    "trash": ("TRASH_SUPPORTED", "send_to_trash", "trash_journal"),
    "xmp": (
        "XMP_LABELS",
        "UnreadableSidecar",
        "XmpCarried",
        "XmpTags",
        "read_xmp_sidecar",
        "write_xmp_sidecar",
        "xmp_carried",
        "xmp_journal",
        "xmp_sidecar_for",
        "xmp_tagged",
        "xmp_unavailable",
    ),
}
_MODULE_OF = {name: module for module, names in _ON_FIRST_USE.items() for name in names}

if TYPE_CHECKING:
    from .builtin.avgdiff import AverageDifference
    from .discover import FolderListing, FolderListings, is_cache, tag_as_cache
    from .engine import SinkRequest, deliver, prepare_sinks, scan, write
    from .executors import WORKER_LOST, LocalWorkers, each_on, worker_pool
    from .exif import CameraFacts, camera_facts, capture_time
    from .explanation import Explanation, explain
    from .imaging import RAW_EXTENSIONS, Displayed, Unreadable, open_displayed, probe
    from .laplacian import open_measured, remembered_sharpness, sharpness, sharpness_of_image
    from .moves import Journal, Move, move
    from .output import check_replaceable, write_atomically
    from .plan import PLAN_VERSION, load_plan
    from .plugins import load_plugins
    from .reading import default_jobs
    from .removal import Leaving, LeavingFile, leave_whole, leaving, leaving_total
    from .trash import TRASH_SUPPORTED, send_to_trash, trash_journal
    from .xmp import (
        XMP_LABELS,
        UnreadableSidecar,
        XmpCarried,
        XmpTags,
        read_xmp_sidecar,
        write_xmp_sidecar,
        xmp_carried,
        xmp_journal,
        xmp_sidecar_for,
        xmp_tagged,
        xmp_unavailable,
    )

__all__ = [
    # the scan, and what it finds
    "scan",
    "ScanResult",
    "ScanSettings",
    "Photo",
    "Skipped",
    "Pair",
    "Group",
    "Duplicate",
    "explain",
    "Explanation",
    "load_plugins",
    # writing a plugin, and sending a result to one
    "hookimpl",
    "Metric",
    "Bucketer",
    "Sink",
    "Option",
    "Executor",
    "Workers",
    "LocalWorkers",
    "WORKER_LOST",
    "SinkRequest",
    "prepare_sinks",
    "deliver",
    "write",
    # errors
    "SimpluginError",
    "UsageError",
    "OutputIncomplete",
    "PluginError",
    # messages for the user
    "tell",
    "printable",
    "quoted",
    "human_size",
    "error_reason",
    # files
    "write_atomically",
    "open_regular",
    "NotRegularFile",
    "kind_of",
    "is_cache",
    "tag_as_cache",
    "FolderListing",
    "FolderListings",
    # photos
    "open_displayed",
    "Displayed",
    "Unreadable",
    "probe",
    "capture_time",
    "camera_facts",
    "CameraFacts",
    "open_measured",
    "remembered_sharpness",
    "sharpness",
    "sharpness_of_image",
    "check_replaceable",
    "counted",
    "RAW_EXTENSIONS",
    # work on every core
    "default_jobs",
    "each_on",
    "worker_pool",
    # the reference metric, to build on
    "AverageDifference",
    # changing the user's files, with undo
    "leaving",
    "Leaving",
    "LeavingFile",
    "leave_whole",
    "leaving_total",
    "Move",
    "move",
    "Journal",
    "send_to_trash",
    "trash_journal",
    "TRASH_SUPPORTED",
    # tagging photos in their XMP sidecars, with undo
    "XMP_LABELS",
    "XmpTags",
    "XmpCarried",
    "UnreadableSidecar",
    "read_xmp_sidecar",
    "write_xmp_sidecar",
    "xmp_carried",
    "xmp_journal",
    "xmp_sidecar_for",
    "xmp_tagged",
    "xmp_unavailable",
    # plans
    "load_plan",
    "PLAN_VERSION",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # found once: the next use does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "__version__"})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("simplugin")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
