"""simplugin: find near-duplicate photos, with plugins for metrics, bucketing and output.

Scripting::

    from simplugin import scan
    result = scan(["~/Pictures"])
    for group in result.groups:
        print(group.keep.path, [d.photo.path for d in group.duplicates])

Writing a plugin: subclass `Metric`, `Bucketer` or `Sink`, register an instance from a
`@hookimpl` function (see `simplugin.hookspecs`), and publish the module under the
`simplugin` entry-point group.
"""

from importlib.metadata import PackageNotFoundError, version

from .engine import SinkRequest, deliver, prepare_sinks, scan, write
from .errors import OutputIncomplete, PluginError, SimpluginError, UsageError
from .hookspecs import hookimpl
from .plan import load_plan
from .plugins import load_plugins
from .types import (
    Bucketer,
    Duplicate,
    Group,
    Metric,
    Option,
    Pair,
    Photo,
    ScanResult,
    ScanSettings,
    Sink,
    Skipped,
)

try:
    __version__ = version("simplugin")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Bucketer",
    "Duplicate",
    "Group",
    "Metric",
    "Option",
    "OutputIncomplete",
    "Pair",
    "Photo",
    "PluginError",
    "ScanResult",
    "ScanSettings",
    "SimpluginError",
    "Sink",
    "SinkRequest",
    "Skipped",
    "UsageError",
    "deliver",
    "hookimpl",
    "load_plan",
    "load_plugins",
    "prepare_sinks",
    "scan",
    "write",
]
