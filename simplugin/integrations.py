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
    commands = [{ text = 'or "simplugin")', quoting = "lua" }]
    earlier = ["<SHA-256>", ...]    # files earlier versions installed, besides `source`
    [[lines]]                       # appended to a file unless it already has the line
    target = "{config}/darktable/luarc"
    line = 'require "simplugin"'

The files as shipped run `simplugin` from PATH (so that copying one by hand works), but
a desktop session's PATH rarely holds a virtual environment's bin folder. So installing
writes the command of the running simplugin, `python -m simplugin` with this Python's
absolute path, in place of the word `simplugin` in each of the file's `commands` texts,
quoted by the rules of the place it goes (see QUOTINGS).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
import tempfile
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
    places = [
        (f"copy {f['source']}", _expand(f["target"], showing=True)) for f in integration.files
    ]
    for line in integration.lines:
        places.append((f"add the line {line['line']!r} to", _expand(line["target"], showing=True)))
    return places


def install(integration: Integration, replace_old: bool = False) -> tuple[list[str], list[str]]:
    """Install the integration; return what was done and what was not, one line each.
    Never replaces or removes a file of the user's: a different file already at a target
    is left as it is (and reported), and the rest is installed. With `replace_old`, a
    file that is byte for byte one an earlier simplugin installed (the shipped source,
    which runs `simplugin` from PATH, or one of the entry's `earlier`) is replaced."""
    done, refused = [], []
    for entry in integration.files:
        installed, reason = _install_file(integration, entry, replace_old)
        if installed:
            done.append(installed)
        else:
            refused.append(reason)
    for entry in integration.lines:
        done.append(_add_line(entry))
    return done, refused


def running_command() -> list[str]:
    """The command that runs this simplugin, whatever PATH holds: this Python's `-m`."""
    return [os.path.abspath(sys.executable), "-m", "simplugin"]


def temporary_folder_holding(path: str) -> str | None:
    """The temporary folder `path` is in (it may be cleaned at any time), or None."""
    candidates = {os.path.abspath(path), os.path.realpath(path)}
    for folder in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        for form in {os.path.abspath(folder), os.path.realpath(folder)}:
            if any(Path(candidate).is_relative_to(form) for candidate in candidates):
                return folder
    return None


def rendered(integration: Integration, entry: dict) -> bytes:
    """The file `entry` installs: its source with `simplugin` in each of its `commands`
    texts replaced by the running command, quoted as the text's place needs."""
    text = (integration.folder / entry["source"]).read_text("utf-8")
    for command in entry.get("commands", ()):
        if text.count(command["text"]) != 1:
            raise ValueError(f"{entry['source']}: {command['text']!r} is not there once")
        quoted = QUOTINGS[command["quoting"]](running_command())
        text = text.replace(command["text"], command["text"].replace("simplugin", quoted, 1))
    return text.encode("utf-8", "surrogateescape")


def _install_file(integration: Integration, entry: dict, replace_old: bool) -> tuple[str, str]:
    """Install one file: (what was done, "") or ("", why not)."""
    source = integration.folder / entry["source"]
    target = Path(_expand(entry["target"]))
    content = rendered(integration, entry)
    replacing = False
    if target.exists():
        existing = target.read_bytes()
        if existing == content:
            return f"already installed: {target}", ""
        old = existing == source.read_bytes() or _sha256(existing) in entry.get("earlier", ())
        if not (old and replace_old):
            return "", _refusal(integration, target, source, old)
        replacing = True
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then renamed over it: a reader never sees half a file.
    descriptor, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with open(descriptor, "wb") as file:
        file.write(content)
    os.chmod(partial, 0o755 if entry.get("executable") else 0o644)
    os.replace(partial, target)
    return f"{'replaced the earlier' if replacing else 'installed'} {target}", ""


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _refusal(integration: Integration, target: Path, source: Path, old: bool) -> str:
    if old:
        return (
            f"{target} is the file an earlier simplugin installed, which runs `simplugin`"
            f" from PATH; replace it with: simplugin integrations install {integration.name}"
            " --replace-old"
        )
    return (
        f"{target} exists and is different; left as it is (merge {source} into it"
        " by hand, or move it away and install again)"
    )


def _add_line(entry: dict) -> str:
    target = Path(_expand(entry["target"]))
    existing = target.read_text("utf-8") if target.exists() else ""
    if entry["line"] in existing.splitlines():
        return f"already in {target}: {entry['line']}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as file:
        if existing and not existing.endswith("\n"):
            file.write("\n")
        file.write(entry["line"] + "\n")
    return f"added to {target}: {entry['line']}"


# --- quoting the command for each kind of file ----------------------------------------

# The Desktop Entry specification's reserved characters: an Exec argument holding one
# must be quoted.
_DESKTOP_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def _desktop_string(text: str) -> str:
    """A value of type string in a .desktop file: backslash and control characters escaped."""
    escapes = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return "".join(escapes.get(character, character) for character in text)


def _desktop_exec(command: list[str]) -> str:
    """Arguments of an Exec line: each holding a reserved character in double quotes,
    with " ` $ \\ escaped by a backslash; % doubled (it starts a field code); then the
    whole escaped as a string, which a reader undoes first."""
    words = []
    for word in command:
        if not word or _DESKTOP_RESERVED & set(word):
            word = '"' + re.sub(r'(["`$\\])', r"\\\1", word) + '"'
        words.append(word.replace("%", "%%"))
    return _desktop_string(" ".join(words))


def _lua_string(command: list[str]) -> str:
    """The inside of a Lua "..." string holding the shell command (io.popen runs it with
    sh): bytes other than printable ASCII, and " and \\, as decimal escapes."""
    return "".join(
        chr(byte) if 0x20 <= byte < 0x7F and byte not in b'"\\' else f"\\{byte:03d}"
        for byte in os.fsencode(shlex.join(command))
    )


def _thunar_command(command: list[str]) -> str:
    """A Thunar custom action's <command>: Thunar turns %% into % and runs it with sh -c;
    the text is XML."""
    text = shlex.join(command).replace("%", "%%")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


QUOTINGS = {
    "shell": shlex.join,
    "desktop-exec": _desktop_exec,
    "desktop-path": lambda command: _desktop_string(command[0]),  # TryExec: the program
    "lua": _lua_string,
    "thunar": _thunar_command,
}


def _expand(target: str, showing: bool = False) -> str:
    places = {"config": base_folder("config"), "data": base_folder("data")}
    if "{git_hooks}" in target:
        places["git_hooks"] = _git_hooks(showing)
    return target.format(**places)


def _git_hooks(showing: bool) -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--git-path", "hooks"], capture_output=True, text=True
    )
    if found.returncode == 0:
        return os.path.abspath(found.stdout.strip())
    if showing:  # where it would go, for someone reading before going into a repository
        return os.path.join("<your repository>", ".git", "hooks")
    raise UsageError("the git integration installs into a git repository: run it inside one")
