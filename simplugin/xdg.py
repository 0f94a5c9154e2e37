"""Where simplugin keeps its own files, by the XDG Base Directory specification.

Its configuration is in `$XDG_CONFIG_HOME/simplugin` (`~/.config/simplugin`), its
signature cache in `$XDG_CACHE_HOME/simplugin` (`~/.cache/simplugin`), the pairs marked as
not duplicates in `$XDG_DATA_HOME/simplugin` (`~/.local/share/simplugin`), the journals
of trash runs in `$XDG_STATE_HOME/simplugin` (`~/.local/state/simplugin`); integrations
install into `$XDG_CONFIG_HOME` and `$XDG_DATA_HOME` (`~/.local/share`), where the home
trash is too.
"""

from __future__ import annotations

import os
from typing import Literal

Kind = Literal["config", "cache", "data", "state"]

# Each kind of folder: its environment variable, and its default under the home folder.
_BASES: dict[str, tuple[str, str]] = {
    "config": ("XDG_CONFIG_HOME", ".config"),
    "cache": ("XDG_CACHE_HOME", ".cache"),
    "data": ("XDG_DATA_HOME", os.path.join(".local", "share")),
    "state": ("XDG_STATE_HOME", os.path.join(".local", "state")),
}


def base_folder(kind: Kind) -> str:
    """The user's folder for files of this kind: the XDG variable when it is an absolute
    path, else its default under the home folder (`~/.config`, `~/.cache`...). The
    specification says a relative value is invalid and must be ignored: it would name
    another folder in every folder the command runs from."""
    variable, default = _BASES[kind]
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return value
    return os.path.join(os.path.expanduser("~"), default)


def simplugin_folder(kind: Kind) -> str:
    """simplugin's own folder within `base_folder(kind)`."""
    return os.path.join(base_folder(kind), "simplugin")
