"""`simplugin integrations` (also `simplugin hooks`, its name before): the integrations
with other tools, in the top-level hooks/ folder."""

from __future__ import annotations

import argparse

from .. import integrations
from ..errors import ExitCode, UsageError
from ..text import printable
from ..text import tell as warn
from .common import command


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "integrations",
        run,
        aliases=["hooks"],
        help="list, show or install the integrations with other tools",
        description="Integrations that put simplugin inside tools you already use: darktable"
        " (a Lua script), Geeqie (a plugin), Nautilus (a script), Thunar (a custom action) and"
        " git (a pre-commit hook). 'list' names them, 'show NAME' prints how one works and"
        " where its files go, 'install NAME' puts them there, running this simplugin"
        " (this Python's absolute path, `python -m simplugin`) so that they work whatever"
        " the desktop's PATH holds, a virtual environment's simplugin too. Installing never"
        " replaces a file of yours: a different file already in place is reported and left"
        " alone. 'hooks' is another name for this command.",
    )
    parser.add_argument("action", choices=("list", "show", "install"))
    parser.add_argument("name", nargs="?", metavar="NAME", help="for show and install")
    parser.add_argument(
        "--replace-old",
        action="store_true",
        help="install: replace a file that is byte for byte the one an earlier simplugin"
        " installed (running `simplugin` from PATH); a file you edited is still left alone",
    )


def run(arguments: argparse.Namespace) -> int:
    if arguments.action == "list":
        for integration in integrations.available().values():
            print(f"{integration.name:10} {integration.description}")
        return ExitCode.OK
    if not arguments.name:
        raise UsageError(f"{arguments.command} {arguments.action} needs the NAME of an integration")
    integration = integrations.get(arguments.name)
    if arguments.action == "show":
        print(integration.readme.rstrip())
        print("\nfiles:")
        for what, where in integrations.targets(integration):
            print(f"  {what} -> {where}")
        return ExitCode.OK
    done, refused = integrations.install(integration, replace_old=arguments.replace_old)
    python = integrations.running_command()[0]
    temporary = integrations.temporary_folder_holding(python)
    if temporary:
        warn(
            f"warning: the installed files run {printable(python)}, inside the temporary"
            f" folder {printable(temporary)}: they will stop working when it is cleaned"
            " (install from a simplugin outside it)"
        )
    for line in done:
        print(line)
    for line in refused:
        warn(f"not installed: {line}")
    return ExitCode.FAILED if refused else ExitCode.OK
