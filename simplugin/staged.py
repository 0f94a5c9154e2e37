"""What a git commit is about to record, for `simplugin check-staged` (the pre-commit hook).

The hook must judge the bytes the commit will hold, which are the staged ones (the
index), not whatever the working tree holds now: a photo can be staged and then edited
again. So every file of the index is read from the working tree only where git says the
working copy is the staged one, and from the object database otherwise.

A file is *new* when the commit adds or changes it (its staged blob is not the one in
`HEAD` at that path); the others are *committed*. Photos are recognised by their
content, as a scan does, so every regular file of the index is a candidate.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from dataclasses import dataclass

from .errors import UsageError

REGULAR_MODES = {"100644", "100755"}  # blobs of regular files, not links or submodules


@dataclass(frozen=True, slots=True)
class StagedFile:
    """One file of the index: its path in the repository, where its staged bytes can be
    read, and whether this commit adds or changes it."""

    name: str
    readable_at: str
    new: bool


def enter_work_tree() -> None:
    """Make the top of the git work tree the current folder: git lists paths from there."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        raise UsageError("check-staged runs inside a git work tree")
    os.chdir(top.stdout.strip())


def staged_files(scratch: str) -> list[StagedFile]:
    """Every regular file the index holds; blobs whose working copy differs are written
    into the folder `scratch`, under a folder named after the blob (keeping the file's
    name, since some formats are known by it)."""
    index = _index()
    committed = _head_tree()
    changed_in_work_tree = set(_lines("diff", "--name-only", "--no-renames"))
    files = []
    for name, (blob, watched) in index.items():
        readable_at = name
        if not watched or name in changed_in_work_tree or not _is_regular(name):
            readable_at = _export(blob, name, scratch)
        files.append(StagedFile(name, readable_at, new=committed.get(name) != blob))
    return files


def scratch_folder() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="simplugin-staged-")


def _index() -> dict[str, tuple[str, bool]]:
    """Path -> (blob id, whether git watches its working copy) of every regular file
    staged (stage 0: no unresolved merge). A file marked assume-unchanged or
    skip-worktree is one git no longer compares with its working copy, so `git diff`
    cannot say whether that copy holds the staged bytes."""
    entries = {}
    for line in _lines("ls-files", "--stage", "-v"):
        meta, _, name = line.partition("\t")
        tag, mode, blob, stage = meta.split()
        if mode in REGULAR_MODES and stage == "0":
            entries[name] = (blob, tag == "H")
    return entries


def _head_tree() -> dict[str, str]:
    """Path -> blob id of every regular file in the last commit; empty before the first."""
    head = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], capture_output=True)
    if head.returncode != 0:
        return {}
    entries = {}
    for line in _lines("ls-tree", "-r", "--full-tree", "HEAD"):
        meta, _, name = line.partition("\t")
        mode, kind, blob = meta.split()
        if kind == "blob" and mode in REGULAR_MODES:
            entries[name] = blob
    return entries


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _export(blob: str, name: str, scratch: str) -> str:
    folder = os.path.join(scratch, blob)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, os.path.basename(name))
    with open(path, "wb") as out:
        subprocess.run(["git", "cat-file", "blob", blob], stdout=out, check=True)
    return path


def _lines(*command: str) -> list[str]:
    listed = subprocess.run(["git", *command, "-z"], capture_output=True, check=True).stdout
    return [os.fsdecode(entry) for entry in listed.split(b"\0") if entry]
