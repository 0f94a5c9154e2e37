"""The README's promises are checked, so that it cannot drift from the code."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

from simplugin import hookspecs
from simplugin.errors import ExitCode
from simplugin.settings import SETTINGS

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_the_readme_has_exactly_two_set_up_commands_and_ci_runs_the_second():
    commands = setup_commands()

    assert len(commands) == 2
    assert "simplugin scan examples/photos" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_sample_scan_prints_what_the_readme_shows():
    run = subprocess.run(
        ["simplugin", "scan", "examples/photos"], cwd=ROOT, capture_output=True, text=True
    )
    shown = README.split("$ simplugin scan examples/photos\n", 1)[1].split("\nsimplugin:")[0]

    assert run.returncode == 0
    assert run.stdout == shown


def test_every_exit_code_is_documented():
    codes = {int(code) for code in ExitCode}
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", README, re.MULTILINE)}
    assert documented == codes


def test_every_scan_setting_is_in_the_options_table_under_its_one_name():
    table = README.split("| option | what it does |", 1)[1].split("\n\n", 1)[0]
    for setting in SETTINGS.values():
        if setting.flags:
            assert re.search(rf"(\| |, )`{setting.flags[0]}[ `]", table), setting.name


def test_the_plugin_guide_quotes_every_hook_with_its_signature_and_docstring():
    guide = (ROOT / "docs" / "plugin-guide.md").read_text()
    for name, function in vars(hookspecs).items():
        if not hasattr(function, "simplugin_spec"):
            continue
        signature = f"{name}({', '.join(inspect.signature(function).parameters)})"
        assert f"### `{signature}`" in guide, f"{signature} is missing from the plugin guide"
        assert inspect.getdoc(function) in guide, f"the guide's text for {name} is out of date"


def test_every_hook_is_documented():
    hooks = {
        name for name in vars(hookspecs) if hasattr(getattr(hookspecs, name), "simplugin_spec")
    }
    assert hooks  # the markers are found
    for hook in hooks:
        assert f"| `{hook}(" in README, hook
