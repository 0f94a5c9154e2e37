"""The errors simplugin reports to a user as one line, each with its exit code, the exit
codes themselves, and `blame`, through which every call into a plugin's code goes."""

from __future__ import annotations

import enum
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ExitCode(enum.IntEnum):
    """Every way the `simplugin` command ends, with what it means: the one list that its
    errors, its commands, its `--help` and the README's table are made from."""

    OK = 0, "the scan ran (whether or not it found near-duplicates)"
    DUPLICATES = (
        1,
        (
            "near-duplicates were found and --fail-on-duplicates was given (scan),"
            " or a staged photo is a near-duplicate of a committed one (check-staged)"
        ),
    )
    USAGE = 2, "usage error: bad option, missing path, unknown or conflicting plugin name"
    FAILED = (
        3,
        (
            "the scan ran but a plugin or an output failed (see stderr); for apply and"
            " undo, some files were left where they were; for integrations install, a file"
            " of yours was in the way and was left as it is"
        ),
    )
    # 128 + N: ended by signal N, as a shell reports it.
    HANGUP = 129, "ended by SIGHUP (the terminal was closed)"
    INTERRUPTED = 130, "interrupted (Ctrl-C, SIGINT)"
    BROKEN_PIPE = 141, "stdout was closed early (e.g. piped into head)"
    TERMINATED = 143, "ended by SIGTERM"

    def __new__(cls, code: int, meaning: str):
        member = int.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member


class SimpluginError(Exception):
    """An error the command line prints as one line, then exits with `exit_code`."""

    exit_code = ExitCode.FAILED


class UsageError(SimpluginError):
    """The user asked for something that cannot be done: a missing folder, an unknown
    metric, a bad option. Nothing was scanned."""

    exit_code = ExitCode.USAGE


class OutputIncomplete(SimpluginError):
    """A sink could not do all of its work (a file it cannot write, moves that failed);
    the message says what is left undone. Raised by sinks, shown without naming a plugin."""

    exit_code = ExitCode.FAILED


class PluginError(SimpluginError):
    """A plugin raised. The message names the plugin, what it was doing and the error."""

    exit_code = ExitCode.FAILED

    def __init__(self, plugin: str, during: str, error: BaseException):
        self.plugin = plugin
        self.during = during
        self.error = error
        super().__init__(f"plugin {plugin!r} failed in {during}: {describe(error)}")

    def __reduce__(self):  # a worker process sends it back to the scan whole
        return (type(self), (self.plugin, self.during, self.error))

    @property
    def about_one_photo(self) -> bool:
        """True for an ordinary exception, which costs only the photo being read; a
        `SystemExit` or other `BaseException` is the plugin trying to end the run."""
        return isinstance(self.error, Exception)


# The signals that end the command as Ctrl-C does, each with exit code 128 + its number
# (ExitCode.TERMINATED, ExitCode.HANGUP).
TERMINATING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the command. It stops as for Ctrl-C (a KeyboardInterrupt,
    so that no plugin is blamed for it and every clean-up on the way out runs), and
    exits with 128 + the signal's number, as a shell reports a command a signal ended."""

    def __init__(self, signal_number: int):
        self.signal_number = signal_number
        self.exit_code = ExitCode(128 + signal_number)
        super().__init__(signal.Signals(signal_number).name)


@contextmanager
def blame(plugin: str, during: str, spare: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Run a plugin's code: whatever it raises, `SystemExit` included, is that plugin
    failing and comes out as a `PluginError` naming it, never as an exit of the plugin's
    choosing. Ctrl-C (and `Terminated`) stays what it is; so do a `PluginError`, already
    blamed, and the exceptions in `spare`, which the caller handles itself."""
    try:
        yield
    except (KeyboardInterrupt, PluginError, *spare):
        raise
    except BaseException as error:
        raise PluginError(plugin, during, error) from error


@contextmanager
def terminated_by_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise `Terminated` in the main thread, so the
    command stops as it does for Ctrl-C; the previous handlers come back on the way out.
    (Only the main thread may set handlers: elsewhere this does nothing.)"""

    def stop(signal_number: int, frame: object) -> None:
        raise Terminated(signal_number)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, stop) for number in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def describe(error: BaseException) -> str:
    """An exception as one line: its type and message, never a traceback."""
    message = " ".join(str(error).split())
    name = type(error).__name__
    return f"{name}: {message}" if message else name
