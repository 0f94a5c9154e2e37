"""The git pre-commit hook refuses a commit that adds a near-duplicate of a photo that is
already in the repository, and lets every other commit through."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import SEAGULLS, run_simplugin

HOOK = Path(__file__).parents[1] / "hooks" / "git" / "pre-commit"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(repository: Path, *arguments: str, path: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *arguments],
        cwd=repository,
        capture_output=True,
        text=True,
        env={**os.environ, **IDENTITY, "PATH": path or os.environ["PATH"]},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def repository(tmp_path) -> Path:
    """A repository with one committed photo and the hook installed as the README says."""
    repository = tmp_path / "site"
    (repository / "photos").mkdir(parents=True)
    git(repository, "init", "--quiet")
    shutil.copy(SEAGULLS / "seagull_5.jpeg", repository / "photos" / "beach.jpg")
    (repository / "README.md").write_text("our photos\n")
    git(repository, "add", ".")
    assert git(repository, "commit", "--quiet", "-m", "first photos").returncode == 0
    installed = repository / ".git" / "hooks" / "pre-commit"
    shutil.copy(HOOK, installed)
    installed.chmod(installed.stat().st_mode | stat.S_IXUSR)
    return repository


def test_a_commit_adding_a_near_duplicate_is_refused(repository):
    shutil.copy(SEAGULLS / "seagull_6.jpeg", repository / "photos" / "beach-again.jpg")
    git(repository, "add", ".")

    commit = git(repository, "commit", "-m", "the same beach")

    assert commit.returncode != 0
    assert (
        "simplugin: photos/beach-again.jpg is a near-duplicate of photos/beach.jpg" in commit.stderr
    )
    assert git(repository, "rev-list", "--count", "HEAD").stdout.strip() == "1"


def test_a_commit_adding_a_different_photo_goes_through(repository):
    shutil.copy(SEAGULLS / "seagull_2.jpeg", repository / "photos" / "harbour.jpg")
    git(repository, "add", ".")

    commit = git(repository, "commit", "-m", "a new photo")

    assert commit.returncode == 0, commit.stderr
    assert git(repository, "rev-list", "--count", "HEAD").stdout.strip() == "2"


def test_a_commit_without_photos_goes_through(repository):
    (repository / "README.md").write_text("our photos, and words\n")
    git(repository, "add", ".")

    assert git(repository, "commit", "-m", "words").returncode == 0


def test_the_staged_photo_is_judged_not_the_working_copy(repository):
    # Staged: a near-duplicate. Edited afterwards into another photo, not re-staged.
    added = repository / "photos" / "beach-again.jpg"
    shutil.copy(SEAGULLS / "seagull_6.jpeg", added)
    git(repository, "add", ".")
    shutil.copy(SEAGULLS / "seagull_2.jpeg", added)

    commit = git(repository, "commit", "-m", "the same beach, staged")

    assert commit.returncode != 0
    assert "photos/beach-again.jpg is a near-duplicate of photos/beach.jpg" in commit.stderr


def test_a_photo_staged_then_replaced_by_a_duplicate_in_the_work_tree_goes_through(repository):
    added = repository / "photos" / "harbour.jpg"
    shutil.copy(SEAGULLS / "seagull_2.jpeg", added)
    git(repository, "add", ".")
    shutil.copy(SEAGULLS / "seagull_6.jpeg", added)  # not staged: not in this commit

    commit = git(repository, "commit", "-m", "a new photo")

    assert commit.returncode == 0, commit.stderr


def test_two_new_photos_that_are_near_duplicates_of_each_other_are_refused(repository):
    shutil.copy(SEAGULLS / "seagull_3.jpeg", repository / "photos" / "gull.jpg")
    shutil.copy(SEAGULLS / "seagull_4.jpeg", repository / "photos" / "gull-again.jpg")
    git(repository, "add", ".")

    commit = git(repository, "commit", "-m", "two of the same gull")

    assert commit.returncode != 0
    assert (
        "photos/gull-again.jpg is a near-duplicate of photos/gull.jpg" in commit.stderr
        or "photos/gull.jpg is a near-duplicate of photos/gull-again.jpg" in commit.stderr
    )
    assert "also added by this commit" in commit.stderr


def test_a_photo_is_recognised_by_its_content_whatever_its_name(repository):
    shutil.copy(SEAGULLS / "seagull_6.jpeg", repository / "photos" / "beach-again.data")
    git(repository, "add", ".")

    commit = git(repository, "commit", "-m", "a photo with an odd name")

    assert commit.returncode != 0
    assert "photos/beach-again.data is a near-duplicate of photos/beach.jpg" in commit.stderr


def test_renaming_a_committed_photo_goes_through(repository):
    git(repository, "mv", "photos/beach.jpg", "photos/seaside.jpg")

    commit = git(repository, "commit", "-m", "a better name")

    assert commit.returncode == 0, commit.stderr


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_file_git_no_longer_compares_with_its_working_copy_is_judged_as_staged(repository, flag):
    added = repository / "photos" / "beach-again.jpg"
    shutil.copy(SEAGULLS / "seagull_6.jpeg", added)
    git(repository, "add", ".")
    git(repository, "update-index", flag, "photos/beach-again.jpg")
    shutil.copy(SEAGULLS / "seagull_2.jpeg", added)  # git will not look: the index says so

    commit = git(repository, "commit", "-m", "the same beach, staged")

    assert commit.returncode != 0
    assert "photos/beach-again.jpg is a near-duplicate of photos/beach.jpg" in commit.stderr


def test_the_hook_simplugin_installs_works_when_path_has_no_simplugin(repository):
    # As for someone who installed simplugin in a virtual environment and commits from
    # a shell (or an editor) where that environment is not active.
    (repository / ".git" / "hooks" / "pre-commit").unlink()
    installed = run_simplugin("integrations", "install", "git", cwd=repository)
    assert installed.returncode == 0, installed.stderr
    shutil.copy(SEAGULLS / "seagull_6.jpeg", repository / "photos" / "beach-again.jpg")
    git(repository, "add", ".")

    commit = git(repository, "commit", "-m", "the same beach", path="/usr/bin:/bin")

    assert commit.returncode != 0
    assert "photos/beach-again.jpg is a near-duplicate of photos/beach.jpg" in commit.stderr
