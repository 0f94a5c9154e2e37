"""`simplugin scan`, and `simplugin review`, a scan whose report opens in the browser."""

from __future__ import annotations

import argparse
import os
import sys
import time
import webbrowser
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from ..config import FILE_NAME as CONFIG_FILE_NAME
from ..config import Config, check_plugins, user_config_path
from ..config import find as find_config
from ..config import load as load_config
from ..engine import SinkRequest, deliver, prepare_sinks, scan
from ..errors import ExitCode, UsageError
from ..plugins import PluginHost, load_plugins
from ..settings import merged
from ..text import counted, printable, quoted
from ..text import tell as warn
from ..trash import NOT_SUPPORTED, TRASH_SUPPORTED
from ..types import ScanResult, Sink
from ..xdg import simplugin_folder
from .common import add_setting_flags, command, given_settings, key_values, report_problems
from .terminal import TerminalReporter

# --- scan --------------------------------------------------------------------------------


def configure_scan(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "scan",
        run_scan,
        help="find near-duplicate photos under folders",
        description=(
            "Walk the folders recursively, read every photo (any format Pillow can open,"
            " recognised by content), compare them and print each group of near-duplicates,"
            " the photo to keep first, then the others with their distance to it."
            " Files that cannot be read are reported on stderr and the scan goes on."
            " A scan only reads: files change only when this command line asks (--move-to,"
            " --trash, --sink, or --apply for the configuration file's sinks that change files)."
        ),
    )
    add_paths_and_config(parser)
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the result as JSON to FILE; '-' writes it to stdout instead of the report",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write a report to review in a browser: thumbnails of every group, choose"
        " keepers, export a plan for 'simplugin apply' (thumbnails go in FILE's folder)",
    )
    parser.add_argument(
        "--move-to",
        metavar="DEST",
        help="move every duplicate (never a keeper) into DEST, keeping its path relative to"
        " the scanned folder, with its sidecars and RAW/JPEG twin; journaled: see 'simplugin undo'",
    )
    parser.add_argument(
        "--trash",
        action="store_true",
        help="send every duplicate (never a keeper) to the desktop's trash, with its sidecars"
        " and RAW/JPEG twin (Linux, freedesktop.org trash); journaled: see 'simplugin undo'",
    )
    add_xmp_flags(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --move-to, --trash, --xmp or --apply: print what would change, and change"
        " nothing",
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="also run the configuration file's sinks that change files (such as a move);"
        " without it a scan only reads, and says which of them it did not run",
    )
    parser.add_argument(
        "--sink",
        action="append",
        default=[],
        metavar="NAME",
        help="also send the result to this sink (repeatable; see 'simplugin plugins')",
    )
    parser.add_argument(
        "--sink-option",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="an option for a sink given with --sink, e.g. csv.path=dupes.csv (repeatable)",
    )
    parser.add_argument(
        "--fail-on-duplicates",
        action="store_true",
        help=f"exit with {ExitCode.DUPLICATES} when near-duplicates are found"
        " (for CI and git hooks)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no summary on stderr; skipped files are still reported",
    )
    add_setting_flags(parser)


def add_xmp_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xmp",
        action="store_true",
        help="tag every photo of a group in its XMP sidecar (simplugin|keep, simplugin|duplicate,"
        " simplugin|group|0001), for darktable, digiKam, Lightroom and Immich; the photos are"
        " never written; journaled: see 'simplugin undo' (needs pip install 'simplugin[xmp]')",
    )
    parser.add_argument(
        "--xmp-label",
        metavar="COLOUR",
        help="with --xmp: also give duplicates this colour label: Red, Yellow, Green, Blue"
        " or Purple",
    )
    parser.add_argument(
        "--xmp-rating",
        metavar="N",
        help="with --xmp: also give duplicates this rating (-1 is rejected, 0 to 5 stars)",
    )
    parser.add_argument(
        "--xmp-merge-into-keeper",
        action="store_true",
        help="with --xmp: also give each keeper the keywords of its duplicates and their best"
        " rating, so that nothing you tagged is lost when the duplicates go",
    )
    parser.add_argument(
        "--xmp-lightroom-names",
        action="store_true",
        help="with --xmp: a photo without a sidecar gets IMG_1.xmp (Lightroom's name), not"
        " IMG_1.jpg.xmp",
    )


def add_paths_and_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders or photos")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"settings and sinks (default: ./{CONFIG_FILE_NAME}, else {user_config_path()});"
        " flags given here override it",
    )


def run_scan(arguments: argparse.Namespace) -> int:
    return scan_and_deliver(
        ScanRun(
            paths=arguments.paths,
            config=arguments.config,
            settings=given_settings(arguments),
            sinks=scan_sink_requests(arguments),
            quiet=arguments.quiet,
            fail_on_duplicates=arguments.fail_on_duplicates,
            apply=arguments.apply,
            dry_run=arguments.dry_run,
        )
    )


@dataclass(frozen=True)
class ScanRun:
    """A scan as a command asks for it: what to scan, the configuration file to read
    (None: the usual places), the settings and sinks given on the command line over the
    file's, and how to end. The file's sinks that change files run only when this
    command line says so (`apply`), and with `dry_run` only say what they would do;
    `not_applied` tells the user how to run them."""

    paths: Sequence[str]
    config: str | None
    settings: Mapping[str, Any]
    sinks: Sequence[SinkRequest]
    quiet: bool = False
    fail_on_duplicates: bool = False
    apply: bool = False
    dry_run: bool = False
    not_applied: str = "add --apply to run it"


def scan_and_deliver(run: ScanRun) -> int:
    """Scan, hand the result to the sinks, and say how it went: the exit code."""
    reporter = TerminalReporter(show_progress=not run.quiet and sys.stderr.isatty())
    host = load_plugins(extra={"terminal-reporter": reporter})
    report_problems(host, since=0)
    reported = len(host.problems)

    config = load_config(find_config(run.config))
    settings = merged(config.settings, run.settings)
    sinks = configured_sinks(host, config, run)
    check_plugins(host, config, settings)
    settings["exclude"] = [*settings.get("exclude", ()), *excluded_by_sinks(host, sinks.run)]

    started = time.monotonic()
    result = scan(run.paths, **settings, plugins=host, progress=reporter)
    reporter.finish()
    failures = deliver(host, result, sinks.run)
    report_problems(host, since=reported)
    for failure in failures:
        warn(f"error: {failure}")
    for note in sinks.not_run:
        warn(note)
    if not run.quiet:
        if result.ignored:
            warn(
                f"left out {counted(result.ignored, 'pair')} you marked as not duplicates"
                " (simplugin ignore --list)"
            )
        warn(summary(result, time.monotonic() - started))
    if failures or len(host.problems) > reported:
        return ExitCode.FAILED
    if run.fail_on_duplicates and result.groups:
        return ExitCode.DUPLICATES
    return ExitCode.OK


def excluded_by_sinks(host: PluginHost, sinks: list[tuple[Sink, dict]]) -> list[str]:
    """The folders the sinks write into, which the scan must not read."""
    excluded = []
    for sink, options in sinks:
        with host.blame(sink, f"sink {sink.name!r} excluded_paths"):
            excluded += [os.fspath(path) for path in sink.excluded_paths(options)]
    return excluded


@dataclass(frozen=True)
class ChosenSinks:
    """The sinks a scan runs, checked, and one line for each sink of the configuration
    file that it does not run because it changes files and the command line did not
    ask for it (or for an --apply that found nothing to run)."""

    run: list[tuple[Sink, dict]]
    not_run: list[str]


def configured_sinks(host: PluginHost, config: Config, run: ScanRun) -> ChosenSinks:
    """The file's sinks, then the command line's, which replace the file's sinks of the
    same name. A file only describes what may be done: its sinks that change files run
    with `run.apply`, and are otherwise named in one line each, with how to run them."""
    from_file, not_run = [], []
    for sink, checked, given in file_sinks(host, config, {r.name for r in run.sinks}):
        if sink.changes_files and not run.apply:
            described = ", ".join(f"{key} = {shown(value)}" for key, value in given.items())
            not_run.append(
                f"the sink {quoted(sink.name)} of {printable(config.path or '')}"
                f"{f' ({described})' if described else ''} changes files and was not run;"
                f" {run.not_applied}"
            )
        elif sink.changes_files and run.dry_run:
            from_file.append((sink, dry_run_options(sink, checked, config)))
        else:
            from_file.append((sink, checked))
    if run.apply and not any(sink.changes_files for sink, _ in from_file):
        not_run.append(
            f"--apply did nothing: {printable(config.path)} has no sink that changes files"
            if config.path
            else "--apply did nothing: there is no configuration file"
        )
    return ChosenSinks(from_file + prepare_sinks(host, list(run.sinks)), not_run)


def dry_run_options(sink: Sink, options: dict, config: Config) -> dict:
    """A file's sink's options for `--apply --dry-run`: only a sink that can say what it
    would do (it declares a `dry_run` option) may run then."""
    if "dry_run" not in sink.options:
        raise UsageError(
            f"--dry-run: the sink {quoted(sink.name)} of {printable(config.path or '')} changes"
            " files and has no dry run (no dry_run option); without --apply it is not run"
        )
    return {**options, "dry_run": True}


def file_sinks(
    host: PluginHost, config: Config, replaced: Set[str] = frozenset()
) -> list[tuple[Sink, dict, Mapping[str, Any]]]:
    """The configuration file's sinks but those `replaced` on the command line, checked:
    each with its options checked, and as the file gives them."""
    prepared = []
    for number, (name, options) in enumerate(config.sinks, start=1):
        if name in replaced:
            continue
        try:
            (sink, checked) = prepare_sinks(host, [SinkRequest(name, options)])[0]
        except UsageError as error:
            raise UsageError(f"{config.where(f'sinks[{number}]')}: {error}") from error
        prepared.append((sink, checked, options))
    return prepared


def shown(value: Any) -> str:
    """An option's value in a line: a path whole, anything else cut short."""
    return printable(value) if isinstance(value, str) else quoted(value)


def scan_sink_requests(arguments: argparse.Namespace) -> list[SinkRequest]:
    """The sinks a scan's options ask for, in the order they run."""
    changing = arguments.move_to or arguments.trash or arguments.xmp
    if arguments.dry_run and not (changing or arguments.apply):
        raise UsageError("--dry-run goes with --move-to, --trash, --xmp or --apply")
    removing = removal_requests(arguments.move_to, arguments.trash, arguments.dry_run)
    removing += xmp_requests(arguments)
    if arguments.json == "-" and removing:
        raise UsageError(
            "--json - and --move-to, --trash or --xmp both write to stdout: give --json a file"
        )
    requests = [] if arguments.json == "-" else [SinkRequest("stdout")]
    if arguments.json is not None:
        requests.append(SinkRequest("json", {"path": arguments.json}))
    if arguments.html is not None:
        requests.append(SinkRequest("html", {"path": arguments.html}))
    return requests + removing + sink_requests(arguments.sink, arguments.sink_option)


def xmp_requests(arguments: argparse.Namespace) -> list[SinkRequest]:
    """The xmp sink, if `--xmp` asks for it, with the options its other flags give."""
    given = {
        "label": arguments.xmp_label,
        "rating": arguments.xmp_rating,
        "lightroom_names": arguments.xmp_lightroom_names or None,
        "merge_into_keeper": arguments.xmp_merge_into_keeper or None,
    }
    if not arguments.xmp:
        flags = [f"--xmp-{key.replace('_', '-')}" for key, value in given.items() if value]
        if flags:
            raise UsageError(f"{flags[0]} goes with --xmp")
        return []
    options = {key: value for key, value in given.items() if value is not None}
    return [SinkRequest("xmp", {**options, "dry_run": arguments.dry_run})]


def removal_requests(move_to: str | None, to_trash: bool, dry_run: bool) -> list[SinkRequest]:
    """The sink `--move-to DEST` or `--trash` asks for (at most one of them)."""
    if move_to is not None and to_trash:
        raise UsageError("--move-to and --trash: choose one")
    if to_trash:
        if not TRASH_SUPPORTED:
            raise UsageError(NOT_SUPPORTED)
        return [SinkRequest("trash", {"dry_run": dry_run})]
    if move_to is not None:
        return [SinkRequest("move", {"to": move_to, "dry_run": dry_run})]
    return []


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


# --- review ------------------------------------------------------------------------------


def reviews_folder() -> str:
    return os.path.join(simplugin_folder("cache"), "review")


def configure_review(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "review",
        run_review,
        help="scan, and review the groups in the browser: move duplicates, undo (for file"
        " managers)",
        description="Scan the folders and photos like 'scan --html', writing the report to"
        f" a folder of its own under {reviews_folder()} (removed when it ends), then serve"
        " it to this computer only (127.0.0.1, with a secret"
        " token in its address) and open it in the web browser ($BROWSER, else the"
        " desktop's). From the page, 'Move to folder…' and 'Move to trash' run 'simplugin"
        " apply' on the groups as chosen there, and Undo puts back what it moved; 'Not a"
        " duplicate' records photos in the ignore list ('simplugin ignore'). The last line printed"
        " is the page's address. It serves until Ctrl-C, or until the page has been closed"
        " for two minutes. It never moves a file on its own: a configuration file's sinks"
        " that change files (a move) are not run. The Geeqie, Nautilus and Thunar"
        " integrations ('simplugin integrations') run this.",
    )
    add_paths_and_config(parser)
    parser.add_argument(
        "--no-open", action="store_true", help="print the page's address, but do not open it"
    )
    add_setting_flags(parser)


def run_review(arguments: argparse.Namespace) -> int:
    from ..review import end_run, start_run

    run = start_run(reviews_folder())
    try:
        return review_in(arguments, os.path.join(run, "report.html"))
    finally:
        end_run(run)


def review_in(arguments: argparse.Namespace, page: str) -> int:
    """`simplugin review`, its page written at `page`."""
    from ..review import Review, ReviewServer, proposed_folder, serve, site_of

    code = scan_and_deliver(
        ScanRun(
            paths=arguments.paths,
            config=arguments.config,
            settings=given_settings(arguments),
            sinks=[SinkRequest("stdout"), SinkRequest("html", {"path": page, "served": True})],
            quiet=True,
            not_applied="review never runs it ('simplugin scan PATH --apply' does)",
        )
    )
    if not os.path.exists(page) or code not in (ExitCode.OK, ExitCode.FAILED):
        return code
    # "Not a duplicate" records in the list the scan read: the one given, else the default
    listed = arguments.ignore_list if isinstance(arguments.ignore_list, str) else ""
    server = ReviewServer(Review(site_of(page, proposed_folder(arguments.paths), listed)))

    def announce() -> None:
        print(server.url, flush=True)
        if not arguments.no_open:
            webbrowser.open(server.url)

    served = serve(server, announce)
    return code if code != ExitCode.OK else served
