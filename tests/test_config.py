"""A TOML configuration file chooses the scan's settings and its sinks; the command
line overrides it, and every mistake in it is one line naming the file and the key."""

from __future__ import annotations

import inspect
import json
import os

import pytest

from conftest import run_simplugin
from simplugin import scan


def write_config(folder, text: str):
    path = folder / "simplugin.toml"
    path.write_text(text)
    return path


def test_the_file_in_the_current_folder_chooses_the_threshold_and_a_json_sink(library, tmp_path):
    write_config(tmp_path, 'threshold = 0.02\n\n[[sinks]]\nname = "json"\npath = "dupes.json"\n')

    run = run_simplugin("scan", str(library), cwd=tmp_path)

    assert run.returncode == 0
    pairs = json.loads((tmp_path / "dupes.json").read_text())["pairs"]
    assert [(p["a"][-14:], p["b"][-14:]) for p in pairs] == [("seagull_5.jpeg", "seagull_6.jpeg")]


def test_a_move_sink_in_the_file_moves_the_duplicates_on_scan_apply(library, tmp_path):
    config = write_config(
        tmp_path, f'[[sinks]]\nname = "move"\nto = "{tmp_path / "near-duplicates"}"\n'
    )

    run = run_simplugin("scan", str(library), "--config", str(config), "--apply")

    assert run.returncode == 0
    assert sorted(p.name for p in (tmp_path / "near-duplicates").glob("*.jpeg")) == [
        "seagull_3.jpeg",
        "seagull_4.jpeg",
        "seagull_5.jpeg",
    ]


def test_flags_on_the_command_line_override_the_file(library, tmp_path):
    config = write_config(tmp_path, "threshold = 0.02\n")

    run = run_simplugin(
        "scan", str(library), "--config", str(config), "--threshold", "0.07", "--json", "-"
    )

    assert len(json.loads(run.stdout)["pairs"]) == 4


def test_the_bucketer_window_can_be_set_in_the_file(tmp_path):
    config = write_config(tmp_path, '[bucket_options]\nwindow = "5m"\n')

    run = run_simplugin("config", "show", "--config", str(config))

    assert run.returncode == 0
    assert '\n[bucketer_options]\nwindow = "5m"\n' in run.stdout  # shown under its one name


def test_an_unknown_setting_is_one_line_naming_the_file_and_the_key(library, tmp_path):
    config = write_config(tmp_path, "treshold = 0.05\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr.startswith(f"simplugin: error: {config}: treshold: unknown setting")
    assert run.stderr.count("\n") == 1


def test_a_value_of_the_wrong_type_says_what_was_expected(library, tmp_path):
    config = write_config(tmp_path, "threshold = [0.05]\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {config}: threshold: expected a number, or a word such as strict,"
        " default or loose, not [0.05]\n"
    )


def test_a_sink_option_of_the_wrong_type_names_the_sink_in_the_file(library, tmp_path):
    config = write_config(tmp_path, '[[sinks]]\nname = "move"\nto = 5\n')

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {config}: sinks[1]: sink 'move' option 'to' expects str:"
        " TypeError: expected str, not 5\n"
    )


def test_an_unknown_sink_option_in_the_file_lists_the_options(library, tmp_path):
    config = write_config(tmp_path, '[[sinks]]\nname = "json"\nfile = "x.json"\n')

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert "sinks[1]: sink 'json' has no option 'file' (its options: path)" in run.stderr


def test_a_bad_bucketer_option_in_the_file_names_the_file(library, tmp_path):
    config = write_config(tmp_path, '[bucket_options]\nwindow = "soon"\n')

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr.startswith(
        f"simplugin: error: {config}: bucket_options: bucketer 'exif-time'"
    )


def test_a_file_that_is_not_toml_is_a_usage_error(library, tmp_path):
    config = write_config(tmp_path, "threshold = = 1\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr.startswith(f"simplugin: error: {config}: not valid TOML:")


def test_config_show_prints_the_effective_configuration(tmp_path):
    config = write_config(
        tmp_path, 'metric = "avgdiff"\n\n[[sinks]]\nname = "json"\npath = "d.json"\n'
    )

    run = run_simplugin("config", "show", "--config", str(config))

    assert run.stdout == (
        f"# read from {config}\n"
        'metric = "avgdiff"\nonly_identical = false\nrotations = false\n'
        'keep = ["original", "largest", "biggest-file", "shortest-path"]\nprotect = []\n'
        'bucketer = "exif-time"\nundated = "compare-all"\nexecutor = "local"\n'
        "cache = true\nignore_list = true\nfollow_symlinks = false\nexclude = []\n"
        "default_excludes = true\n"
        '\n[[sinks]]\nname = "json"\npath = "d.json"\n'
    )


def test_the_users_config_folder_is_read_when_there_is_no_local_file(library, tmp_path):
    folder = tmp_path / "xdg" / "simplugin"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("threshold = 0.02\n")

    run = run_simplugin(
        "scan",
        str(library),
        "--json",
        "-",
        cwd=tmp_path,
        env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")},
    )

    assert len(json.loads(run.stdout)["pairs"]) == 1


def make_fifo(folder):
    path = folder / "simplugin.toml"
    os.mkfifo(path)
    return path


def make_folder(folder):
    path = folder / "simplugin.toml"
    path.mkdir()
    return path


# Files that once took a traceback, a hang or gigabytes: each is one line, before parsing.
UNREADABLE_CONFIGS = {
    "20,000 dotted keys": (
        lambda folder: write_config(folder, ".".join(["a"] * 20_000) + " = 1\n"),
        "line 1: nested more than 16 deep (arrays, tables and dotted keys)",
    ),
    "arrays nested 100,000 deep": (
        lambda folder: write_config(folder, "threshold = " + "[" * 100_000 + "]" * 100_000),
        "line 1: nested more than 16 deep (arrays, tables and dotted keys)",
    ),
    "inline tables nested 5,000 deep": (
        lambda folder: write_config(folder, "[bucket_options]\nx = " + "{a = " * 5000 + "1"),
        "line 2: nested more than 16 deep (arrays, tables and dotted keys)",
    ),
    "not UTF-8": (
        lambda folder: write_config(folder, "").write_bytes(b"metric = 'caf\xe9'\n"),
        "not UTF-8 text: byte 14 cannot be read",
    ),
    "larger than 256 KiB": (
        lambda folder: write_config(folder, "# a long comment\n" * 20_000),
        "larger than 256.0 KiB, too large for a configuration file",
    ),
    "a FIFO": (make_fifo, "a FIFO (named pipe), not a configuration file"),
    "a folder": (make_folder, "a folder, not a configuration file"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE_CONFIGS))
def test_a_config_file_that_cannot_be_a_configuration_is_one_line_naming_it(
    library, tmp_path, case
):
    make, reason = UNREADABLE_CONFIGS[case]
    config = tmp_path / "simplugin.toml"
    make(tmp_path)

    # A FIFO gets a process of its own, which has a timeout: waiting on it would hang.
    run = run_simplugin("scan", str(library), "--config", str(config), process=case == "a FIFO")

    assert run.returncode == 2
    assert run.stderr == f"simplugin: error: {config}: {reason}\n"


# Values of the right type that no scan can use: named by file and key, in one line.
BAD_VALUES = {
    'metric = "nope"': "metric: unknown metric 'nope' (available: avgdiff",
    'bucket = "nope"': "bucket: unknown bucketer 'nope' (available: exif-time",
    "threshold = nan": "threshold: expected a number of 0 or more, not nan",
    "threshold = inf": "threshold: expected a number of 0 or more, not inf",
    "threshold = -1": "threshold: expected a number of 0 or more, not -1",
    'undated = "sometimes"': ('undated: expected "compare-all" or "separate", not \'sometimes\''),
    "jobs = 0": "jobs: expected a whole number from 1 to",
    "jobs = -4": "jobs: expected a whole number from 1 to",
}


@pytest.mark.parametrize("line", sorted(BAD_VALUES))
def test_a_value_no_scan_can_use_is_one_line_naming_the_file_and_the_key(library, tmp_path, line):
    config = write_config(tmp_path, line + "\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr.startswith(f"simplugin: error: {config}: {BAD_VALUES[line]}")
    assert run.stderr.count("\n") == 1


LONG = "x" * 200_000
LONG_VALUES = {  # a line of the file: how its error starts
    f'metric = "{LONG}"': "metric: unknown metric 'xxxx",
    f'undated = "{LONG}"': "undated: expected",
    "cache = [" + "1, " * 60_000 + "]": "cache: expected a path, or false, not [1, 1,",
    f'bucket_options.window = "{LONG}"': "bucket_options: bucketer 'exif-time' option 'window'",
    f'"{LONG}" = 1': "'xxxx",
}


@pytest.mark.parametrize("line", LONG_VALUES, ids=lambda line: line[:20])
def test_a_long_value_or_key_in_the_file_is_quoted_cut_short(library, tmp_path, line):
    config = write_config(tmp_path, line + "\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr.startswith(f"simplugin: error: {config}: {LONG_VALUES[line]}")
    assert run.stderr.count("\n") == 1 and len(run.stderr) < 400


# --- one name per setting, the old ones still read ----------------------------------------


@pytest.mark.parametrize("key", ["bucketer", "bucket"])
def test_the_bucketer_is_chosen_by_its_name_or_its_name_before(library, tmp_path, key):
    config = write_config(tmp_path, f'{key} = "none"\n')

    run = run_simplugin("scan", str(library), "--config", str(config), "--json", "-")

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["bucketer"] is None


def test_config_show_shows_an_old_key_under_the_settings_one_name(tmp_path):
    config = write_config(tmp_path, 'bucket = "exif-time"\n\n[bucket_options]\nwindow = "5m"\n')

    run = run_simplugin("config", "show", "--config", str(config))

    assert run.returncode == 0
    assert 'bucketer = "exif-time"\n' in run.stdout
    assert '\n[bucketer_options]\nwindow = "5m"\n' in run.stdout


def test_a_setting_given_under_both_its_names_is_one_line_naming_the_file(library, tmp_path):
    config = write_config(tmp_path, 'bucket = "none"\nbucketer = "exif-time"\n')

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {config}: bucketer: the same setting as bucket: give one of them\n"
    )


def test_every_key_of_the_file_is_a_keyword_of_the_api(library, tmp_path):
    config = write_config(tmp_path, "nothing = 1\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    listed = run.stderr.split("(the settings are: ", 1)[1].split(")")[0].split(", ")
    assert listed[-1] == "sinks"
    assert set(listed[:-1]) <= set(inspect.signature(scan).parameters)
