"""The `simplugin` command.

Data (the report, JSON with `--json -`) goes to stdout; progress, warnings and the
closing summary go to stderr, so the output pipes cleanly.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
import traceback
import warnings
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, integrations
from .cache import SignatureCache
from .cache import default_path as cache_default_path
from .config import FILE_NAME as CONFIG_FILE_NAME
from .config import SCAN_ARGUMENTS, Config, as_toml, user_config_path
from .config import find as find_config
from .config import load as load_config
from .engine import DEFAULT_BUCKETER, UNDATED_CHOICES, SinkRequest, deliver, prepare_sinks, scan
from .errors import (
    SimpluginError,
    Terminated,
    UsageError,
    blame,
    describe,
    terminated_by_signals,
)
from .hookspecs import hookimpl
from .imaging import Unreadable, probe
from .moves import undo
from .plan import load_plan
from .plugins import (
    BLOCK_ENV,
    DISABLE_AUTOLOAD_ENV,
    KINDS,
    PluginHost,
    load_plugins,
    resolve_options,
)
from .reading import JOBS_ENV, JOBS_PER_CORE, checked_jobs, default_jobs
from .staged import enter_work_tree, scratch_folder, staged_files
from .text import human_size, printable, quoted
from .text import tell as warn
from .types import ScanResult, Sink, Skipped

EXIT_OK = 0
EXIT_DUPLICATES = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as for any command whose reader stopped early

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    the scan ran (whether or not it found near-duplicates)
  {EXIT_DUPLICATES}    near-duplicates were found and --fail-on-duplicates was given (scan),
       or a staged photo is a near-duplicate of a committed one (check-staged)
  {EXIT_USAGE}    usage error: bad option, missing path, unknown or conflicting plugin name
  {EXIT_FAILED}    the scan ran but a plugin or an output failed (see stderr); for apply and
       undo, some files were left where they were; for hooks install, a file
       of yours was in the way and was left as it is
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C, SIGINT)
  128+N  ended by signal N: 143 for SIGTERM, 129 for SIGHUP
  {EXIT_BROKEN_PIPE}  stdout was closed early (e.g. piped into head)
"""

ENVIRONMENT = f"""\
environment:
  {DISABLE_AUTOLOAD_ENV}=1   load only simplugin's built-in plugins
  {BLOCK_ENV}=a,b           do not load the plugins (entry points) named a and b
  {JOBS_ENV}=N                      read photos in N processes when neither -j nor the
                                      configuration file's jobs says how many
"""


def jobs_argument(text: str) -> int:
    """-j N, checked as argparse checks a value: a bad one is a usage error naming -j."""
    try:
        return checked_jobs(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def command(commands, name: str, run, *, epilog: str = EXIT_CODES, **settings):
    """A sub-command: its help, description and exit codes, and the function it runs."""
    parser = commands.add_parser(
        name, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter, **settings
    )
    parser.set_defaults(run=run)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simplugin",
        description="Find near-duplicate photos in folders of photos.",
        epilog=EXIT_CODES + "\n" + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"simplugin {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    scan_parser = command(
        commands,
        "scan",
        run_scan,
        help="find near-duplicate photos under folders",
        description=(
            "Walk the folders recursively, read every photo (any format Pillow can open,"
            " recognised by content), compare them and print each group of near-duplicates,"
            " the photo to keep first, then the others with their distance to it."
            " Files that cannot be read are reported on stderr and the scan goes on."
        ),
    )
    scan_parser.add_argument("paths", nargs="+", metavar="PATH", help="folders or photos")
    scan_parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"settings and sinks (default: ./{CONFIG_FILE_NAME}, else {user_config_path()});"
        " flags given here override it",
    )
    scan_parser.add_argument(
        "--metric",
        metavar="NAME",
        help="how photos are compared (default: avgdiff; see 'simplugin plugins')",
    )
    scan_parser.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="a pair is a near-duplicate when its distance is below T"
        " (default: the metric's own, 0.07 for avgdiff)",
    )
    scan_parser.add_argument(
        "--bucket",
        metavar="NAME",
        help=f"compare only photos that this bucketer puts together (default: {DEFAULT_BUCKETER},"
        " photos taken close together; 'none' compares every photo with every other)",
    )
    scan_parser.add_argument(
        "--window",
        metavar="DURATION",
        help="exif-time: the longest gap within one burst, e.g. 90s, 5m, 2h (default: 60s)",
    )
    scan_parser.add_argument(
        "--undated",
        choices=UNDATED_CHOICES,
        help="photos without a capture time: compare them with every photo (default),"
        " or only with each other",
    )
    scan_parser.add_argument(
        "--bucket-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another option for the bucketer (repeatable)",
    )
    scan_parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the result as JSON to FILE; '-' writes it to stdout instead of the report",
    )
    scan_parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write a report to review in a browser: thumbnails of every group, choose"
        " keepers, export a plan for 'simplugin apply' (thumbnails go in FILE's folder)",
    )
    scan_parser.add_argument(
        "--move-to",
        metavar="DEST",
        help="move every duplicate (never a keeper) into DEST, keeping its path relative to"
        " the scanned folder, with its sidecars and RAW/JPEG twin; journaled: see 'simplugin undo'",
    )
    scan_parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --move-to: print what would move, and change nothing",
    )
    scan_parser.add_argument(
        "--sink",
        action="append",
        default=[],
        metavar="NAME",
        help="also send the result to this sink (repeatable; see 'simplugin plugins')",
    )
    scan_parser.add_argument(
        "--sink-option",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="an option for a sink given with --sink, e.g. csv.path=dupes.csv (repeatable)",
    )
    scan_parser.add_argument(
        "--fail-on-duplicates",
        action="store_true",
        help=f"exit with {EXIT_DUPLICATES} when near-duplicates are found (for CI and git hooks)",
    )
    scan_parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        default=None,
        help="follow symbolic links (the same file reached twice is still read once)",
    )
    scan_parser.add_argument(
        "-j",
        "--jobs",
        type=jobs_argument,
        metavar="N",
        help=f"read photos in N processes, from 1 to {JOBS_PER_CORE} per core (default:"
        f" ${JOBS_ENV}, else one per core, {default_jobs()} here)",
    )
    scan_parser.add_argument(
        "--cache",
        metavar="PATH",
        help=f"the signature cache, so a re-scan reads only new and changed photos"
        f" (default: {cache_default_path()})",
    )
    scan_parser.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the signature cache"
    )
    scan_parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no summary on stderr; skipped files are still reported",
    )

    undo_parser = command(
        commands,
        "undo",
        run_undo,
        help="put back the files a --move-to run moved",
        description="Put every file that a 'scan --move-to' or 'apply' run moved back where it"
        " was, newest first, as its journal (written in the destination folder) records. The"
        " whole journal is checked first: a line that does not describe that run's own moves"
        " inside the journal's folder (an edited or copied journal) is reported, and then"
        " nothing is done. Nothing is ever written over: if anything (a file, a link, a folder)"
        " is now at an original path, the moved file is left where it is and reported. Safe to"
        " run again, and works on the journal of an interrupted run.",
    )
    undo_parser.add_argument(
        "journal", metavar="JOURNAL", help="the simplugin-journal-*.jsonl file"
    )
    undo_parser.add_argument(
        "--dry-run", action="store_true", help="print what would be put back, and change nothing"
    )

    apply_parser = command(
        commands,
        "apply",
        run_apply,
        help="carry out a plan exported from the HTML report (or written by --json)",
        description="Move the duplicates of every group in PLAN into DEST, exactly as"
        " 'scan --move-to' would: never a keeper, with sidecars and RAW/JPEG twins, never"
        " replacing a file, journaled for 'simplugin undo'. Each photo is checked again"
        " first: a duplicate that is gone or changed since the plan was made is left out,"
        " and a group whose keeper is gone or changed is left alone. A path is judged by its"
        " real path (links resolved): a duplicate that is its group's keeper, lies outside"
        " the plan's roots, is a symbolic link or is not a regular file is left where it is,"
        " and a plan naming one photo in two groups is refused. Relative paths are read"
        " from the folder the --json plan was written in (its 'base').",
    )
    apply_parser.add_argument("plan", metavar="PLAN", help="the plan file (JSON)")
    apply_parser.add_argument(
        "--move-to", required=True, metavar="DEST", help="the folder to move duplicates into"
    )
    apply_parser.add_argument(
        "--dry-run", action="store_true", help="print what would move, and change nothing"
    )

    review_parser = command(
        commands,
        "review",
        run_review,
        help="scan, write the HTML report and open it in the browser (for file managers)",
        description="Scan the folders and photos like 'scan --html', writing the report to"
        f" {review_page()}, then open it in the web browser ($BROWSER, else the desktop's)."
        " The Geeqie, Nautilus and Thunar integrations ('simplugin hooks') run this.",
    )
    review_parser.add_argument("paths", nargs="+", metavar="PATH", help="folders or photos")
    review_parser.add_argument(
        "--no-open", action="store_true", help="write the report, but do not open the browser"
    )

    hooks_parser = command(
        commands,
        "hooks",
        run_hooks,
        help="list, show or install the integrations with other tools",
        description="Integrations that put simplugin inside tools you already use: darktable"
        " (a Lua script), Geeqie (a plugin), Nautilus (a script), Thunar (a custom action) and"
        " git (a pre-commit hook). 'list' names them, 'show NAME' prints how one works and"
        " where its files go, 'install NAME' puts them there. Installing never replaces a"
        " file: a different file already in place is reported and left alone.",
    )
    hooks_parser.add_argument("action", choices=("list", "show", "install"))
    hooks_parser.add_argument("name", nargs="?", metavar="NAME", help="for show and install")

    cache_parser = command(
        commands,
        "cache",
        run_cache,
        help="show or clear the signature cache",
        description="The signature cache keeps what reading each photo gave (its signature, size"
        " and capture time), keyed by path, size and modification time, so that a re-scan reads"
        " only new and changed photos. 'info' shows where it is and what it holds; 'clear'"
        " empties it. It never holds your photos, only their summaries.",
    )
    cache_parser.add_argument("action", choices=("info", "clear"))
    cache_parser.add_argument(
        "--cache", metavar="PATH", help=f"the cache file (default: {cache_default_path()})"
    )

    config_parser = command(
        commands,
        "config",
        run_config,
        help="show the effective configuration",
        description=f"Print the configuration 'simplugin scan' would use, as TOML: the file's"
        f" settings and sinks (--config FILE, else ./{CONFIG_FILE_NAME}, else"
        f" {user_config_path()}) over the defaults, after checking them against the plugins.",
    )
    config_parser.add_argument("action", choices=("show",))
    config_parser.add_argument("--config", metavar="FILE", help="the file to read")

    staged_parser = command(
        commands,
        "check-staged",
        run_check_staged,
        help="refuse a git commit that adds a near-duplicate of a photo already committed",
        description="For git hooks (hooks/git/pre-commit, .pre-commit-hooks.yaml): compare the"
        " photos that the commit adds or changes, as staged (not as the working tree has them"
        " now), with each other and with every other photo of the commit, and exit with"
        f" {EXIT_DUPLICATES} when one is a near-duplicate of another. Photos are recognised by"
        " their content, whatever their names. Run it inside a git work tree.",
    )
    staged_parser.add_argument(
        "--threshold", type=float, metavar="T", help="as for 'scan' (default: the metric's own)"
    )
    staged_parser.add_argument("--metric", default="avgdiff", metavar="NAME", help="as for 'scan'")

    plugins_parser = command(
        commands,
        "plugins",
        run_plugins,
        help="list the loaded plugins and what they provide",
        description="List every loaded plugin: its name, distribution and version, the"
        " metrics, bucketers and sinks it registers, and the hooks it implements.",
        epilog=ENVIRONMENT,
    )
    plugins_parser.add_argument("--json", action="store_true", help="print JSON instead of text")
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
        warn("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `simplugin scan ... | head`: the reader has gone. Stop quietly, as `cat` does,
        # and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except SystemExit as exit:
        # Nothing of simplugin's exits once the arguments are parsed: this is plugin code
        # that `blame` does not wrap. It may not choose how simplugin ends.
        where = traceback.extract_tb(exit.__traceback__)[-1]
        warn(
            f"error: {describe(exit)} raised at {where.filename}:{where.lineno}: only"
            " simplugin may end a run"
        )
        return EXIT_FAILED


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings (a cache set aside...) as one line each, like every other message."""
    warn(f"warning: {message}")


# --- scan --------------------------------------------------------------------------------


def run_scan(arguments: argparse.Namespace) -> int:
    reporter = TerminalReporter(show_progress=not arguments.quiet and sys.stderr.isatty())
    host = load_plugins(extra={"terminal-reporter": reporter})
    report_problems(host, since=0)
    reported = len(host.problems)

    config = load_config(find_config(arguments.config))
    settings = effective_settings(config, arguments)
    sinks = configured_sinks(host, config, scan_sink_requests(arguments))
    check_bucket_options(host, config, settings)

    started = time.monotonic()
    result = scan(
        arguments.paths,
        **settings,
        exclude=excluded_by_sinks(host, sinks),
        plugins=host,
        progress=reporter,
    )
    reporter.finish()
    failures = deliver(host, result, sinks)
    report_problems(host, since=reported)
    for failure in failures:
        warn(f"error: {failure}")
    if not arguments.quiet:
        warn(summary(result, time.monotonic() - started))
    if failures or len(host.problems) > reported:
        return EXIT_FAILED
    if arguments.fail_on_duplicates and result.groups:
        return EXIT_DUPLICATES
    return EXIT_OK


def excluded_by_sinks(host: PluginHost, sinks: list[tuple[Sink, dict]]) -> list[str]:
    """The folders the sinks write into, which the scan must not read."""
    excluded = []
    for sink, options in sinks:
        with blame(host.provider("sink", sink.name), f"sink {sink.name!r} excluded_paths"):
            excluded += [os.fspath(path) for path in sink.excluded_paths(options)]
    return excluded


def effective_settings(config: Config, arguments: argparse.Namespace | None) -> dict:
    """scan()'s arguments: the file's settings, overridden by the flags given."""
    settings = {SCAN_ARGUMENTS[key]: value for key, value in config.settings.items()}
    if arguments is None:
        return settings
    given = {
        "metric": arguments.metric,
        "threshold": arguments.threshold,
        "bucketer": arguments.bucket,
        "undated": arguments.undated,
        "jobs": arguments.jobs,
        "cache": False if arguments.no_cache else arguments.cache,
        "follow_symlinks": arguments.follow_symlinks,
    }
    settings.update({key: value for key, value in given.items() if value is not None})
    options = {**settings.get("bucketer_options", {}), **bucketer_options(arguments)}
    if options:
        settings["bucketer_options"] = options
    return settings


def configured_sinks(
    host: PluginHost, config: Config, requests: list[SinkRequest]
) -> list[tuple[Sink, dict]]:
    """The sinks to run, checked: the file's, then the command line's, which replace the
    file's sinks of the same name."""
    named_here = {request.name for request in requests}
    prepared = []
    for number, (name, options) in enumerate(config.sinks, start=1):
        if name in named_here:
            continue
        try:
            prepared += prepare_sinks(host, [SinkRequest(name, options)])
        except UsageError as error:
            raise UsageError(f"{config.where(f'sinks[{number}]')}: {error}") from error
    return prepared + prepare_sinks(host, requests)


def check_bucket_options(host: PluginHost, config: Config, settings: dict) -> None:
    """Check the file's metric and bucketer, by name and options, now, so that an error
    names the file (a name the command line overrides is not the file's to answer for)."""
    for key, kind in (("metric", "metric"), ("bucket", "bucketer")):
        chosen = config.settings.get(key)
        if chosen is None or settings.get(SCAN_ARGUMENTS[key]) != chosen:
            continue  # not in the file, or overridden on the command line
        if chosen not in host.registered[kind] and not (kind == "bucketer" and chosen == "none"):
            available = ", ".join(sorted(host.registered[kind])) or "none"
            raise UsageError(
                f"{config.where(key)}: unknown {kind} {quoted(chosen)} (available: {available})"
            )
    name = settings.get("bucketer", scan_default("bucketer"))
    options = config.settings.get("bucket_options")
    if options and name and name != "none":
        try:
            resolve_options("bucketer", host.get("bucketer", name), options)
        except UsageError as error:
            raise UsageError(f"{config.where('bucket_options')}: {error}") from error


def scan_default(argument: str) -> Any:
    return inspect.signature(scan).parameters[argument].default


def scan_sink_requests(arguments: argparse.Namespace) -> list[SinkRequest]:
    """The sinks a scan's options ask for, in the order they run."""
    if arguments.dry_run and not arguments.move_to:
        raise UsageError("--dry-run goes with --move-to")
    if arguments.json == "-" and arguments.move_to:
        raise UsageError("--json - and --move-to both write to stdout: give --json a file")
    requests = [] if arguments.json == "-" else [SinkRequest("stdout")]
    if arguments.json is not None:
        requests.append(SinkRequest("json", {"path": arguments.json}))
    if arguments.html is not None:
        requests.append(SinkRequest("html", {"path": arguments.html}))
    if arguments.move_to is not None:
        requests.append(
            SinkRequest("move", {"to": arguments.move_to, "dry_run": arguments.dry_run})
        )
    return requests + sink_requests(arguments.sink, arguments.sink_option)


def key_values(items: Sequence[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, not {item!r}")
        pairs[key.strip()] = value
    return pairs


def bucketer_options(arguments: argparse.Namespace) -> dict[str, str]:
    options = key_values(arguments.bucket_option, "--bucket-option")
    if arguments.window is not None:
        options["window"] = arguments.window
    return options


def sink_requests(names: Sequence[str], options: Sequence[str]) -> list[SinkRequest]:
    by_sink: dict[str, dict[str, str]] = {name: {} for name in names}
    for qualified, value in key_values(options, "--sink-option").items():
        sink, dot, key = qualified.partition(".")
        if not dot or sink not in by_sink:
            raise UsageError(
                f"--sink-option {qualified}=...: name a sink given with --sink, as NAME.KEY=VALUE"
            )
        by_sink[sink][key] = value
    return [SinkRequest(name, values) for name, values in by_sink.items()]


def summary(result: ScanResult, seconds: float) -> str:
    return (
        f"scanned {counted(len(result.photos), 'photo')} in {seconds:.1f} s:"
        f" {counted(len(result.groups), 'group')} of near-duplicates,"
        f" {counted(len(result.duplicates), 'duplicate')}, {len(result.skipped)} skipped"
        + (f"; {result.from_cache} read from the cache" if result.from_cache else "")
    )


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def report_problems(host: PluginHost, since: int) -> None:
    for problem in host.problems[since:]:
        warn(f"warning: {problem}")


class TerminalReporter:
    """Progress and skipped files on stderr. Progress is drawn only on a terminal."""

    def __init__(self, show_progress: bool):
        self.show_progress = show_progress
        self.name = ""
        self.total: int | None = None
        self.done = 0
        self.started = 0.0
        self.drawn = 0.0

    @hookimpl
    def photo_skipped(self, skipped: Skipped) -> None:
        self._clear()
        warn(f"skipped {printable(skipped.path)}: {skipped.reason}")

    def stage(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done = name, total, 0
        self.started = time.monotonic()
        self._draw(force=True)

    def found(self, total: int) -> None:  # the walk is still finding photos to read
        self.total = total
        self._draw(force=False)

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._draw(force=False)

    def finish(self) -> None:
        self._clear()

    def _draw(self, force: bool) -> None:
        now = time.monotonic()
        if not self.show_progress or (not force and now - self.drawn < 0.1):
            return
        self.drawn = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = f"{self.name}: {self.done}"
        if self.total:
            line += f"/{self.total}"
            if rate > 0 and self.done < self.total:
                line += f", {rate:.0f}/s, about {(self.total - self.done) / rate:.0f} s left"
        sys.stderr.write(f"\r\033[K{line}")
        sys.stderr.flush()

    def _clear(self) -> None:
        if self.show_progress:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# --- undo --------------------------------------------------------------------------------


def run_undo(arguments: argparse.Namespace) -> int:
    journal = arguments.journal
    try:
        report = undo(journal, dry_run=arguments.dry_run)
    except ValueError as error:  # moves.NotAJournal: the file is no journal at all
        raise UsageError(str(error)) from error
    for rejected in report.rejected:
        where = f", line {rejected.line}" if rejected.line else ""
        warn(f"{printable(journal)}{where}: {rejected.reason}; nothing was put back")
    verb = "would put back" if arguments.dry_run else "put back"
    for item in report.restored:
        print(f"{verb} {printable(item.source)} (from {printable(item.target)})", flush=True)
    for item, reason in report.refused:
        warn(f"left {printable(item.target)}: {reason}")
    return EXIT_FAILED if report.refused or report.rejected else EXIT_OK


# --- apply -------------------------------------------------------------------------------


def run_apply(arguments: argparse.Namespace) -> int:
    host = load_plugins()
    report_problems(host, since=0)
    sinks = prepare_sinks(
        host, [SinkRequest("move", {"to": arguments.move_to, "dry_run": arguments.dry_run})]
    )
    result = load_plan(arguments.plan)
    for skipped in result.skipped:
        warn(f"skipped {printable(skipped.path)}: {skipped.reason}")
    failures = deliver(host, result, sinks)
    for failure in failures:
        warn(f"error: {failure}")
    return EXIT_FAILED if failures or result.skipped else EXIT_OK


# --- review ------------------------------------------------------------------------------


def review_page() -> str:
    return os.path.join(os.path.dirname(cache_default_path()), "review", "report.html")


def run_review(arguments: argparse.Namespace) -> int:
    page = review_page()
    os.makedirs(os.path.dirname(page), exist_ok=True)
    code = main(["scan", "--quiet", "--html", page, "--", *arguments.paths])
    if os.path.exists(page) and code in (EXIT_OK, EXIT_FAILED):
        print(page, flush=True)
        if not arguments.no_open:
            webbrowser.open(Path(page).as_uri())
    return code


# --- hooks -------------------------------------------------------------------------------


def run_hooks(arguments: argparse.Namespace) -> int:
    if arguments.action == "list":
        for integration in integrations.available().values():
            print(f"{integration.name:10} {integration.description}")
        return EXIT_OK
    if not arguments.name:
        raise UsageError(f"hooks {arguments.action} needs the NAME of an integration")
    integration = integrations.get(arguments.name)
    if arguments.action == "show":
        print(integration.readme.rstrip())
        print("\nfiles:")
        for what, where in integrations.targets(integration):
            print(f"  {what} -> {where}")
        return EXIT_OK
    done, refused = integrations.install(integration)
    for line in done:
        print(line)
    for line in refused:
        warn(f"not installed: {line}")
    return EXIT_FAILED if refused else EXIT_OK


# --- check-staged ------------------------------------------------------------------------


def run_check_staged(arguments: argparse.Namespace) -> int:
    enter_work_tree()
    with scratch_folder() as scratch:
        files = staged_files(scratch)
        if not any(staged.new and is_photo(staged.readable_at) for staged in files):
            return EXIT_OK
        name_of = {staged.readable_at: staged.name for staged in files}
        new = {staged.readable_at for staged in files if staged.new}
        # Every photo against every other: a copy is a copy whenever it was taken.
        result = scan(
            list(name_of),
            metric=arguments.metric,
            threshold=arguments.threshold,
            bucketer=None,
            cache=True,
        )
    clashes = [pair for pair in result.pairs if pair.a.path in new or pair.b.path in new]
    for pair in clashes:
        first, other = (pair.a, pair.b) if pair.a.path in new else (pair.b, pair.a)
        where = "also added by this commit" if other.path in new else "already in the repository"
        warn(
            f"{printable(name_of[first.path])} is a near-duplicate of"
            f" {printable(name_of[other.path])} (distance {pair.distance:.4f}), {where}"
        )
    if clashes:
        warn("commit refused; to commit anyway: git commit --no-verify")
        return EXIT_DUPLICATES
    return EXIT_OK


def is_photo(path: str) -> bool:
    """Whether the file is a photo simplugin can read, judged by its content."""
    try:
        probe(path)
    except (OSError, Unreadable):
        return False
    return True


# --- config ------------------------------------------------------------------------------


def run_config(arguments: argparse.Namespace) -> int:
    host = load_plugins()
    config = load_config(find_config(arguments.config))
    settings = effective_settings(config, None)
    prepared = configured_sinks(host, config, [])
    check_bucket_options(host, config, settings)
    shown = {}
    for key, argument in SCAN_ARGUMENTS.items():
        value = settings.get(argument, scan_default(argument))
        if value is not None:
            shown[key] = value
    sinks = [(sink.name, options) for sink, options in prepared]
    print(f"# {'read from ' + config.path if config.path else 'no configuration file: defaults'}")
    print(as_toml(shown, sinks), end="")
    return EXIT_OK


# --- cache -------------------------------------------------------------------------------


def run_cache(arguments: argparse.Namespace) -> int:
    cache = SignatureCache.open(arguments.cache)
    if cache is None:
        return EXIT_FAILED
    try:
        if arguments.action == "clear":
            print(f"removed {cache.clear()} entries from {cache.path}")
            return EXIT_OK
        info = cache.info()
    finally:
        cache.close()
    print(f"cache: {info['path']}")
    print(f"size: {human_size(info['bytes'])}")
    for kind, count in info["entries"].items() or [("entries", 0)]:
        print(f"{kind}: {count} photos")
    return EXIT_OK


# --- plugins -----------------------------------------------------------------------------


def run_plugins(arguments: argparse.Namespace) -> int:
    host = load_plugins()
    report_problems(host, since=0)
    for conflict in host.conflicts:
        warn(f"error: {conflict}")
    listing = []
    for info in host.infos.values():
        entry = {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "hooks": list(info.hooks),
        }
        for kind in KINDS:
            entry[kind + "s"] = sorted(
                name
                for (k, name), plugin in host.providers.items()
                if k == kind and plugin == info.name
            )
        listing.append(entry)
    if arguments.json:
        print(json.dumps(listing, indent=2))
    else:
        for entry in listing:
            provided = [
                f"{kind}s: {', '.join(entry[kind + 's'])}" for kind in KINDS if entry[kind + "s"]
            ]
            print(
                f"{entry['name']}  ({entry['distribution'] or 'registered directly'}"
                f" {entry['version'] or ''}".rstrip()
                + ")"
            )
            print(f"    {'; '.join(provided) or 'provides no metric, bucketer or sink'}")
            print(f"    hooks: {', '.join(entry['hooks'])}")
    return EXIT_USAGE if host.conflicts else EXIT_OK
