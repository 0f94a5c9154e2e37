"""The hooks of simplugin: the reference for plugin authors.

A plugin is a module (or any object) with functions marked `@simplugin.hookimpl`, named
after the hooks below, published under the `simplugin` entry-point group::

    [project.entry-points.simplugin]
    my-metric = "my_package.plugin"

simplugin's own metric, keeper rule and sinks are plugins of exactly this kind. An
implementation may accept a subset of a hook's arguments, by name.

Hooks are called rarely: once per scan, per group or per skipped file, never per pair
of photos. The work done per photo or per pair is done by the objects a plugin
registers (`simplugin.Metric`, `simplugin.Bucketer`, `simplugin.Sink`), which the
engine calls directly. A metric learns which photos were taken close together by
setting `uses_bursts = True`: the engine then passes `burst=True` to its
`pairs_within`/`pairs_between` for the photos of one bucket (a capture-time burst with
`exif-time`) and `burst=False` for the others (see `simplugin.Metric`); metrics that do
not set it are called as before. A plugin whose hook raises is reported by name and the scan
carries on where it can. An implementation named after no hook below, asking for an
argument its hook does not give, or marked as a wrapper is never called: loading the
plugin says so in one warning line, with the hook it probably means.

When a scan asks more of a comparison, the engine passes a keyword to the metric's
`pairs_within`, `pairs_between` and `distance`, and nothing new when it does not, so a
metric written before the keyword existed works unchanged (see `simplugin.Metric`):

- `rotations=True` (`--rotations`): also match copies turned by 90, 180 or 270 degrees
  or mirrored. Given only to a metric that sets `supports_rotations = True`; asking for
  rotations with another metric is a usage error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .types import Bucketer, Metric, Photo, ScanResult, ScanSettings, Sink, Skipped

hookspec = pluggy.HookspecMarker("simplugin")
hookimpl = pluggy.HookimplMarker("simplugin")


# --- registration: called once when the plugins are loaded -----------------------------


@hookspec
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register metrics: call `register(metric)` with each `simplugin.Metric` instance.

    A metric is selected with `simplugin scan --metric NAME`. Two plugins registering
    the same name is an error that names both.
    """


@hookspec
def register_bucketers(register: Callable[[Bucketer], None]) -> None:
    """Register bucketers: call `register(bucketer)` with each `simplugin.Bucketer`.

    A bucketer is selected with `simplugin scan --bucketer NAME` (or `--bucket NAME`);
    only photos that share a bucket are compared.
    """


@hookspec
def register_sinks(register: Callable[[Sink], None]) -> None:
    """Register output sinks: call `register(sink)` with each `simplugin.Sink`.

    A sink is selected with `simplugin scan --sink NAME` and configured with
    `--sink-option NAME.KEY=VALUE` for each of the options it declares.
    """


# --- decisions --------------------------------------------------------------------------


@hookspec(firstresult=True)
def choose_keeper(photos: Sequence[Photo], settings: ScanSettings) -> Photo | None:
    """Choose which photo of a group of near-duplicates to keep.

    Called once per group with its photos in path order (only its protected ones, when
    it holds photos under `--protect`), and the scan's settings (`settings.keep` is the
    rule the user gave with `--keep`). Return one of them, or None to leave the choice
    to the next plugin. The first non-None answer wins; mark
    your implementation `@hookimpl(tryfirst=True)` to be asked before the built-in rule
    (`settings.keep`; by default the camera original, then the most pixels, the largest
    file and the shortest path), which answers last.
    """


# --- observation: for logging, statistics, notifications ------------------------------


@hookspec
def scan_started(settings: ScanSettings) -> None:
    """Called once when a scan starts, before any file is read."""


@hookspec
def photo_skipped(skipped: Skipped) -> None:
    """Called for each file that looked like a photo but could not be used.

    `skipped.reason` is a one-line explanation, such as "image file is truncated".
    """


@hookspec
def scan_finished(result: ScanResult) -> None:
    """Called once when a scan has found its groups, before the sinks write them."""
