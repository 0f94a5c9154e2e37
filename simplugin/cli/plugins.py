"""`simplugin plugins`: the loaded plugins and what each provides."""

from __future__ import annotations

import argparse
import json

from ..errors import ExitCode
from ..plugins import KINDS, PluginHost, load_plugins
from ..text import tell as warn
from .common import ENVIRONMENT, command, report_problems


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "plugins",
        run,
        help="list the loaded plugins and what they provide",
        description="List every loaded plugin: its name, distribution and version, the"
        " metrics, bucketers, sinks and executors it registers, and the hooks it implements.",
        epilog=ENVIRONMENT,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(arguments: argparse.Namespace) -> int:
    host = load_plugins()
    report_problems(host, since=0)
    for conflict in host.conflicts:
        warn(f"error: {conflict}")
    listing = plugin_listing(host)
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
            print(f"    {'; '.join(provided) or 'provides no metric, bucketer, sink or executor'}")
            print(f"    hooks: {', '.join(entry['hooks'])}")
    return ExitCode.USAGE if host.conflicts else ExitCode.OK


def plugin_listing(host: PluginHost) -> list[dict]:
    """Each plugin: its name, distribution, version, hooks, and what it registered."""
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
    return listing
