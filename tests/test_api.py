"""The Python API for scripting a cleanup: the same typed result the sinks receive."""

from __future__ import annotations

import ast
import gc
import inspect
import json
import re
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import simplugin
from simplugin import Group, Photo, ScanResult, UsageError, scan, write
from simplugin.engine import settle, sparing_the_collector


def test_scan_returns_groups_with_the_keeper_first_and_distances(library):
    result = scan(library)

    assert isinstance(result, ScanResult)
    assert all(isinstance(group, Group) for group in result.groups)
    first = result.groups[0]
    assert isinstance(first.keep, Photo)
    assert first.keep.path.endswith("seagull_6.jpeg")
    assert [(d.photo.path[-14:], round(d.distance, 4)) for d in first.duplicates] == [
        ("seagull_5.jpeg", 0.0159)
    ]
    assert len(result.duplicates) == 3


def test_groups_list_duplicates_most_similar_to_the_keeper_first(library):
    result = scan(library)

    big = result.groups[1]
    assert big.keep.path.endswith("seagull_1.jpeg")
    assert [d.photo.path[-14:] for d in big.duplicates] == ["seagull_3.jpeg", "seagull_4.jpeg"]


def test_a_tilde_path_means_the_home_folder(library, monkeypatch):
    monkeypatch.setenv("HOME", str(library.parent))

    result = scan("~/library")

    assert len(result.photos) == 6
    assert result.settings.roots == (str(library),)


def test_the_threshold_can_be_set_per_scan(library):
    assert len(scan(library, threshold=0.02).pairs) == 1
    assert len(scan(library, threshold=0.5).pairs) == 15


def test_a_negative_threshold_is_refused(library):
    with pytest.raises(UsageError, match="threshold"):
        scan(library, threshold=-1)


def test_scanning_changes_nothing_on_disk(library):
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in library.iterdir()}
    shutil.copy(library / "seagull_1.jpeg", library / "copy.jpeg")
    before["copy.jpeg"] = ((library / "copy.jpeg").stat().st_mtime_ns, before["seagull_1.jpeg"][1])

    scan(library)

    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in library.iterdir()}
    assert after == before


class Interrupting:
    """Progress that stops the scan after its first photo, as Ctrl-C would."""

    def stage(self, name, total):
        pass

    def found(self, total, finished=False):
        pass

    def advance(self, count=1):
        raise KeyboardInterrupt


@pytest.mark.parametrize("call", ["scan", "explain", "an interrupted scan"])
def test_a_script_that_scans_over_and_over_gets_its_memory_back(library, tmp_path, call):
    # A scan sets what it holds aside from Python's cycle collector while it runs (see
    # engine.sparing_the_collector); a long-running script must get all of it back.
    cache = tmp_path / "cache.sqlite"
    assert gc.get_freeze_count() == 0
    if call == "scan":
        scan(library, cache=cache)
    elif call == "explain":
        simplugin.explain(library / "seagull_1.jpeg", library / "seagull_3.jpeg", cache=cache)
    else:
        with pytest.raises(KeyboardInterrupt):
            scan(library, cache=cache, progress=Interrupting())
    assert gc.get_freeze_count() == 0


class Cycle:
    """Garbage only the cycle collector can reclaim: it refers to itself."""

    def __init__(self):
        self.itself = self


def test_garbage_a_scan_makes_as_it_goes_is_not_kept_to_its_end():
    # What a stage leaves behind (a metric's reference cycles, say, read in this
    # process) is reclaimed before the scan sets what is alive aside from the collector.
    reclaimed = []
    with sparing_the_collector():
        for _ in range(100):
            weakref.finalize(Cycle(), reclaimed.append, True)
        settle()
        assert len(reclaimed) == 100


def test_a_script_can_send_a_result_to_a_sink(library, tmp_path):
    result = scan(library)

    write(result, "json", path=str(tmp_path / "dupes.json"))

    assert json.loads((tmp_path / "dupes.json").read_text())["photos"] == 6


# --- the public API that plugins use -----------------------------------------------------

ROOT = Path(__file__).parents[1]
BUILTIN = ROOT / "simplugin" / "builtin"


def imports_of_simplugin(path: Path) -> list[tuple[str, list[str]]]:
    """Each import of simplugin's own code in a module: the module named (relative
    imports with their dots) and the names taken from it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            found += [(name, []) for name in names if name.split(".")[0] == "simplugin"]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.level or module.split(".")[0] == "simplugin":
                found.append((module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize(
    "module", sorted(BUILTIN.rglob("*.py")), ids=lambda path: str(path.relative_to(BUILTIN))
)
def test_the_builtin_plugins_import_nothing_but_the_public_api(module):
    for imported, names in imports_of_simplugin(module):
        assert imported == "simplugin", f"{module.name} imports {imported}"
        assert set(names) <= set(simplugin.__all__), f"{module.name} imports {names}"


def test_every_public_function_and_class_says_what_it_is_for():
    for name in simplugin.__all__:
        value = getattr(simplugin, name)
        if callable(value):
            assert inspect.getdoc(value), f"simplugin.{name} has no docstring"


def test_the_plugin_guide_lists_every_public_name():
    guide = (ROOT / "docs" / "plugin-guide.md").read_text()
    for name in simplugin.__all__:
        assert re.search(rf"`(simplugin\.)?{name}\b", guide), f"{name} is not in the guide"


def test_importing_simplugin_loads_no_image_or_database_library():
    heavy = ["numpy", "PIL", "exifread", "sqlite3"]
    program = (
        "import sys, simplugin\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
        "from simplugin import scan\n"  # what needs them loads them
        "print(callable(scan) and 'numpy' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert run.stdout.splitlines() == ["[]", "True"]


def test_editors_see_every_name_that_is_loaded_on_first_use():
    tree = ast.parse((ROOT / "simplugin" / "__init__.py").read_text())
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    seen = {
        node.module: tuple(alias.name for alias in node.names)
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
    }

    assert seen == simplugin._ON_FIRST_USE
