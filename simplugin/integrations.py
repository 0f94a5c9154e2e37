"""Integrations with other tools (darktable, Geeqie, file managers, git), installed by
`simplugin integrations install NAME`.

Each lives in a folder of the repository's top-level `hooks/` (shipped in the wheel as
`simplugin/hook_files`), with a README and an `install.toml` saying where its files
go. Targets may use `{config}` ($XDG_CONFIG_HOME), `{data}` ($XDG_DATA_HOME) and
`{git_hooks}` (the hooks folder of the git repository in the current folder):

    description = "one line for `simplugin integrations list`"
    [[files]]                       # copied; never over a different existing file
    source = "simplugin.lua"
    target = "{config}/darktable/lua/simplugin.lua"
    executable = false
    [[lines]]                       # appended to a file unless it already has the line
    target = "{config}/darktable/luarc"
    line = 'require "simplugin"'
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import UsageError
from .xdg import base_folder


@dataclass(frozen=True)
class Integration:
    name: str
    folder: Path
    description: str
    files: tuple[dict, ...]
    lines: tuple[dict, ...]

    @property
    def readme(self) -> str:
        path = self.folder / "README.md"
        return path.read_text("utf-8") if path.exists() else self.description + "\n"


def hooks_folder() -> Path:
    return Path(str(resources.files("simplugin") / "hook_files"))


def available() -> dict[str, Integration]:
    integrations = {}
    for manifest in sorted(hooks_folder().glob("*/install.toml")):
        settings = tomllib.loads(manifest.read_text("utf-8"))
        integrations[manifest.parent.name] = Integration(
            manifest.parent.name,
            manifest.parent,
            settings["description"],
            tuple(settings.get("files", ())),
            tuple(settings.get("lines", ())),
        )
    return integrations


def get(name: str) -> Integration:
    integrations = available()
    if name not in integrations:
        raise UsageError(f"no integration {name!r}; there are: {', '.join(integrations)}")
    return integrations[name]


def targets(integration: Integration) -> list[tuple[str, str]]:
    """What installing does, as (what, where) pairs, for `integrations show`."""
    places = [(f"copy {f['source']}", _expand(f["target"])) for f in integration.files]
    for line in integration.lines:
        places.append((f"add the line {line['line']!r} to", _expand(line["target"])))
    return places


def install(integration: Integration) -> tuple[list[str], list[str]]:
    """Install the integration; return what was done and what was not, one line each.
    Never replaces or removes anything: a different file already at a target is left
    as it is (and reported), and the rest is installed."""
    done, refused = [], []
    for entry in integration.files:
        source = integration.folder / entry["source"]
        target = Path(_expand(entry["target"]))
        if target.exists():
            if target.read_bytes() == source.read_bytes():
                done.append(f"already installed: {target}")
            else:
                refused.append(
                    f"{target} exists and is different; left as it is (merge {source} into it"
                    " by hand, or move it away and install again)"
                )
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if entry.get("executable"):
            target.chmod(0o755)
        done.append(f"installed {target}")
    for entry in integration.lines:
        target = Path(_expand(entry["target"]))
        existing = target.read_text("utf-8") if target.exists() else ""
        if entry["line"] in existing.splitlines():
            done.append(f"already in {target}: {entry['line']}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as file:
            if existing and not existing.endswith("\n"):
                file.write("\n")
            file.write(entry["line"] + "\n")
        done.append(f"added to {target}: {entry['line']}")
    return done, refused


def _expand(target: str) -> str:
    places = {"config": base_folder("config"), "data": base_folder("data")}
    if "{git_hooks}" in target:
        places["git_hooks"] = _git_hooks()
    return target.format(**places)


def _git_hooks() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--git-path", "hooks"], capture_output=True, text=True
    )
    if found.returncode != 0:
        raise UsageError("the git integration installs into a git repository: run it inside one")
    return os.path.abspath(found.stdout.strip())
