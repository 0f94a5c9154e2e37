"""The settings of a scan, each described once.

A setting is what `simplugin.scan()` takes as a keyword, the configuration file as a key
and `simplugin scan` (and `review`) as a flag: the metric, the threshold, the bucketer...
`SETTINGS` describes each one once, under one name, and the rest is derived from it:

- the keywords of `simplugin.scan()`, their defaults and what `help(simplugin.scan)` says
  of them (`engine.scan`, through `resolve`);
- the flags of `simplugin scan` and `simplugin review`, with their help (`cli.common`);
- the keys the configuration file may have and how each value is checked (`config.load`),
  and what `simplugin config show` prints.

To add a setting (a keeper rule, an exclude list...):

1. add one `Setting` to `SETTINGS`: its name (the keyword and the file's key), default,
   type as `help()` shows it and one line of help; `flags` to give it on the command line
   (none: the API and the file only); `types`, `expected` and `check` for the file's
   value (`in_file=False` keeps it out of the file);
2. use it in `engine.scan`, where every setting is in `chosen`, defaults filled in (and
   put it in `ScanSettings` if plugins should see it).

Nothing else changes: the flags, the file's checks, `config show` and `help()` follow.
When a name that users already type changes, the old one stays in `flags` (after the
first, which is the one `--help` shows first) or in `old_keys`.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .cache import default_path as cache_default_path
from .ignored import default_path as ignore_list_default_path
from .reading import JOBS_ENV, JOBS_PER_CORE, checked_jobs, default_jobs
from .text import quoted
from .types import DEFAULT_KEEP

DEFAULT_METRIC = "avgdiff"
DEFAULT_BUCKETER = "exif-time"
DEFAULT_EXECUTOR = "local"
UNDATED_CHOICES = ("compare-all", "separate")

# What the keeper rule can prefer (the built-in `keeper` plugin implements each).
KEEP_CRITERIA = (
    "original",
    "oldest",
    "newest",
    "largest",
    "biggest-file",
    "shortest-path",
    "sharpest",
)
KEEP_FOLDER = "path:"  # "path:~/Pictures/Originals": the photos under that folder

# Folders that never hold the user's own photos, only a program's copies of them; a
# pattern without "/" matches a name at any depth.
DEFAULT_EXCLUDES = (
    "@eaDir",  # Synology DSM's thumbnails, beside every photo folder
    ".@__thumb",  # QNAP's thumbnails
    ".thumbnails",  # the old freedesktop.org thumbnail cache (~/.thumbnails)
    "**/.cache/thumbnails",  # the freedesktop.org thumbnail cache
    "**/.cache/darktable/mipmaps-*",  # darktable's thumbnail cache
    "*.lrdata",  # Lightroom Classic's previews and smart previews
    ".dtrash",  # digiKam's trash, in each collection's folder
    ".Trash",  # the trash of a volume (freedesktop.org, macOS)
    ".Trash-*",  # the trash of a volume, per user (freedesktop.org: .Trash-1000)
    "**/.local/share/Trash",  # the desktop's trash (freedesktop.org)
    ".Trashes",  # the trash of a volume on macOS
    "$RECYCLE.BIN",  # the recycle bin of a drive on Windows
    ".AppleDouble",  # resource forks that netatalk and macOS keep beside files
)


@dataclass(frozen=True, slots=True)
class Shortcut:
    """A flag that sets one option of a table setting: `--window 5m` is
    `--bucketer-option window=5m`."""

    flag: str
    key: str
    metavar: str
    help: str


def _any_value(value: Any) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of a scan, everywhere it can be given.

    `check` judges a value of the right type from the configuration file: None when it
    is good, else the rest of the one-line error (`expected ..., not ...`). `plugin` is the
    kind of plugin the value names, checked against the installed ones before a photo is
    read; `options_of` makes the setting a table of options of the plugin another setting
    names, each given on the command line as `KEY=VALUE` and merged over the file's.
    """

    name: str  # the keyword of simplugin.scan(), the key of the file
    default: Any
    annotation: str  # what simplugin.scan() takes
    help: str | Callable[[], str]  # a function when it shows what depends on the machine
    flags: tuple[str, ...] = ()  # on the command line; the first is the name shown
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None  # a flag's text to a value (None: the text)
    choices: tuple[str, ...] | None = None
    switch: bool = False  # a flag without a value: on
    repeatable: bool = False  # a flag given again adds to a list
    off: tuple[str, str] | None = None  # a flag for False, and its help; wins over `flags`
    shortcuts: tuple[Shortcut, ...] = ()
    in_file: bool = True
    old_keys: tuple[str, ...] = ()
    types: tuple[type, ...] = ()  # what TOML value the file may give
    expected: str = ""  # what that is, for an error
    check: Callable[[Any], str | None] = _any_value
    plugin: str | None = None
    none_allowed: bool = False  # "none" (in the API, also None) names no plugin
    options_of: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Its keys in the configuration file, the one shown first."""
        return (self.name, *self.old_keys) if self.in_file else ()

    @property
    def is_table(self) -> bool:
        return self.options_of is not None

    def describe(self) -> str:
        """Its help, as of now (the cache folder and the number of cores may change)."""
        return self.help() if callable(self.help) else self.help


def _expected(what: str, value: Any) -> str:
    return f"expected {what}, not {quoted(value)}"


def _check_threshold(threshold: float | str) -> str | None:
    """A word is checked against the metric's words once the metric is known (by the
    engine), as a number is against its range."""
    if isinstance(threshold, str) or (math.isfinite(threshold) and threshold >= 0):
        return None
    return _expected("a number of 0 or more", threshold)


def _threshold_flag(text: str) -> float | str:
    """--threshold T: a number, else a word the metric names (checked by the engine)."""
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _check_undated(undated: str) -> str | None:
    return None if undated in UNDATED_CHOICES else _expected(_UNDATED, undated)


def _check_strings(values: list) -> str | None:
    for value in values:
        if not isinstance(value, str):
            return _expected("a list of strings", value)
    return None


def _check_jobs(jobs: int) -> str | None:
    try:
        checked_jobs(jobs)
    except ValueError:
        most = JOBS_PER_CORE * default_jobs()
        return _expected(f"a whole number from 1 to {most} ({JOBS_PER_CORE} per core)", jobs)
    return None


def _jobs_flag(text: str) -> int:
    """-j N, checked as argparse checks a value: a bad one is a usage error naming -j."""
    try:
        return checked_jobs(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def checked_keep(criteria: str | Iterable[str]) -> tuple[str, ...]:
    """The keeper rule's criteria, in order: a list, or one text with commas between
    them. Raises ValueError naming an unknown criterion and the valid ones."""
    if isinstance(criteria, str):
        criteria = criteria.split(",")
    checked = tuple(str(criterion).strip() for criterion in criteria)
    for criterion in checked:
        folder = criterion.startswith(KEEP_FOLDER) and criterion[len(KEEP_FOLDER) :].strip()
        if criterion not in KEEP_CRITERIA and not folder:
            valid = ", ".join((*KEEP_CRITERIA, f"{KEEP_FOLDER}FOLDER"))
            raise ValueError(f"unknown keep criterion {quoted(criterion)} (valid: {valid})")
    if not checked:
        raise ValueError("no keep criterion given")
    return checked


def _keep_flag(text: str) -> tuple[str, ...]:
    try:
        return checked_keep(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _check_keep(criteria: list) -> str | None:
    try:
        checked_keep(criteria)
    except ValueError as error:
        return str(error)
    return None


_UNDATED = " or ".join(f'"{choice}"' for choice in UNDATED_CHOICES)

SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        Setting(
            "metric",
            DEFAULT_METRIC,
            "str",
            f"how photos are compared (default: {DEFAULT_METRIC}; see 'simplugin plugins')",
            flags=("--metric",),
            metavar="NAME",
            types=(str,),
            expected="a metric name",
            plugin="metric",
        ),
        Setting(
            "threshold",
            None,
            "float | str | None",
            "a pair is a near-duplicate when its distance is below T; 0 finds identical"
            " photos (distance 0). A number within the metric's range (0 to 1 for"
            f" {DEFAULT_METRIC}) or a word: strict, default or loose ({DEFAULT_METRIC}:"
            " 0.03, 0.07, 0.11; default: the metric's own)",
            flags=("--threshold",),
            metavar="T",
            parse=_threshold_flag,
            types=(int, float, str),
            expected="a number, or a word such as strict, default or loose",
            check=_check_threshold,
        ),
        Setting(
            "only_identical",
            False,
            "bool",
            "only byte-identical copies count as duplicates: every other pair is left out,"
            " so the sinks act only on groups of identical files",
            flags=("--only-identical",),
            switch=True,
            types=(bool,),
            expected="true or false",
        ),
        Setting(
            "rotations",
            False,
            "bool",
            "a photo also matches its copies turned by 90, 180 or 270 degrees or mirrored"
            " (the pixels turned, not only the EXIF tag); for a metric that supports it,"
            f" such as {DEFAULT_METRIC}",
            flags=("--rotations",),
            switch=True,
            types=(bool,),
            expected="true or false",
        ),
        Setting(
            "keep",
            DEFAULT_KEEP,
            "str | Iterable[str]",
            "which photo of a group to keep: criteria separated by commas, the first that"
            " tells the photos apart decides. original (the camera's file over an edited or"
            " exported copy), oldest, newest (capture time, then file time), largest"
            " (pixels), biggest-file, shortest-path, sharpest (the least blurred),"
            " path:FOLDER (a photo under FOLDER)."
            f" Default: {','.join(DEFAULT_KEEP)}",
            flags=("--keep",),
            metavar="CRITERIA",
            parse=_keep_flag,
            types=(list, str),
            expected="a list of keep criteria",
            check=_check_keep,
        ),
        Setting(
            "protect",
            (),
            "Iterable[str | os.PathLike]",
            "a folder or photo never moved or otherwise changed (repeatable): a group holding"
            " a protected photo keeps one, and a group of protected photos only is reported,"
            " never acted on",
            flags=("--protect",),
            metavar="PATH",
            repeatable=True,
            types=(list,),
            expected="a list of paths",
            check=_check_strings,
        ),
        Setting(
            "bucketer",
            DEFAULT_BUCKETER,
            "str | None",
            f"compare only photos that this bucketer puts together (default: {DEFAULT_BUCKETER},"
            " photos taken close together; 'none' compares every photo with every other)",
            flags=("--bucketer", "--bucket"),
            metavar="NAME",
            old_keys=("bucket",),
            types=(str,),
            expected='a bucketer name, or "none"',
            plugin="bucketer",
            none_allowed=True,
        ),
        Setting(
            "bucketer_options",
            None,
            "Mapping[str, Any] | None",
            "the bucketer's options, e.g. exif-time's window (on the command line: KEY=VALUE,"
            " repeatable)",
            flags=("--bucketer-option", "--bucket-option"),
            metavar="KEY=VALUE",
            shortcuts=(
                Shortcut(
                    "--window",
                    "window",
                    "DURATION",
                    "exif-time: the longest gap within one burst, e.g. 90s, 5m, 2h (default: 60s)",
                ),
            ),
            old_keys=("bucket_options",),
            types=(dict,),
            expected="a table of the bucketer's options",
            options_of="bucketer",
        ),
        Setting(
            "undated",
            "compare-all",
            "str",
            "photos without a capture time: compare them with every photo (default),"
            " or only with each other",
            flags=("--undated",),
            choices=UNDATED_CHOICES,
            types=(str,),
            expected=_UNDATED,
            check=_check_undated,
        ),
        Setting(
            "jobs",
            None,
            "int | None",
            lambda: (
                f"read photos in N processes, from 1 to {JOBS_PER_CORE} per core (default:"
                f" ${JOBS_ENV}, else one per core, {default_jobs()} here)"
            ),
            flags=("-j", "--jobs"),
            metavar="N",
            parse=_jobs_flag,
            types=(int,),
            expected="a number of processes",
            check=_check_jobs,
        ),
        Setting(
            "executor",
            DEFAULT_EXECUTOR,
            "str",
            f"where the work runs (default: {DEFAULT_EXECUTOR}, the --jobs processes forked on"
            " this machine; see 'simplugin plugins' for the executors installed)",
            flags=("--executor",),
            metavar="NAME",
            types=(str,),
            expected="an executor name",
            plugin="executor",
        ),
        Setting(
            "executor_options",
            None,
            "Mapping[str, Any] | None",
            "the executor's options, e.g. dask's address=tcp://HOST:8786 (a scheduler"
            " already running) or spread_from=N (on the command line: KEY=VALUE,"
            " repeatable; README: 'More than one machine')",
            flags=("--executor-option",),
            metavar="KEY=VALUE",
            types=(dict,),
            expected="a table of the executor's options",
            options_of="executor",
        ),
        Setting(
            "cache",
            True,
            "str | os.PathLike | bool",
            lambda: (
                "the signature cache, so a re-scan reads only new and changed photos"
                f" (default: {cache_default_path()})"
            ),
            flags=("--cache",),
            metavar="PATH",
            off=("--no-cache", "neither read nor write the signature cache"),
            types=(str, bool),
            expected="a path, or false",
        ),
        Setting(
            "ignore_list",
            True,
            "str | os.PathLike | bool",
            lambda: (
                "the pairs marked as not duplicates ('simplugin ignore'), which the scan leaves"
                f" out before grouping (default: {ignore_list_default_path()})"
            ),
            flags=("--ignore-list",),
            metavar="PATH",
            off=("--no-ignore-list", "leave no pair out: do not read the ignore list"),
            types=(str, bool),
            expected="a path, or false",
        ),
        Setting(
            "follow_symlinks",
            False,
            "bool",
            "follow symbolic links (the same file reached twice is still read once)",
            flags=("--follow-symlinks",),
            switch=True,
            types=(bool,),
            expected="true or false",
        ),
        Setting(
            "exclude",
            (),
            "Iterable[str | os.PathLike]",
            "folders and files not to read: a pattern matched against each path relative to"
            " the scanned folder (* within a name, ** any folders: 'Downloads/**', '*.png'; a"
            " name alone matches at any depth), or a path (repeatable)",
            flags=("--exclude",),
            metavar="GLOB",
            repeatable=True,
            types=(list,),
            expected="a list of patterns or paths",
            check=_check_strings,
        ),
        Setting(
            "default_excludes",
            True,
            "bool",
            "also pass over the folders that hold a program's copies of photos, never the"
            f" user's own: {', '.join(DEFAULT_EXCLUDES)}",
            off=(
                "--no-default-excludes",
                "scan the folders that are excluded by default ("
                + ", ".join(DEFAULT_EXCLUDES)
                + "); a folder holding a CACHEDIR.TAG is still passed over",
            ),
            types=(bool,),
            expected="true or false",
        ),
    )
}


def resolve(given: Mapping[str, Any], caller: str = "scan") -> dict[str, Any]:
    """Every setting: those `given` (by name), the others' defaults. A name that is no
    setting is a TypeError, as for any function's unexpected keyword."""
    for name in given:
        if name not in SETTINGS:
            close = difflib.get_close_matches(name, SETTINGS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{hint}")
    return {name: given.get(name, setting.default) for name, setting in SETTINGS.items()}


def merged(below: Mapping[str, Any], above: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of `above` over those of `below` (the command line over the file); a
    table of options is merged option by option."""
    settings = {**below, **above}
    for name, value in above.items():
        if SETTINGS[name].is_table and below.get(name):
            settings[name] = {**below[name], **value}
    return settings


def with_settings(function: Callable) -> Callable:
    """`function(..., **settings)` as `help()` and `inspect.signature` should show it: a
    keyword per setting, with its default, and a line of help for each in its docstring."""
    signature = inspect.signature(function)
    parameters = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    parameters += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=setting.default,
            annotation=setting.annotation,
        )
        for name, setting in SETTINGS.items()
    ]
    function.__signature__ = signature.replace(parameters=parameters)
    described = [
        textwrap.fill(
            f"{name}={setting.default!r}: {setting.describe()}", 88, subsequent_indent="    "
        )
        for name, setting in SETTINGS.items()
    ]
    doc = inspect.cleandoc(function.__doc__ or "")
    function.__doc__ = f"{doc}\n\nSettings, each a keyword:\n\n" + "\n".join(described)
    return function
