"""`simplugin explain A B`: why two photos are, or are not, near-duplicates."""

from __future__ import annotations

import argparse

from ..config import check_plugins
from ..config import find as find_config
from ..config import load as load_config
from ..errors import ExitCode
from ..explanation import Explanation, explain
from ..plugins import load_plugins
from ..settings import merged
from ..text import printable
from .common import add_setting_flags, command, given_settings, report_problems

# The settings that decide whether two photos are a pair; the others (what is kept,
# protected or excluded) act on groups and folders.
DECIDING = (
    "metric",
    "threshold",
    "bucketer",
    "bucketer_options",
    "undated",
    "cache",
    "ignore_list",
    "rotations",
)


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "explain",
        run,
        help="say why two photos are, or are not, near-duplicates",
        description="Read two photos as a scan with the same settings (and configuration"
        " file) would, and say: their distance under the metric and its threshold; whether"
        " a scan compares them at all (with exif-time, whether they were taken close enough"
        " together: their capture times); whether it pairs them. With --result, the JSON"
        " of a scan (--json), also the chain of near-duplicate pairs that put them in one"
        " group, if any.",
    )
    parser.add_argument("photos", nargs=2, metavar="PHOTO", help="the two photos")
    parser.add_argument(
        "--result",
        metavar="JSON",
        help="a scan's JSON result (--json), to show how it grouped them",
    )
    parser.add_argument("--config", metavar="FILE", help="the configuration file to read")
    add_setting_flags(parser, only=DECIDING)


def run(arguments: argparse.Namespace) -> int:
    host = load_plugins()
    report_problems(host, since=0)
    config = load_config(find_config(arguments.config))
    settings = {
        name: value
        for name, value in merged(config.settings, given_settings(arguments)).items()
        if name in DECIDING
    }
    check_plugins(host, config, settings)
    explained = explain(*arguments.photos, result=arguments.result, plugins=host, **settings)
    print("\n".join(lines(explained)), flush=True)
    return ExitCode.OK


def lines(explained: Explanation) -> list[str]:
    """What `explain` prints: a fact a line."""
    a, b = explained.photos
    verdict = "a near-duplicate pair" if explained.paired else "not a near-duplicate pair"
    said = [
        f"{printable(a.path)}  {a.width}x{a.height}",
        f"{printable(b.path)}  {b.width}x{b.height}",
        f"distance: {explained.distance:.4f} ({explained.metric}; near-duplicates below"
        f" {explained.threshold:g})",
        *(f"{name}: {value}" for name, value in explained.facts.items()),
        f"compared: {'yes' if explained.compared else 'no'}: {explained.why_compared}",
    ]
    if explained.ignored:
        said.append("ignored: you marked them as not duplicates (simplugin ignore --list)")
    said.append(f"verdict: {verdict}")
    if explained.result is not None:
        said.append(f"in {printable(explained.result)}: {_chain(explained)}")
    return said


def _chain(explained: Explanation) -> str:
    if explained.chain is None:
        return "not in one group"
    if len(explained.chain) == 1:
        return f"one group, as a pair ({explained.chain[0].distance:.4f})"
    steps = [printable(explained.chain[0].a)]
    for link in explained.chain:
        steps.append(f"({link.distance:.4f}) {printable(link.b)}")
    return "one group, through a chain of pairs: " + " ".join(steps)
