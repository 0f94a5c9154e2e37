"""The configuration file: the settings of `simplugin scan`, and the sinks to run.

`simplugin scan` reads `--config FILE`, else `simplugin.toml` in the current folder,
else `$XDG_CONFIG_HOME/simplugin/config.toml` (`~/.config/...`), if there is one::

    metric = "avgdiff"
    threshold = 0.06
    bucket = "exif-time"
    undated = "compare-all"

    [bucket_options]
    window = "5m"

    [[sinks]]
    name = "json"
    path = "dupes.json"

    [[sinks]]
    name = "move"
    to = "~/Pictures/near-duplicates"

Flags on the command line override the file; a sink given on the command line
(`--json`, `--move-to`, `--sink`) replaces the file's sink of the same name. A key the
file should not have, or a value of the wrong type, is a one-line error naming the
file, the key and what was expected; sinks' and bucketers' own options are checked
against what the plugin declares.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

FILE_NAME = "simplugin.toml"

# Each setting of the file: the types it may have, what it is (for errors), and the
# argument of `simplugin.scan()` it sets.
SETTINGS: dict[str, tuple[tuple[type, ...], str, str | None]] = {
    "metric": ((str,), "a metric name", "metric"),
    "threshold": ((int, float), "a number", "threshold"),
    "bucket": ((str,), 'a bucketer name, or "none"', "bucketer"),
    "bucket_options": ((dict,), "a table of the bucketer's options", "bucketer_options"),
    "undated": ((str,), '"compare-all" or "separate"', "undated"),
    "jobs": ((int,), "a number of processes", "jobs"),
    "cache": ((str, bool), "a path, or false", "cache"),
    "follow_symlinks": ((bool,), "true or false", "follow_symlinks"),
    "sinks": ((list,), "an array of tables ([[sinks]]), each with a name", None),
}
SCAN_ARGUMENTS = {key: argument for key, (_, _, argument) in SETTINGS.items() if argument}


@dataclass(frozen=True)
class Config:
    """A configuration file, checked: its settings, and its sinks with their options."""

    path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    sinks: tuple[tuple[str, dict[str, Any]], ...] = ()

    def where(self, key: str) -> str:
        return f"{self.path}: {key}"


def user_config_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "simplugin", "config.toml")


def find(explicit: str | None) -> str | None:
    """The configuration file to read: the one given, else the first that exists."""
    if explicit is not None:
        if not os.path.isfile(explicit):
            raise UsageError(f"{explicit}: no such configuration file")
        return explicit
    for candidate in (FILE_NAME, user_config_path()):
        if os.path.isfile(candidate):
            return candidate
    return None


def load(path: str | None) -> Config:
    """Read and check a configuration file (None: no file, an empty configuration)."""
    if path is None:
        return Config()
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: not valid TOML: {error}") from error
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or error}") from error
    config = Config(path)
    for key, value in document.items():
        if key not in SETTINGS:
            known = ", ".join(SETTINGS)
            raise UsageError(f"{config.where(key)}: unknown setting (the settings are: {known})")
        types, expected, _ = SETTINGS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise UsageError(f"{config.where(key)}: expected {expected}, not {value!r}")
    sinks = []
    for number, table in enumerate(document.pop("sinks", []), start=1):
        label = f"sinks[{number}]"
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise UsageError(f'{config.where(label)}: expected a table with a name = "..."')
        options = {key: value for key, value in table.items() if key != "name"}
        sinks.append((table["name"], options))
    return Config(path, document, tuple(sinks))


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
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
