"""The configuration file: the settings of `simplugin scan`, and the sinks to run.

`simplugin scan` reads `--config FILE`, else `simplugin.toml` in the current folder,
else `$XDG_CONFIG_HOME/simplugin/config.toml` (`~/.config/...`), if there is one::

    metric = "avgdiff"
    threshold = 0.06
    bucketer = "exif-time"
    undated = "compare-all"

    [bucketer_options]
    window = "5m"

    [[sinks]]
    name = "json"
    path = "dupes.json"

    [[sinks]]
    name = "move"
    to = "~/Pictures/near-duplicates"

The settings are those of `simplugin.scan()`, under the same names (`simplugin.settings`
lists them; `bucket` and `bucket_options`, their names before, still work). Flags on the
command line override the file; a sink given on the command line (`--json`, `--move-to`,
`--sink`) replaces the file's sink of the same name. The file's sinks that change
files (`Sink.changes_files`, such as `move`) run only with `simplugin scan --apply`. A
key the file should not have, or a value of the wrong type, is a one-line error naming
the file, the key and what was expected; sinks' and bucketers' own options are checked
against what the plugin declares. A file that is not a regular file, not UTF-8, larger
than 256 KiB or nested more than 16 deep is refused the same way, before it is parsed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .files import NotRegularFile, open_regular
from .plugins import PluginHost, resolve_options
from .settings import DEFAULT_METRIC, SETTINGS, Setting
from .text import error_reason, human_size, printable, quoted
from .xdg import simplugin_folder

FILE_NAME = "simplugin.toml"

# A configuration is a few hundred bytes; the caps are a thousand times that, and keep
# what tomllib builds from any file small. It builds up to ~200 bytes of tables per
# byte of TOML (a 256 KiB file of distinct nested tables: 50 MB), and keeps, for every
# dotted key, a tuple per prefix of the key, so that a key of n parts costs n²/2 (one
# of 20,000 parts, in a 40 KB file, took 1.5 GB); it parses nested arrays and inline
# tables by recursion. simplugin's own settings nest 2 deep (`[[sinks]]`, a dotted
# `bucketer_options.window`): 16 leaves plugins' options room.
MAX_BYTES = 256 * 1024
MAX_NESTING = 16


# Each setting under each of its names (a name it had before, too), and the sinks.
SETTING_OF_KEY = {key: setting for setting in SETTINGS.values() for key in setting.keys}
SINKS = "sinks"


@dataclass(frozen=True)
class Config:
    """A configuration file, checked: its settings (by name), the key each was given
    under, and its sinks with their options."""

    path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    sinks: tuple[tuple[str, dict[str, Any]], ...] = ()

    def where(self, key: str) -> str:
        """`FILE: KEY`, for an error; a key no one would write is quoted, cut short."""
        shown = key if key.isprintable() and len(key) <= 60 else quoted(key)
        return f"{printable(self.path or '')}: {shown}"

    def where_setting(self, name: str) -> str:
        """`FILE: KEY` for a setting of the file, named as the file names it."""
        return self.where(self.keys.get(name, name))


def user_config_path() -> str:
    return os.path.join(simplugin_folder("config"), "config.toml")


def find(explicit: str | None) -> str | None:
    """The configuration file to read: the one given, else the first that exists (as
    anything: a folder in the way is reported when it is read, not passed over)."""
    if explicit is not None:
        if not os.path.lexists(explicit):
            raise UsageError(f"{printable(explicit)}: no such configuration file")
        return explicit
    for candidate in (FILE_NAME, user_config_path()):
        if os.path.lexists(candidate):
            return candidate
    return None


def load(path: str | None) -> Config:
    """Read and check a configuration file (None: no file, an empty configuration)."""
    if path is None:
        return Config()
    document = parse(path, read_text(path))
    config = Config(path)
    settings: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key, value in document.items():
        if key == SINKS:
            if not isinstance(value, list):
                expected = "an array of tables ([[sinks]]), each with a name"
                raise UsageError(f"{config.where(key)}: expected {expected}, not {quoted(value)}")
            continue
        setting = SETTING_OF_KEY.get(key)
        if setting is None:
            known = ", ".join([*(s.name for s in SETTINGS.values() if s.in_file), SINKS])
            raise UsageError(f"{config.where(key)}: unknown setting (the settings are: {known})")
        if setting.name in keys:
            raise UsageError(
                f"{config.where(key)}: the same setting as {keys[setting.name]}: give one of them"
            )
        complaint = _complaint(setting, value)
        if complaint is not None:
            raise UsageError(f"{config.where(key)}: {complaint}")
        settings[setting.name], keys[setting.name] = value, key
    return Config(path, settings, keys, _sinks(config, document.get(SINKS, [])))


def _complaint(setting: Setting, value: Any) -> str | None:
    """What is wrong with the file's value for `setting`, or None."""
    if not isinstance(value, setting.types) or (
        isinstance(value, bool) and bool not in setting.types
    ):
        return f"expected {setting.expected}, not {quoted(value)}"
    return setting.check(value)


def _sinks(config: Config, tables: list) -> tuple[tuple[str, dict[str, Any]], ...]:
    sinks = []
    for number, table in enumerate(tables, start=1):
        label = f"sinks[{number}]"
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise UsageError(f'{config.where(label)}: expected a table with a name = "..."')
        options = {key: value for key, value in table.items() if key != "name"}
        sinks.append((table["name"], options))
    return tuple(sinks)


def check_plugins(host: PluginHost, config: Config, settings: Mapping[str, Any]) -> None:
    """Check the plugins the file names, and their options, against those installed now,
    so that an error names the file. `settings` are the scan's: a name the command line
    overrides is not the file's to answer for."""
    for name, setting in SETTINGS.items():
        chosen = config.settings.get(name)
        if setting.plugin is None or chosen is None or settings.get(name) != chosen:
            continue
        if setting.none_allowed and chosen == "none":
            continue
        try:
            host.get(setting.plugin, chosen)
        except UsageError as error:
            raise UsageError(f"{config.where_setting(name)}: {error}") from error
    _check_threshold(host, config, settings)
    for name, setting in SETTINGS.items():
        options = config.settings.get(name)
        if not setting.is_table or not options:
            continue
        owner = SETTINGS[setting.options_of]
        chosen = settings.get(owner.name, owner.default)
        if chosen and chosen != "none":
            try:
                resolve_options(owner.plugin, host.get(owner.plugin, chosen), options)
            except UsageError as error:
                raise UsageError(f"{config.where_setting(name)}: {error}") from error


def _check_threshold(host: PluginHost, config: Config, settings: Mapping[str, Any]) -> None:
    """The file's threshold, against the range and words of the metric the scan uses."""
    threshold = config.settings.get("threshold")
    if threshold is None or settings.get("threshold") != threshold:
        return
    try:
        host.metric(settings.get("metric") or DEFAULT_METRIC).threshold_of(threshold)
    except ValueError as error:
        raise UsageError(f"{config.where_setting('threshold')}: {error}") from error


def read_text(path: str) -> str:
    """The file's text: a regular file of at most MAX_BYTES of UTF-8, or a `UsageError`."""
    try:
        with open_regular(path) as file:
            data = file.read(MAX_BYTES + 1)
    except NotRegularFile as error:
        raise UsageError(f"{printable(path)}: {error.kind}, not a configuration file") from None
    except OSError as error:
        raise UsageError(f"{printable(path)}: {error_reason(error)}") from error
    if len(data) > MAX_BYTES:
        limit = human_size(MAX_BYTES)
        raise UsageError(
            f"{printable(path)}: larger than {limit}, too large for a configuration file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{printable(path)}: not UTF-8 text: byte {error.start + 1} cannot be read"
        ) from None


def parse(path: str, text: str) -> dict[str, Any]:
    """The TOML document in `text`, if it nests at most MAX_NESTING deep."""
    line = _too_deep(text)
    if line is not None:
        raise UsageError(
            f"{printable(path)}: line {line}: nested more than {MAX_NESTING} deep"
            " (arrays, tables and dotted keys)"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{printable(path)}: not valid TOML: {error}") from error


# What the nesting of a TOML text is made of: strings and comments (whose content does
# not count), brackets and braces, the dots of dotted keys, and where a key ends.
_TOML_TOKENS = re.compile(
    r"""
      "{3}(?:\\.|[^\\])*?"{3,5}   # multi-line basic string
    | '{3}.*?'{3,5}                   # multi-line literal string
    | "(?:\\.|[^"\\\n])*"            # basic string
    | '[^'\n]*'                        # literal string
    | \#[^\n]*                         # comment
    | [][{}.=,\n]                      # structure
    """,
    re.VERBOSE | re.DOTALL,
)


def _too_deep(text: str) -> int | None:
    """The line at which `text` nests deeper than MAX_NESTING, or None.

    Counted without parsing, so that parsing never starts on a text that would take
    tomllib too much memory or recursion: open brackets and braces, plus the parts of
    the dotted key being read. Anything this cannot tell from a string counts as nesting.
    """
    depth = parts = 0
    for token in _TOML_TOKENS.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            depth, parts = depth + 1, 0
        elif mark in ("]", "}"):
            depth, parts = max(0, depth - 1), 0
        elif mark == ".":
            parts += 1
        elif mark in ("=", ",", "\n"):
            parts = 0
        if depth + parts + 1 > MAX_NESTING:
            return text.count("\n", 0, token.start()) + 1
    return None


def as_toml(settings: dict[str, Any], sinks: list[tuple[str, dict[str, Any]]]) -> str:
    """The effective configuration, written back as the file would say it."""
    lines = [
        f"{key} = {_value(value)}" for key, value in settings.items() if not isinstance(value, dict)
    ]
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            lines += ["", f"[{key}]", *(f"{k} = {_value(v)}" for k, v in value.items())]
    for name, options in sinks:
        lines += ["", "[[sinks]]", f"name = {_value(name)}"]
        lines += [f"{k} = {_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
