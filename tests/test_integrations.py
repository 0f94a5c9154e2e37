"""The integrations in hooks/, installed with `simplugin integrations install` and run by the
real tools where they can run here: darktable headless under Xvfb, the desktop files
checked by desktop-file-validate, the file-manager actions run as the manager runs them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import SEAGULLS, need_program, run_simplugin
from simplugin.review import IDLE_VARIABLE

SOURCE = Path(__file__).parents[1]
HOOKS = SOURCE / "hooks"
# A desktop session's PATH, as for someone who installed simplugin in a virtual
# environment: no simplugin there. The integrations must run it all the same.
PATH_WITHOUT_SIMPLUGIN = "/usr/bin:/bin"


# The Debian package of each program the integration tests drive.
PACKAGES = {
    "darktable": "darktable",
    "geeqie": "geeqie",
    "xvfb-run": "xvfb",
    "Xvfb": "xvfb",
    "xauth": "xauth",
    "xdotool": "xdotool",
    "desktop-file-validate": "desktop-file-utils",
    "gio": "libglib2.0-bin",
}


def need(program: str) -> str:
    return need_program(program, PACKAGES[program])


def config_home() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"])


def data_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def without_simplugin_on_path() -> dict:
    """This test's environment with a PATH that has no simplugin (its PYTHONPATH kept, so
    that a Python started by an integration imports the simplugin under test)."""
    assert shutil.which("simplugin", path=PATH_WITHOUT_SIMPLUGIN) is None
    pythonpath = os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": PATH_WITHOUT_SIMPLUGIN, "PYTHONPATH": pythonpath}


def python_in(folder: Path) -> Path:
    """This Python, reached from `folder`: as for a virtual environment's interpreter
    there, the integrations installed by it must run it from there."""
    folder.mkdir(parents=True)
    (folder / "python").symlink_to(sys.executable)
    return folder / "python"


def install_with(python: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "simplugin", "integrations", "install", name],
        cwd=SOURCE,
        env=without_simplugin_on_path(),
        capture_output=True,
        text=True,
    )


# A folder name that each kind of file must quote: the shell's and the Desktop Entry
# specification's special characters, and Thunar's and the .desktop Exec's % (GLib, which
# `gio launch` uses, looks for an Exec program before undoing %%: not in Geeqie's test).
ODD_FOLDER = 'it\'s my "venv" $HOME `x` \\ (1) & <2>'


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


def run_darktable(
    tmp_path: Path, photos: list[Path], driver_lua: str = DARKTABLE_DRIVER
) -> dict[str, tuple[str, ...]]:
    """Start darktable (headless, in memory) with the installed script, import `photos`,
    run the script's grouping on them (or another `driver_lua`, given PATHS and RESULT);
    what darktable recorded, by file name."""
    need("xvfb-run")
    need("xauth")  # xvfb-run cannot start the server without it
    darktable = need("darktable")
    result = tmp_path / "darktable-result.tsv"
    driver = config_home() / "darktable" / "lua" / "simplugin_test_driver.lua"
    driver.write_text(
        f"PATHS = {{{', '.join(lua_string(str(p)) for p in photos)}}}\n"
        f"RESULT = {lua_string(str(result))}\n" + driver_lua
    )
    command = [
        "xvfb-run", "-a", darktable, "--library", ":memory:",
        "--configdir", str(config_home() / "darktable"),
        "--luacmd", 'require "simplugin_test_driver"',
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env={**without_simplugin_on_path(), "HOME": str(tmp_path)},
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
    # Installed by a Python in a folder whose name needs quoting in the Lua string and
    # in the shell command it holds.
    installed = install_with(python_in(tmp_path / f"{ODD_FOLDER} %u" / "bin"), "darktable")
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
    """$BROWSER, which `simplugin review` opens the page with, loads the page (into
    page.html beside the log), then records the address; once it has, the page counts
    as closed, and the review stops serving it a second later."""
    log = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    load = (
        "import sys, urllib.request as u; opener = u.build_opener(u.ProxyHandler({}));"
        " sys.stdout.buffer.write(opener.open(sys.argv[1]).read())"
    )
    browser.write_text(
        f'#!/bin/sh\n{shlex.quote(sys.executable)} -c {shlex.quote(load)} "$1"'
        f" > {shlex.quote(str(log.with_name('page.html')))}\n"
        f'echo "$1" >> {shlex.quote(str(log))}\n'
    )
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.setenv(IDLE_VARIABLE, "1")
    return log


def assert_review_opened(log: Path) -> str:
    """The page the review served, which the browser was opened at; its text."""
    (address,) = log.read_text().splitlines()
    assert address.startswith("http://127.0.0.1:")
    page = log.with_name("page.html").read_text()
    assert "seagull_5.jpeg" in page
    return page


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
    environment = {**without_simplugin_on_path(), "DISPLAY": screen, "HOME": str(tmp_path)}
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

    page = assert_review_opened(browser_log)
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
        env=without_simplugin_on_path(),
        capture_output=True,
    )

    assert run.returncode == 0, run.stderr
    assert_review_opened(browser_log)


def thunar_command_line(command: str, selected: list[Path]) -> str:
    """What Thunar runs with sh -c for a custom action's command: %F the selected paths,
    each quoted for the shell, %% a percent sign."""
    fields = {"F": " ".join(shlex.quote(str(path)) for path in selected), "%": "%"}
    return re.sub("%(.)", lambda field: fields[field.group(1)], command)


def test_the_thunar_action_reviews_the_selected_items(tmp_path, browser_log, library):
    assert run_simplugin("hooks", "install", "thunar").returncode == 0
    actions = ElementTree.parse(config_home() / "Thunar" / "uca.xml").getroot()
    (action,) = actions.findall("action")
    assert action.find("image-files") is not None and action.find("directories") is not None
    command = thunar_command_line(action.findtext("command"), [library])

    run = subprocess.run(["/bin/sh", "-c", command], env=without_simplugin_on_path())

    assert run.returncode == 0
    assert_review_opened(browser_log)


def test_the_git_hook_installs_into_the_repository_of_the_current_folder(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)

    run = run_simplugin("hooks", "install", "git", cwd=tmp_path / "repo")

    hook = tmp_path / "repo" / ".git" / "hooks" / "pre-commit"
    assert run.returncode == 0, run.stderr
    assert f"exec {shlex.quote(sys.executable)} -m simplugin check-staged\n" in hook.read_text()
    assert os.access(hook, os.X_OK)


@pytest.mark.parametrize("command", ["integrations", "hooks"])
def test_show_git_outside_a_repository_says_where_the_hook_would_go(tmp_path, command):
    run = run_simplugin(command, "show", "git", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "-> <your repository>/.git/hooks/pre-commit" in run.stdout


def test_installing_git_outside_a_repository_is_still_a_usage_error(tmp_path):
    run = run_simplugin("integrations", "install", "git", cwd=tmp_path)

    assert run.returncode == 2
    assert "run it inside one" in run.stderr


# --- from a virtual environment, whatever the desktop's PATH holds -------------------------


def test_the_nautilus_script_of_a_python_in_an_odd_folder_runs_it(
    tmp_path, monkeypatch, browser_log, library
):
    installed_to = data_home(tmp_path, monkeypatch) / "nautilus" / "scripts"
    python = python_in(tmp_path / f"{ODD_FOLDER} %u" / "bin")
    assert install_with(python, "nautilus").returncode == 0
    (script,) = installed_to.iterdir()

    run = subprocess.run(
        [str(script), "seagull_5.jpeg"], cwd=library, env=without_simplugin_on_path(),
        capture_output=True,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert_review_opened(browser_log)


def test_the_thunar_action_of_a_python_in_an_odd_folder_runs_it(tmp_path, browser_log, library):
    python = python_in(tmp_path / f"{ODD_FOLDER} %u" / "bin")
    assert install_with(python, "thunar").returncode == 0
    actions = ElementTree.parse(config_home() / "Thunar" / "uca.xml").getroot()
    command = thunar_command_line(actions.find("action").findtext("command"), [library])

    run = subprocess.run(["/bin/sh", "-c", command], env=without_simplugin_on_path())

    assert run.returncode == 0
    assert_review_opened(browser_log)


def test_the_geeqie_plugin_of_a_python_in_an_odd_folder_is_valid_and_runs_it(
    tmp_path, monkeypatch, browser_log, library
):
    installed_to = data_home(tmp_path, monkeypatch) / "applications"
    python = python_in(tmp_path / ODD_FOLDER / "bin")
    assert install_with(python, "geeqie").returncode == 0
    (desktop,) = installed_to.glob("*.desktop")
    validated = subprocess.run(
        [need("desktop-file-validate"), str(desktop)], capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout

    # GLib reads the file by the Desktop Entry specification, TryExec and Exec quoting.
    run = subprocess.run(
        [need("gio"), "launch", str(desktop), str(library)],
        env={**without_simplugin_on_path(), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    deadline = time.monotonic() + 60  # gio launch does not wait for the program
    while not browser_log.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_review_opened(browser_log)


def test_installing_from_a_python_in_a_temporary_folder_warns_in_one_line(tmp_path, monkeypatch):
    data_home(tmp_path, monkeypatch)
    python = python_in(tmp_path / "venv" / "bin")

    run = install_with(python, "nautilus")

    assert run.returncode == 0, run.stderr
    assert run.stderr == (
        f"simplugin: warning: the installed files run {python}, inside the temporary folder"
        f" {tempfile.gettempdir()}: they will stop working when it is cleaned (install from a"
        " simplugin outside it)\n"
    )


def test_installing_from_a_python_outside_the_temporary_folders_says_nothing_of_them(
    tmp_path, monkeypatch
):
    data_home(tmp_path, monkeypatch)
    assert not sys.executable.startswith(("/tmp/", "/var/tmp/", tempfile.gettempdir()))

    run = run_simplugin("integrations", "install", "nautilus")

    assert run.returncode == 0
    assert run.stderr == ""


def test_a_file_an_earlier_simplugin_installed_is_replaced_only_when_asked(tmp_path, monkeypatch):
    script = data_home(tmp_path, monkeypatch) / "nautilus" / "scripts" / "Review near-duplicates"
    script.parent.mkdir(parents=True)
    shutil.copy(HOOKS / "nautilus" / "Review near-duplicates", script)  # as they installed it
    earlier = script.read_bytes()

    refused = run_simplugin("integrations", "install", "nautilus")

    assert refused.returncode == 3
    assert f"{script} is the file an earlier simplugin installed" in refused.stderr
    assert "simplugin integrations install nautilus --replace-old" in refused.stderr
    assert script.read_bytes() == earlier

    replaced = run_simplugin("integrations", "install", "nautilus", "--replace-old")

    assert replaced.returncode == 0, replaced.stderr
    assert f"replaced the earlier {script}" in replaced.stdout
    assert f"exec {shlex.quote(sys.executable)} -m simplugin review" in script.read_text()
    assert os.access(script, os.X_OK)


# The commit that first shipped the darktable script, as early versions installed it.
FIRST_DARKTABLE = "379bf02fb4e7493764b338971f183651fd5482d1"


def test_a_darktable_script_of_an_earlier_version_is_recognised_and_replaced_when_asked():
    shipped = subprocess.run(
        ["git", "show", f"{FIRST_DARKTABLE}:hooks/darktable/simplugin.lua"],
        cwd=SOURCE,
        capture_output=True,
    )
    if shipped.returncode != 0:
        pytest.skip("needs the git history of simplugin's source")
    script = config_home() / "darktable" / "lua" / "simplugin.lua"
    script.parent.mkdir(parents=True)
    script.write_bytes(shipped.stdout)

    refused = run_simplugin("integrations", "install", "darktable")
    assert refused.returncode == 3
    assert f"{script} is the file an earlier simplugin installed" in refused.stderr

    replaced = run_simplugin("integrations", "install", "darktable", "--replace-old")
    assert replaced.returncode == 0, replaced.stderr
    assert shlex.quote(sys.executable) in script.read_text()


def test_replace_old_leaves_a_file_the_user_edited_alone(tmp_path, monkeypatch):
    script = data_home(tmp_path, monkeypatch) / "nautilus" / "scripts" / "Review near-duplicates"
    script.parent.mkdir(parents=True)
    edited = (HOOKS / "nautilus" / "Review near-duplicates").read_bytes() + b"# mine\n"
    script.write_bytes(edited)

    run = run_simplugin("integrations", "install", "nautilus", "--replace-old")

    assert run.returncode == 3
    assert f"{script} exists and is different; left as it is" in run.stderr
    assert script.read_bytes() == edited
