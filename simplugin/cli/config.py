"""`simplugin config show`: the configuration a scan would use, as TOML."""

from __future__ import annotations

import argparse

from ..config import FILE_NAME as CONFIG_FILE_NAME
from ..config import as_toml, check_plugins, user_config_path
from ..config import find as find_config
from ..config import load as load_config
from ..errors import ExitCode
from ..plugins import load_plugins
from ..settings import SETTINGS
from .common import command
from .scan import file_sinks


def configure(commands: argparse._SubParsersAction) -> None:
    parser = command(
        commands,
        "config",
        run,
        help="show the effective configuration",
        description=f"Print the configuration 'simplugin scan' would use, as TOML: the file's"
        f" settings and sinks (--config FILE, else ./{CONFIG_FILE_NAME}, else"
        f" {user_config_path()}) over the defaults, after checking them against the plugins."
        " Each setting is shown under its name, as 'simplugin.scan()' takes it.",
    )
    parser.add_argument("action", choices=("show",))
    parser.add_argument("--config", metavar="FILE", help="the file to read")


def run(arguments: argparse.Namespace) -> int:
    host = load_plugins()
    config = load_config(find_config(arguments.config))
    prepared = file_sinks(host, config)
    check_plugins(host, config, config.settings)
    shown = {}
    for name, setting in SETTINGS.items():
        value = config.settings.get(name, setting.default)
        if setting.in_file and value is not None:
            shown[name] = value
    sinks = [(sink.name, options) for sink, options, _ in prepared]
    print(f"# {'read from ' + config.path if config.path else 'no configuration file: defaults'}")
    print(as_toml(shown, sinks), end="")
    return ExitCode.OK
