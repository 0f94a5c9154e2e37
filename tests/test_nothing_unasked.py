"""Nothing changes a file unless this command line asked for it: a configuration file
may describe a move, but a plain `scan` only reads, `scan --apply` runs it, and `review`
never does. A sink says whether it changes files, so a third-party sink gets the rule too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_move import snapshot

from conftest import run_simplugin
from simplugin.review import IDLE_VARIABLE

# A third-party sink that changes the user's files: it writes a tag file beside every
# duplicate (as a sink writing XMP sidecars would).
TAGGER_PLUGIN = """
    from pathlib import Path
    from simplugin import Sink, hookimpl

    class Tagger(Sink):
        name = "tagger"
        description = "tag every duplicate"
        changes_files = True

        def write(self, result, options):
            for group in result.groups:
                for duplicate in group.duplicates:
                    Path(duplicate.photo.path + ".tag").write_text("duplicate")

    @hookimpl
    def register_sinks(register):
        register(Tagger())
"""

NOT_RUN = "changes files and was not run"


def write_config(folder: Path, *sinks: str) -> None:
    """A simplugin.toml in `folder`, as the user of the issue had, with these sinks."""
    (folder / "simplugin.toml").write_text("\n".join(f"[[sinks]]\n{sink}\n" for sink in sinks))


@pytest.fixture
def configured_to_move(library, tmp_path) -> Path:
    """A folder to run in whose simplugin.toml moves duplicates and writes a JSON report."""
    write_config(
        tmp_path,
        f'name = "move"\nto = "{tmp_path / "near-duplicates"}"',
        'name = "json"\npath = "dupes.json"',
    )
    return tmp_path


def test_a_plain_scan_moves_nothing_the_configuration_file_would_move(configured_to_move, library):
    before = snapshot(library)

    run = run_simplugin("scan", str(library), cwd=configured_to_move)

    assert run.returncode == 0
    assert snapshot(library) == before
    assert not (configured_to_move / "near-duplicates").exists()
    destination = configured_to_move / "near-duplicates"
    assert (
        f"simplugin: the sink 'move' of simplugin.toml (to = {destination}) changes files"
        " and was not run; add --apply to run it\n"
    ) in run.stderr
    assert run.stderr.count(NOT_RUN) == 1


def test_the_configurations_report_is_written_on_a_plain_scan(configured_to_move, library):
    """A report file the configuration names is output, not a change to a photo."""
    run = run_simplugin("scan", str(library), cwd=configured_to_move)

    assert run.returncode == 0
    assert len(json.loads((configured_to_move / "dupes.json").read_text())["groups"]) == 2


def test_scan_apply_runs_the_configured_move(configured_to_move, library):
    run = run_simplugin("scan", str(library), "--apply", cwd=configured_to_move)

    assert run.returncode == 0, run.stderr
    assert sorted(snapshot(library)) == ["seagull_1.jpeg", "seagull_2.jpeg", "seagull_6.jpeg"]
    assert len(snapshot(configured_to_move / "near-duplicates")) == 3
    assert NOT_RUN not in run.stderr


def test_review_never_moves_even_when_the_configuration_file_says_move(configured_to_move, library):
    before = snapshot(library)

    run = run_simplugin(
        "review", "--no-open", str(library), cwd=configured_to_move, env={IDLE_VARIABLE: "0"}
    )

    assert run.returncode == 0
    assert snapshot(library) == before
    assert not (configured_to_move / "near-duplicates").exists()
    assert "review never runs it ('simplugin scan PATH --apply' does)" in run.stderr


def test_review_does_not_take_apply(configured_to_move, library):
    run = run_simplugin("review", "--no-open", "--apply", str(library), cwd=configured_to_move)

    assert run.returncode == 2
    assert not (configured_to_move / "near-duplicates").exists()


def test_a_move_given_on_the_command_line_needs_no_apply(configured_to_move, library, tmp_path):
    run = run_simplugin(
        "scan", str(library), "--move-to", str(tmp_path / "elsewhere"), cwd=configured_to_move
    )

    assert run.returncode == 0
    assert len(snapshot(tmp_path / "elsewhere")) == 3
    assert NOT_RUN not in run.stderr  # the command line's move replaced the file's


def test_a_third_party_sink_that_changes_files_runs_only_when_asked(
    distributions, library, tmp_path
):
    distributions.install("simplugin-tagger", TAGGER_PLUGIN, {"tagger": "simplugin_tagger"})
    write_config(tmp_path, 'name = "tagger"')
    env = distributions.env

    plain = run_simplugin("scan", str(library), cwd=tmp_path, env=env)
    assert plain.returncode == 0
    assert not list(library.glob("*.tag"))
    assert "simplugin: the sink 'tagger' of simplugin.toml changes files" in plain.stderr

    applied = run_simplugin("scan", str(library), "--apply", cwd=tmp_path, env=env)
    assert applied.returncode == 0, applied.stderr
    assert len(list(library.glob("*.tag"))) == 3


def test_a_third_party_sink_named_on_the_command_line_runs(distributions, library, tmp_path):
    distributions.install("simplugin-tagger", TAGGER_PLUGIN, {"tagger": "simplugin_tagger"})

    run = run_simplugin("scan", str(library), "--sink", "tagger", env=distributions.env)

    assert run.returncode == 0, run.stderr
    assert len(list(library.glob("*.tag"))) == 3


@pytest.mark.parametrize("config", ['name = "json"\npath = "dupes.json"', None])
def test_apply_with_nothing_to_apply_says_so_in_one_line(library, tmp_path, config):
    if config is not None:
        write_config(tmp_path, config)

    run = run_simplugin("scan", str(library), "--apply", cwd=tmp_path)

    assert run.returncode == 0
    (line,) = [line for line in run.stderr.splitlines() if "--apply" in line]
    assert line.startswith("simplugin: --apply did nothing: ")
    assert len(snapshot(library)) == 6


def test_apply_dry_run_shows_what_the_configured_move_would_do(configured_to_move, library):
    before = snapshot(library)

    run = run_simplugin("scan", str(library), "--apply", "--dry-run", cwd=configured_to_move)

    assert run.returncode == 0, run.stderr
    assert snapshot(library) == before
    assert not (configured_to_move / "near-duplicates").exists()
    assert len([line for line in run.stdout.splitlines() if line.startswith("would move")]) == 3
    assert "simplugin: would move 3 files" in run.stderr


def test_apply_dry_run_refuses_a_sink_that_changes_files_without_a_dry_run(
    distributions, library, tmp_path
):
    distributions.install("simplugin-tagger", TAGGER_PLUGIN, {"tagger": "simplugin_tagger"})
    write_config(tmp_path, 'name = "tagger"')

    run = run_simplugin(
        "scan", str(library), "--apply", "--dry-run", cwd=tmp_path, env=distributions.env
    )

    assert run.returncode == 2
    assert run.stderr.startswith("simplugin: error: --dry-run: the sink 'tagger' of simplugin.toml")
    assert not list(library.glob("*.tag"))
