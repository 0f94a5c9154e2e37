"""What the commands share: their exit codes and help, the scan settings as flags, and
the one-line messages."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Collection, Sequence
from typing import Any

from ..errors import ExitCode, UsageError
from ..plugins import BLOCK_ENV, DISABLE_AUTOLOAD_ENV, PluginHost
from ..reading import JOBS_ENV
from ..settings import SETTINGS, Setting
from ..text import tell as warn

Run = Callable[[argparse.Namespace], int]


def _exit_code_lines(code: ExitCode) -> str:
    return textwrap.fill(
        code.meaning,
        80,
        initial_indent=f"  {code:<5}",
        subsequent_indent=" " * 7,
        break_on_hyphens=False,
    )


EXIT_CODES = "exit codes:\n" + "\n".join(_exit_code_lines(code) for code in ExitCode) + "\n"

ENVIRONMENT = f"""\
environment:
  {DISABLE_AUTOLOAD_ENV}=1   load only simplugin's built-in plugins
  {BLOCK_ENV}=a,b           do not load the plugins (entry points) named a and b
  {JOBS_ENV}=N                      read photos in N processes when neither -j nor the
                                      configuration file's jobs says how many
"""


def command(
    commands: argparse._SubParsersAction, name: str, run: Run, *, epilog=EXIT_CODES, **options
) -> argparse.ArgumentParser:
    """A sub-command: its help, description and exit codes, and the function it runs.
    The description is wrapped here, paragraph by paragraph, since the epilog's layout
    (kept as written) asks for a formatter that wraps nothing."""
    if "description" in options:
        paragraphs = options["description"].split("\n\n")
        options["description"] = "\n\n".join(textwrap.fill(p, 80) for p in paragraphs)
    parser = commands.add_parser(
        name, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter, **options
    )
    parser.set_defaults(run=run)
    return parser


# --- the scan settings as flags (simplugin.settings) -------------------------------------


def add_setting_flags(
    parser: argparse.ArgumentParser,
    only: Collection[str] = (),
    about: str = "also keys of the configuration file, under the same names",
) -> None:
    """A flag for each scan setting that has one (or for those named in `only`), in a
    group of the help that says `about` them."""
    group = parser.add_argument_group("settings", about)
    for setting in SETTINGS.values():
        if (setting.flags or setting.off) and (not only or setting.name in only):
            _add_flags(group, setting)


def _add_flags(group: argparse._ArgumentGroup, setting: Setting) -> None:
    flag: dict[str, Any] = {"dest": setting.name, "help": setting.describe()}
    if setting.switch:
        flag.update(action="store_true", default=None)
    elif setting.is_table:
        flag.update(action="append", default=[], metavar=setting.metavar)
    elif setting.repeatable:
        flag.update(action="append", default=None, metavar=setting.metavar, type=setting.parse)
    else:
        flag.update(metavar=setting.metavar, type=setting.parse, choices=setting.choices)
    if setting.flags:
        group.add_argument(*setting.flags, **flag)
    else:  # only a flag to turn it off
        group.set_defaults(**{setting.name: None})
    for shortcut in setting.shortcuts:
        group.add_argument(
            shortcut.flag,
            dest=f"{setting.name}.{shortcut.key}",
            metavar=shortcut.metavar,
            help=shortcut.help,
        )
    if setting.off:
        off_flag, off_help = setting.off
        group.add_argument(off_flag, dest=f"{setting.name}.off", action="store_true", help=off_help)


def given_settings(arguments: argparse.Namespace) -> dict[str, Any]:
    """The scan settings given on the command line, by name (not those left out)."""
    given = {}
    for setting in SETTINGS.values():
        if not hasattr(arguments, setting.name):
            continue  # not a flag of this command
        value = getattr(arguments, setting.name)
        if setting.is_table:
            value = key_values(value, "/".join(setting.flags))
            for shortcut in setting.shortcuts:
                shortcut_value = getattr(arguments, f"{setting.name}.{shortcut.key}")
                if shortcut_value is not None:
                    value[shortcut.key] = shortcut_value
            value = value or None
        if setting.off and getattr(arguments, f"{setting.name}.off"):
            value = False
        if value is not None:
            given[setting.name] = value
    return given


def key_values(items: Sequence[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, not {item!r}")
        pairs[key.strip()] = value
    return pairs


def report_problems(host: PluginHost, since: int) -> None:
    for problem in host.problems[since:]:
        warn(f"warning: {problem}")
