"""Shared fixtures: the real sample photos, a way to run the real command, and a way to
install a third-party plugin distribution the way pip lays one out."""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import locale
import logging
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parents[1] / "examples"
SEAGULLS = DATA / "seagulls"
DUBLIN = DATA / "dublin-sample"


# In CI (CI=true, as .ci/run is run) every program a test drives has been installed, so
# a test that skips because one is missing is a failure there, not a quiet pass.
IN_CI = os.environ.get("CI", "").lower() == "true"


def need_program(program: str, package: str) -> str:
    """The path of `program`; without it the test is skipped with one line saying which
    Debian package to install (and fails in CI, where .ci/run installs them all)."""
    found = shutil.which(program)
    if not found:
        pytest.skip(f"needs {program}: apt-get install {package} (.ci/run does)")
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where nothing may be: {reason}"


@pytest.fixture(autouse=True)
def private_folders(tmp_path_factory, monkeypatch):
    """Each test, and each command it runs, gets a signature cache of its own, no
    configuration file but those it writes, and an ignore list of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="session")
def expected() -> dict:
    """The reference metric's distance for every pair of the sample photos."""
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A writable copy of the six seagull photos."""
    folder = tmp_path / "library"
    shutil.copytree(SEAGULLS, folder)
    return folder


# Root reads and writes anything; a test of permissions runs the command without its
# capabilities so that they apply as for any user (setpriv is part of util-linux).
AS_A_USER = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"] if os.geteuid() == 0 else []


# SIMPLUGIN_TEST_PROCESSES=1 runs every command of the suite as a process of its own, as
# a check that running them in this process changes nothing that a test asserts.
EVERY_RUN_A_PROCESS = os.environ.get("SIMPLUGIN_TEST_PROCESSES", "") not in ("", "0")


def run_simplugin(
    *args: str, cwd: Path | None = None, env: dict | None = None, under=(), process=False
) -> subprocess.CompletedProcess:
    """Run `python -m simplugin ARGS` as a user would, with no standard input; `under`
    is a command to run it through, such as AS_A_USER or a resource limit.

    Starting Python and its imports takes most of a second, so the command runs in this
    process, set up as a new process would be (see `run_in_this_process`). A test whose point
    is the process itself (its exit as the shell sees it, a signal, a crash, a hang that
    only the timeout of a process of its own would end) passes `process=True`, and a
    command run `under` another always is a process of its own."""
    if under or process or EVERY_RUN_A_PROCESS:
        return run_simplugin_process(*args, cwd=cwd, env=env, under=under)
    return run_in_this_process(*args, cwd=cwd, env=env)


def run_simplugin_process(
    *args: str, cwd: Path | None = None, env: dict | None = None, under=()
) -> subprocess.CompletedProcess:
    """`python -m simplugin ARGS` in a process of its own, through `under` if given."""
    return subprocess.run(
        [*under, sys.executable, "-m", "simplugin", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=300,
    )


# --- the command in this process ---------------------------------------------------------


def run_in_this_process(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`python -m simplugin ARGS` run here as a new process would run it: in `cwd`, with
    `env` added to the environment, the module path a new process would have, standard
    input empty, standard output and error captured from their file descriptors (so that
    what a forked worker or a program it starts writes is captured too), and the state a
    process starts in: Python's warning filters, no plugins loaded. All of it is put back
    afterwards, so that neither the test nor the next command sees what this one did."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(environment(env or {}, cwd))
        stack.enter_context(fresh_process_state(args))
        captured = stack.enter_context(standard_streams())
        returncode = run_main_module()
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "simplugin", *args], returncode, captured.stdout, captured.stderr
    )


def run_main_module() -> int:
    """Run `simplugin/__main__.py` and return the exit status a shell would see."""
    try:
        runpy.run_module("simplugin", run_name="__main__", alter_sys=True)
    except SystemExit as exit:  # as Python ends on one: None is 0, text is said and is 1
        if exit.code is None or isinstance(exit.code, int):
            return (exit.code or 0) & 0xFF
        print(exit.code, file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()  # to the captured stderr, as an uncaught exception would
        return 1
    return 0


@functools.cache
def module_path_of_a_new_process() -> tuple[str, ...]:
    """sys.path of `python -c` run without PYTHONPATH: the standard library, site-packages
    and what their .pth files add; a command adds its folder and PYTHONPATH before it."""
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    shown = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return tuple(json.loads(shown.stdout))


@contextlib.contextmanager
def environment(env: dict, cwd: Path | None) -> Iterator[None]:
    """os.environ with `env` added, the working directory `cwd`, and sys.path as
    `python -m` in `cwd` has it: the folder, PYTHONPATH, then the interpreter's own. The
    modules that a command imports from those first folders (plugins that tests install)
    are forgotten afterwards, as a new process would not have them."""
    saved_environ, saved_path, saved_cwd = dict(os.environ), list(sys.path), os.getcwd()
    modules_before, interpreters = set(sys.modules), module_path_of_a_new_process()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    first = [] if os.environ.get("PYTHONSAFEPATH") else [os.getcwd()]
    pythonpath = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    sys.path[:] = [*first, *filter(None, pythonpath), *interpreters]
    importlib.invalidate_caches()  # files a test wrote since the last import
    try:
        yield
    finally:
        for name in set(sys.modules) - modules_before:
            if not is_simplugin(name) and not loaded_from(sys.modules[name], interpreters):
                del sys.modules[name]
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_environ)


def is_simplugin(module_name: str) -> bool:
    return module_name == "simplugin" or module_name.startswith("simplugin.")


def loaded_from(module: object, folders: tuple[str, ...]) -> bool:
    """Whether `module` (built in, or a file) came with the interpreter, not from a
    folder that a test made: a compiled library cannot be imported twice."""
    file = getattr(module, "__file__", None)
    if file is None:
        return True
    return any(Path(file).is_relative_to(folder) for folder in folders if folder)


# Values a process computes once and keeps: a new process starts without them.
PER_PROCESS_STATE = {"simplugin.engine": ["_default_host"]}

# Python's warning filters when neither -W nor PYTHONWARNINGS is given, first to last
# (the "Default Warning Filter" of the `warnings` documentation).
PYTHON_WARNING_FILTERS = [
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
]


@contextlib.contextmanager
def fresh_process_state(args: tuple[str, ...]) -> Iterator[None]:
    """sys.argv, warning filters, logging, signal handling, umask and simplugin's own
    per-process values as a new `python -m simplugin ARGS` has them; put back after."""
    saved_argv, saved_umask = sys.argv, os.umask(0o022)  # read by setting; put back below
    os.umask(saved_umask)
    saved_handlers = {number: signal.getsignal(number) for number in signal.valid_signals()}
    saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    root = logging.getLogger()
    saved_logging = root.level, list(root.handlers), logging.root.manager.disable
    saved_values = forget_per_process_state()
    sys.argv = ["-m", *args]  # as Python has it until runpy names simplugin/__main__.py
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()
            for action, category, module in PYTHON_WARNING_FILTERS:
                warnings.filterwarnings(action, category=category, module=module, append=True)
            yield
    finally:
        for (module, name), value in saved_values.items():
            setattr(sys.modules[module], name, value)
        root.level, root.handlers[:], _ = saved_logging
        logging.disable(saved_logging[2])
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        for number, handler in saved_handlers.items():
            if handler is not None and signal.getsignal(number) is not handler:
                signal.signal(number, handler)
        os.umask(saved_umask)
        sys.argv = saved_argv


def forget_per_process_state() -> dict[tuple[str, str], object]:
    """Set simplugin's per-process values to None, returning what they were."""
    saved = {}
    for module_name, names in PER_PROCESS_STATE.items():
        module = sys.modules.get(module_name)
        for name in names if module is not None else ():
            assert hasattr(module, name), f"{module_name}.{name} is gone: update PER_PROCESS_STATE"
            saved[module_name, name] = getattr(module, name)
            setattr(module, name, None)
    return saved


@dataclass
class Captured:
    stdout: str = ""
    stderr: str = ""


@contextlib.contextmanager
def standard_streams() -> Iterator[Captured]:
    """File descriptors 0, 1 and 2 on /dev/null and two files, and sys.stdin, stdout and
    stderr over them as Python makes them; what was written is read back as
    `subprocess.run(..., text=True, errors="surrogateescape")` reads it."""
    captured = Captured()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_descriptors = [os.dup(descriptor) for descriptor in (0, 1, 2)]
    with (
        open(os.devnull, "rb") as nothing,
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
    ):
        for descriptor, file in enumerate((nothing, stdout, stderr)):
            os.dup2(file.fileno(), descriptor)
        sys.stdin, sys.stdout, sys.stderr = map(standard_stream, (0, 1, 2))
        try:
            yield captured
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            for descriptor, saved in enumerate(saved_descriptors):
                os.dup2(saved, descriptor)
                os.close(saved)
        captured.stdout, captured.stderr = read_as_text(stdout), read_as_text(stderr)


def standard_stream(descriptor: int) -> io.TextIOWrapper:
    """sys.stdin, stdout or stderr as Python makes it for a file or pipe: buffered unless
    PYTHONUNBUFFERED is set, stderr by line, with the encoding and errors of ours."""
    model = (sys.__stdin__, sys.__stdout__, sys.__stderr__)[descriptor]
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED")) and descriptor != 0
    raw = io.FileIO(descriptor, "rb" if descriptor == 0 else "wb", closefd=False)
    if unbuffered:
        buffer = raw
    else:
        buffer = io.BufferedReader(raw) if descriptor == 0 else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffer,
        encoding=model.encoding,
        errors=model.errors,
        line_buffering=descriptor == 2 and not unbuffered,
        write_through=unbuffered,
    )


def read_as_text(file) -> str:
    file.seek(0)
    text = file.read().decode(locale.getpreferredencoding(False), "surrogateescape")
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text=True


def pip_install(example: str, target: Path) -> dict:
    """`pip install examples/EXAMPLE` into a folder of its own; the environment under
    which a simplugin process sees it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(EXAMPLES / example),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return {"PYTHONPATH": str(target)}


@pytest.fixture(scope="session")
def csv_installed(tmp_path_factory) -> dict:
    """The example CSV sink (examples/simplugin-csv), installed with pip."""
    return pip_install("simplugin-csv", tmp_path_factory.mktemp("site-packages"))


class Distributions:
    """Installs small plugin distributions into a folder, laid out as pip lays out a
    wheel (module + `NAME-VERSION.dist-info` with `entry_points.txt`)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def install(self, name: str, source: str, entry_points: dict[str, str], version="1.0"):
        module = name.replace("-", "_")
        sys.modules.pop(module, None)  # a name reused by another test must not import stale code
        (self.folder / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.folder / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[simplugin]\n{lines}")
        return module

    @property
    def env(self) -> dict:
        """The environment under which a `simplugin` process sees these plugins."""
        return {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(self.folder), os.environ.get("PYTHONPATH")])
            )
        }


@pytest.fixture
def distributions(tmp_path: Path, monkeypatch) -> Distributions:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))  # in-process too: importlib.metadata sees them
    return Distributions(folder)


def write_dng(path, upright: np.ndarray, preview: np.ndarray | None = None, orientation=1):
    """A DNG as a camera writes one: raw data plus, usually, a full-size preview."""
    tifffile = pytest.importorskip("tifffile")
    dng_tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "simplugin test camera", True),  # UniqueCameraModel
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1) * 3, True),  # ColorMatrix1: identity
        (274, "H", 1, orientation, True),
    ]
    with tifffile.TiffWriter(path) as dng:
        if preview is not None:
            dng.write(preview, photometric="rgb", subfiletype=1, extratags=dng_tags)
        raw = upright.astype(np.uint16) * 257
        dng.write(
            raw, photometric=34892, subfiletype=0, extratags=[] if preview is not None else dng_tags
        )
