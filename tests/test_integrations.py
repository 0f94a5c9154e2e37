"""The integrations in hooks/, installed with `simplugin integrations install` and run by the
real tools where they can run here: darktable headless under Xvfb, the desktop files
checked by desktop-file-validate, the file-manager actions run as the manager runs them."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import SEAGULLS, need_program, run_simplugin

HOOKS = Path(__file__).parents[1] / "hooks"
SIMPLUGIN = f"{shlex.quote(sys.executable)} -m simplugin"  # what the integrations run


# The Debian package of each program the integration tests drive.
PACKAGES = {
    "darktable": "darktable",
    "geeqie": "geeqie",
    "xvfb-run": "xvfb",
    "Xvfb": "xvfb",
    "xauth": "xauth",
    "xdotool": "xdotool",
    "desktop-file-validate": "desktop-file-utils",
}


def need(program: str) -> str:
    return need_program(program, PACKAGES[program])


def config_home() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"])


def data_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


# --- simplugin integrations (also called hooks) ------------------------------------------


def test_hooks_list_names_every_integration_in_the_hooks_folder():
    run = run_simplugin("hooks", "list")

    assert run.returncode == 0
    listed = [line.split()[0] for line in run.stdout.splitlines()]
    assert listed == sorted(p.parent.name for p in HOOKS.glob("*/install.toml"))
    assert {"darktable", "geeqie", "git", "nautilus", "thunar"} <= set(listed)


def test_hooks_show_tells_how_it_works_and_where_its_files_go():
    run = run_simplugin("hooks", "show", "darktable")

    assert run.returncode == 0
    assert "image:group_with" not in run.stdout  # the README, for users, not the code
    assert f"-> {config_home() / 'darktable' / 'lua' / 'simplugin.lua'}" in run.stdout


def test_installing_never_replaces_a_file_of_the_users(tmp_path):
    luarc = config_home() / "darktable" / "luarc"
    script = config_home() / "darktable" / "lua" / "simplugin.lua"
    script.parent.mkdir(parents=True)
    script.write_text("-- my own script that happens to have this name\n")
    luarc.write_text('require "something_else"')

    run = run_simplugin("hooks", "install", "darktable")

    assert run.returncode == 3
    assert f"not installed: {script} exists and is different" in run.stderr
    assert script.read_text() == "-- my own script that happens to have this name\n"
    assert luarc.read_text() == 'require "something_else"\nrequire "simplugin"\n'


def test_installing_twice_changes_nothing_the_second_time():
    run_simplugin("hooks", "install", "darktable")
    luarc = (config_home() / "darktable" / "luarc").read_text()

    again = run_simplugin("hooks", "install", "darktable")

    assert again.returncode == 0
    assert (config_home() / "darktable" / "luarc").read_text() == luarc
    assert "already installed" in again.stdout


def test_an_unknown_integration_is_a_usage_error():
    run = run_simplugin("hooks", "install", "photoshop")

    assert run.returncode == 2
    assert "no integration 'photoshop'" in run.stderr


def test_the_command_is_called_integrations_and_hooks_is_another_name_for_it():
    integrations = run_simplugin("integrations", "list")
    hooks = run_simplugin("hooks", "list")

    assert integrations.returncode == hooks.returncode == 0
    assert integrations.stdout == hooks.stdout
    assert "darktable" in integrations.stdout
    assert "integrations (hooks)" in run_simplugin("--help").stdout


def test_integrations_install_puts_the_files_in_place_as_hooks_install_did():
    run = run_simplugin("integrations", "install", "darktable")

    assert run.returncode == 0, run.stderr
    assert (config_home() / "darktable" / "lua" / "simplugin.lua").exists()
    assert "already installed" in run_simplugin("hooks", "install", "darktable").stdout


@pytest.mark.parametrize("command", ["integrations", "hooks"])
def test_a_missing_name_is_a_usage_error_in_the_words_typed(command):
    run = run_simplugin(command, "show")

    assert run.returncode == 2
    assert run.stderr == f"simplugin: error: {command} show needs the NAME of an integration\n"


def test_the_hooks_are_shipped_in_the_wheel(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=HOOKS.parent,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("simplugin-*.whl")
    listing = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True
    ).stdout

    for path in HOOKS.glob("*/*"):
        assert f"simplugin/hook_files/{path.parent.name}/{path.name}" in listing


# --- darktable -----------------------------------------------------------------------------

DARKTABLE_DRIVER = """
local dt = require "darktable"
local simplugin = require "simplugin"
local images = {}
for _, path in ipairs(PATHS) do
  images[#images + 1] = dt.database.import(path)
end
local groups, reason = simplugin.group_near_duplicates(images)
local out = io.open(RESULT .. ".partial", "w")
out:write("groups\\t", tostring(groups or reason), "\\n")
for _, image in ipairs(dt.database) do
  local tags = {}
  for _, tag in ipairs(dt.tags.get_tags(image)) do
    if tag.name:find("^simplugin") then tags[#tags + 1] = tag.name end
  end
  local leader = image.group_leader.filename
  out:write(image.filename, "\\t", leader, "\\t", table.concat(tags, ","), "\\n")
end
out:close()
os.rename(RESULT .. ".partial", RESULT)
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_darktable(tmp_path: Path, photos: list[Path]) -> dict[str, tuple[str, str]]:
    """Start darktable (headless, in memory) with the installed script, import `photos`,
    run the script's grouping on them; what darktable recorded, by file name."""
    need("xvfb-run")
    need("xauth")  # xvfb-run cannot start the server without it
    darktable = need("darktable")
    result = tmp_path / "darktable-result.tsv"
    driver = config_home() / "darktable" / "lua" / "simplugin_test_driver.lua"
    driver.write_text(
        f"PATHS = {{{', '.join(lua_string(str(p)) for p in photos)}}}\n"
        f"RESULT = {lua_string(str(result))}\n" + DARKTABLE_DRIVER
    )
    command = [
        "xvfb-run", "-a", darktable, "--library", ":memory:",
        "--configdir", str(config_home() / "darktable"),
        "--luacmd", 'require "simplugin_test_driver"',
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env={**os.environ, "SIMPLUGIN_COMMAND": SIMPLUGIN, "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not result.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # darktable's Lua API has no way to quit
        stderr = process.communicate()[1].decode(errors="replace")
    assert result.exists(), f"darktable wrote no result; its stderr:\n{stderr[-3000:]}"
    lines = [line.split("\t") for line in result.read_text().splitlines()]
    return {name: tuple(rest) for name, *rest in lines}


@pytest.fixture
def darktable_photos(tmp_path) -> list[Path]:
    folder = tmp_path / "film roll"
    shutil.copytree(SEAGULLS, folder)
    os.rename(folder / "seagull_5.jpeg", folder / 'it\'s a "gull".jpeg')  # quoting
    return sorted(folder.iterdir())


def test_darktable_groups_the_near_duplicates_and_tags_them(tmp_path, darktable_photos):
    installed = run_simplugin("hooks", "install", "darktable")
    assert installed.returncode == 0, installed.stderr

    recorded = run_darktable(tmp_path, darktable_photos)

    assert recorded["groups"] == ("2",)
    leader, keep, duplicate = "seagull_1.jpeg", "simplugin|keep", "simplugin|duplicate"
    assert recorded["seagull_1.jpeg"] == (leader, keep)
    assert recorded["seagull_3.jpeg"] == (leader, duplicate)
    assert recorded["seagull_4.jpeg"] == (leader, duplicate)
    assert recorded["seagull_6.jpeg"] == ("seagull_6.jpeg", keep)
    assert recorded['it\'s a "gull".jpeg'] == ("seagull_6.jpeg", duplicate)
    assert recorded["seagull_2.jpeg"] == ("seagull_2.jpeg", "")  # alone, untagged


# --- Geeqie, Nautilus, Thunar --------------------------------------------------------------


@pytest.fixture
def browser_log(tmp_path, monkeypatch) -> Path:
    """$BROWSER, which `simplugin review` opens the report with, records the address."""
    log = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {shlex.quote(str(log))}\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    return log


def with_simplugin_on_path(tmp_path: Path) -> dict:
    """An environment whose `simplugin` is this test's, as a desktop session's PATH has."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    (folder / "simplugin").write_text(f'#!/bin/sh\nexec {SIMPLUGIN} "$@"\n')
    (folder / "simplugin").chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def assert_review_opened(log: Path) -> None:
    (address,) = log.read_text().splitlines()
    page = Path(address.removeprefix("file://"))
    assert page.name == "report.html" and page.exists()
    assert "seagull_5.jpeg" in page.read_text()


def test_the_geeqie_plugin_is_a_valid_desktop_file(tmp_path, monkeypatch):
    installed_to = data_home(tmp_path, monkeypatch) / "applications"
    assert run_simplugin("hooks", "install", "geeqie").returncode == 0
    (desktop,) = installed_to.glob("*.desktop")

    validated = subprocess.run(
        [need("desktop-file-validate"), str(desktop)], capture_output=True, text=True
    )

    assert validated.returncode == 0, validated.stdout
    assert "OnlyShowIn=X-Geeqie;" in desktop.read_text()  # not in the desktop's menus


@pytest.fixture
def screen():
    """A virtual screen (Xvfb) of the test's own; its DISPLAY."""
    server = subprocess.Popen(
        [need("Xvfb"), "-displayfd", "1", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    number = server.stdout.readline().decode().strip()
    yield f":{number}"
    server.kill()
    server.wait()


def test_geeqie_runs_the_plugin_on_the_selected_photos(
    tmp_path, monkeypatch, browser_log, library, screen
):
    data_home(tmp_path, monkeypatch)
    assert run_simplugin("hooks", "install", "geeqie").returncode == 0
    # A key for the plugin, as a user would set one in Geeqie's keyboard preferences,
    # so that the test can press it rather than find its way through a menu.
    (config_home() / "geeqie").mkdir()
    (config_home() / "geeqie" / "accels").write_text(
        '(gtk_accel_path "<Actions>/MenuActionsExternal/simplugin-review.desktop" "F9")\n'
    )
    environment = {**with_simplugin_on_path(tmp_path), "DISPLAY": screen, "HOME": str(tmp_path)}
    xdotool = need("xdotool")

    def press(*keys: str) -> None:
        subprocess.run([xdotool, "key", *keys], env=environment, check=True, timeout=30)

    geeqie = subprocess.Popen(
        [need("geeqie"), str(library)],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        window = subprocess.run(
            [xdotool, "search", "--sync", "--name", " - Geeqie"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()[0]
        subprocess.run([xdotool, "windowfocus", "--sync", window], env=environment, timeout=30)
        press("ctrl+a")  # select every photo of the folder
        press("F9")
        deadline = time.monotonic() + 60
        while not browser_log.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        geeqie.kill()
        geeqie.wait()

    assert_review_opened(browser_log)
    page = Path(browser_log.read_text().strip().removeprefix("file://")).read_text()
    assert all(f"seagull_{n}.jpeg" in page for n in (1, 3, 4, 5, 6))  # every group


def test_the_nautilus_script_reviews_the_selected_items(
    tmp_path, monkeypatch, browser_log, library
):
    installed_to = data_home(tmp_path, monkeypatch) / "nautilus" / "scripts"
    assert run_simplugin("hooks", "install", "nautilus").returncode == 0
    (script,) = installed_to.iterdir()
    assert os.access(script, os.X_OK)

    # Nautilus runs a script in the current folder, with the selected names as arguments.
    run = subprocess.run(
        [str(script), "seagull_5.jpeg", "seagull_6.jpeg"],
        cwd=library,
        env=with_simplugin_on_path(tmp_path),
        capture_output=True,
    )

    assert run.returncode == 0, run.stderr
    assert_review_opened(browser_log)


def test_the_thunar_action_reviews_the_selected_items(tmp_path, browser_log, library):
    assert run_simplugin("hooks", "install", "thunar").returncode == 0
    actions = ElementTree.parse(config_home() / "Thunar" / "uca.xml").getroot()
    (action,) = actions.findall("action")
    assert action.find("image-files") is not None and action.find("directories") is not None
    command = action.findtext("command").replace("%F", shlex.quote(str(library)))

    run = subprocess.run(command, shell=True, env=with_simplugin_on_path(tmp_path))

    assert run.returncode == 0
    assert_review_opened(browser_log)


def test_the_git_hook_installs_into_the_repository_of_the_current_folder(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)

    run = run_simplugin("hooks", "install", "git", cwd=tmp_path / "repo")

    hook = tmp_path / "repo" / ".git" / "hooks" / "pre-commit"
    assert run.returncode == 0, run.stderr
    assert hook.read_bytes() == (HOOKS / "git" / "pre-commit").read_bytes()
    assert os.access(hook, os.X_OK)
