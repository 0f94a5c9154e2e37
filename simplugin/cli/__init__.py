"""The `simplugin` command.

Data (the report, JSON with `--json -`) goes to stdout; progress, warnings and the
closing summary go to stderr, so the output pipes cleanly.

Each command lives in one module of this package, its `configure_...(commands)`, which
declares its flags, beside the `run...(arguments)` that uses them; `COMMANDS` lists them
in the order `simplugin --help` shows. A new command is a `configure`/`run` pair and one
line there. The scan settings' flags come from `simplugin.settings`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import ExitCode, SimpluginError, Terminated, describe, terminated_by_signals
from ..text import tell as warn
from . import cache, config, explain, git, ignore, integrations, moves, plugins, scan
from .common import ENVIRONMENT, EXIT_CODES

COMMANDS = (
    scan.configure_scan,
    moves.configure_undo,
    moves.configure_apply,
    scan.configure_review,
    explain.configure,
    ignore.configure,
    integrations.configure,
    cache.configure,
    config.configure,
    git.configure,
    plugins.configure,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simplugin",
        description="Find near-duplicate photos in folders of photos.",
        epilog=EXIT_CODES + "\n" + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"simplugin {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for configure in COMMANDS:
        configure(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    warnings.showwarning = show_warning
    try:
        with terminated_by_signals():
            return arguments.run(arguments)
    except SimpluginError as error:
        warn(f"error: {error}")
        return error.exit_code
    except Terminated as stop:  # SIGTERM, SIGHUP: the worker processes have been ended
        warn(f"terminated by {stop}")
        return stop.exit_code
    except KeyboardInterrupt:
        # The work has ended: another Ctrl-C (a user pressing it again) changes nothing,
        # and would only turn the exit into Python's own, with a traceback.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        warn("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # `simplugin scan ... | head`: the reader has gone. Stop quietly, as `cat` does,
        # and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    except SystemExit as exit:
        # Nothing of simplugin's exits once the arguments are parsed: this is plugin code
        # that `blame` does not wrap. It may not choose how simplugin ends.
        where = traceback.extract_tb(exit.__traceback__)[-1]
        warn(
            f"error: {describe(exit)} raised at {where.filename}:{where.lineno}: only"
            " simplugin may end a run"
        )
        return ExitCode.FAILED


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings (a cache set aside...) as one line each, like every other message."""
    warn(f"warning: {message}")
