"""The errors simplugin reports to a user as one line, each with its exit code."""


class SimpluginError(Exception):
    """An error the command line prints as one line, then exits with `exit_code`."""

    exit_code = 3


class UsageError(SimpluginError):
    """The user asked for something that cannot be done: a missing folder, an unknown
    metric, a bad option. Nothing was scanned."""

    exit_code = 2


class OutputIncomplete(SimpluginError):
    """A sink could not do all of its work (a file it cannot write, moves that failed);
    the message says what is left undone. Raised by sinks, shown without naming a plugin."""

    exit_code = 3


class PluginError(SimpluginError):
    """A plugin raised. The message names the plugin, what it was doing and the error."""

    exit_code = 3

    def __init__(self, plugin: str, during: str, error: BaseException):
        self.plugin = plugin
        self.during = during
        self.error = error
        super().__init__(f"plugin {plugin!r} failed in {during}: {describe(error)}")


def describe(error: BaseException) -> str:
    """An exception as one line: its type and message, never a traceback."""
    message = " ".join(str(error).split())
    name = type(error).__name__
    return f"{name}: {message}" if message else name
