"""Third-party plugins, installed as pip installs them (a module and a dist-info with a
`simplugin` entry point) or registered on the plugin manager, extend every stage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from PIL import Image

from conftest import SEAGULLS, run_simplugin
from simplugin import Bucketer, Metric, Sink, UsageError, hookimpl, load_plugins, scan

ROOT = Path(__file__).parents[1]  # the simplugin under test, wherever a command runs

# A complete third-party metric: mean brightness, a deliberately coarse measure that
# pairs any two photos of similar overall exposure.
BRIGHTNESS_PLUGIN = """
    import numpy as np
    from simplugin import Metric, hookimpl

    class Brightness(Metric):
        name = "brightness"
        description = "difference of mean brightness"
        default_threshold = 0.01
        signature_shape = (1,)
        signature_dtype = "float64"

        def signature(self, image):
            return np.array([np.asarray(image.convert("L"), dtype=np.float64).mean() / 255])

        def distance(self, a, b):
            return float(abs(a[0] - b[0]))

    @hookimpl
    def register_metrics(register):
        register(Brightness())
"""


def install_brightness(distributions, name="simplugin-brightness"):
    distributions.install(name, BRIGHTNESS_PLUGIN, {"brightness": f"{name.replace('-', '_')}"})


def test_an_installed_metric_is_selected_by_name(distributions, library):
    install_brightness(distributions)

    run = run_simplugin(
        "scan", str(library), "--metric", "brightness", "--json", "-", env=distributions.env
    )

    document = json.loads(run.stdout)
    assert document["metric"] == "brightness"
    assert document["threshold"] == 0.01  # the metric's own default
    reference = {("seagull_1.jpeg", "seagull_3.jpeg"), ("seagull_3.jpeg", "seagull_4.jpeg")}
    found = {tuple(sorted((p["a"][-14:], p["b"][-14:]))) for p in document["pairs"]}
    assert found and found != reference  # its own judgement, not the reference metric's


def test_plugins_lists_an_installed_plugin_with_its_distribution(distributions):
    install_brightness(distributions)

    run = run_simplugin("plugins", "--json", env=distributions.env)

    listing = {entry["name"]: entry for entry in json.loads(run.stdout)}
    assert listing["brightness"]["distribution"] == "simplugin-brightness"
    assert listing["brightness"]["version"] == "1.0"
    assert listing["brightness"]["metrics"] == ["brightness"]
    assert listing["avgdiff"]["distribution"] == "simplugin"
    assert listing["json"]["sinks"] == ["json"]


def test_two_plugins_offering_the_same_name_is_an_error_naming_both(distributions, library):
    distributions.install(
        "impostor",
        BRIGHTNESS_PLUGIN.replace('name = "brightness"', 'name = "avgdiff"'),
        {"impostor": "impostor"},
        version="2.5",
    )

    run = run_simplugin("scan", str(library), env=distributions.env)

    assert run.returncode == 2
    assert "'avgdiff' (simplugin " in run.stderr
    assert "'impostor' (impostor 2.5)" in run.stderr
    assert run.stderr.count("\n") == 1


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(distributions, library):
    distributions.install("broken", "import no_such_module_anywhere\n", {"broken": "broken"})

    run = run_simplugin("scan", str(library), env=distributions.env)

    assert run.returncode == 0
    assert (
        "simplugin: warning: plugin 'broken' (broken 1.0) could not be loaded:"
        " ModuleNotFoundError: No module named 'no_such_module_anywhere'\n"
    ) in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.count("Group ") == 2


def test_disabling_autoload_keeps_only_the_built_ins(distributions):
    install_brightness(distributions)

    run = run_simplugin(
        "plugins", "--json", env={**distributions.env, "SIMPLUGIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )

    names = {entry["name"] for entry in json.loads(run.stdout)}
    built_ins = metadata.distribution("simplugin").entry_points.select(group="simplugin").names
    assert names == set(built_ins)
    assert "brightness" not in names


def test_a_blocked_plugin_is_not_loaded(distributions):
    distributions.install("broken", "raise RuntimeError('boom')\n", {"broken": "broken"})

    run = run_simplugin("plugins", env={**distributions.env, "SIMPLUGIN_BLOCK_PLUGINS": "broken"})

    assert run.returncode == 0
    assert run.stderr == ""


def test_a_metric_that_fails_on_one_photo_skips_that_photo_and_names_the_plugin(
    distributions, library
):
    distributions.install(
        "picky",
        BRIGHTNESS_PLUGIN.replace(
            "def signature(self, image):",
            "def signature(self, image):\n"
            "            if image.size != (768, 1024):\n"
            "                raise ValueError('only portrait phone photos')",
        ),
        {"picky": "picky"},
    )
    Image.open(SEAGULLS / "seagull_1.jpeg").resize((100, 100)).save(library / "small.jpeg")

    run = run_simplugin("scan", str(library), "--metric", "brightness", env=distributions.env)

    assert run.returncode == 0
    assert (
        f"simplugin: skipped {library}/small.jpeg: plugin 'picky' failed in signature:"
        " ValueError: only portrait phone photos\n"
    ) in run.stderr


def test_a_metric_that_fails_while_comparing_is_one_line_and_exit_3(distributions, library):
    distributions.install(
        "crashy",
        BRIGHTNESS_PLUGIN.replace(
            "def distance(self, a, b):", "def distance(self, a, b):\n            1 / 0"
        ),
        {"crashy": "crashy"},
    )

    # A process of its own: exit 3 as the shell sees it.
    run = run_simplugin(
        "scan", str(library), "--metric", "brightness", env=distributions.env, process=True
    )

    assert run.returncode == 3
    assert run.stderr == (
        "simplugin: error: plugin 'crashy' failed in pairs_within:"
        " ZeroDivisionError: division by zero\n"
    )


def test_a_metric_returning_the_wrong_signature_shape_is_reported(distributions, library):
    distributions.install(
        "sloppy",
        BRIGHTNESS_PLUGIN.replace("signature_shape = (1,)", "signature_shape = (2,)"),
        {"sloppy": "sloppy"},
    )

    run = run_simplugin("scan", str(library), "--metric", "brightness", env=distributions.env)

    assert run.returncode == 3
    assert "plugin 'sloppy' failed in signature" in run.stderr
    assert "declares float64 of shape (2,)" in run.stderr


# --- a plugin author's mistakes are told, one line each, and the rest of it works -------


MISNAMED_ARGUMENT = """
    @hookimpl
    def scan_started(setings):
        raise AssertionError("never called")
"""

MISSPELLED_OBSERVER = """
    @hookimpl
    def scan_finish(result):
        pass
"""


def plugin_warnings(run, plugin: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if f"plugin {plugin!r}" in line]


def test_a_misspelled_hook_is_reported_with_the_hook_it_meant_and_the_scan_goes_on(
    distributions, library
):
    distributions.install(
        "typo",
        BRIGHTNESS_PLUGIN.replace("def register_metrics(", "def register_metric("),
        {"typo": "typo"},
    )

    run = run_simplugin("scan", str(library), env=distributions.env)

    assert run.returncode == 0  # as for a plugin that could not be loaded
    assert plugin_warnings(run, "typo") == [
        "simplugin: warning: plugin 'typo' (typo 1.0) implements 'register_metric', which is"
        " not a simplugin hook (did you mean 'register_metrics'?)"
    ]
    assert run.stdout.count("Group ") == 2


def test_a_hook_asking_for_an_argument_its_hook_does_not_give_is_named_and_the_rest_works(
    distributions, library
):
    distributions.install("sloppy", BRIGHTNESS_PLUGIN + MISNAMED_ARGUMENT, {"sloppy": "sloppy"})

    run = run_simplugin("scan", str(library), "--metric", "brightness", env=distributions.env)

    assert run.returncode == 0
    assert plugin_warnings(run, "sloppy") == [
        "simplugin: warning: plugin 'sloppy' (sloppy 1.0) implements 'scan_started' with the"
        " argument 'setings', which that hook does not have (its arguments: settings):"
        " it is not called"
    ]
    assert "Group " in run.stdout  # its metric, registered by its correct hook, did the scan


def test_plugins_shows_a_plugins_mistakes_and_lists_only_the_hooks_it_implements(
    distributions,
):
    distributions.install("typo", BRIGHTNESS_PLUGIN + MISSPELLED_OBSERVER, {"typo": "typo"})

    run = run_simplugin("plugins", "--json", env=distributions.env)

    assert run.returncode == 0
    assert plugin_warnings(run, "typo") == [
        "simplugin: warning: plugin 'typo' (typo 1.0) implements 'scan_finish', which is"
        " not a simplugin hook (did you mean 'scan_finished'?)"
    ]
    listing = {entry["name"]: entry for entry in json.loads(run.stdout)}
    assert listing["typo"]["hooks"] == ["register_metrics"]
    assert listing["typo"]["metrics"] == ["brightness"]


class MistakenPlugin:
    """A keeper rule as a hook wrapper, which simplugin does not call, and a function
    that only its author's own plugin manager would know."""

    @hookimpl(wrapper=True, tryfirst=True)
    def choose_keeper(self, photos):
        return (yield)

    @hookimpl
    def count_photos(self, photos):
        return len(photos)

    @hookimpl(optionalhook=True)
    def maybe_a_future_hook(self):
        return None


def test_a_hook_wrapper_and_an_unknown_hook_are_reported_and_the_scan_goes_on(library):
    host = load_plugins(extra={"mistaken": MistakenPlugin()})

    result = scan(library, plugins=host)

    assert host.problems == [
        "plugin 'mistaken' implements 'choose_keeper' as a hook wrapper, which simplugin does"
        " not support: it is not called",
        "plugin 'mistaken' implements 'count_photos', which is not a simplugin hook",
    ]
    assert len(result.groups) == 2


# --- a plugin that tries to end simplugin (sys.exit) is that plugin failing ------------

QUITTING_SINK = """
    import sys
    from simplugin import Sink, hookimpl

    class Quitter(Sink):
        name = "quitter"

        def write(self, result, options):
            raise SystemExit(0)

    @hookimpl
    def register_sinks(register):
        register(Quitter())
"""

QUITTING_BUCKETER = """
    import sys
    from simplugin import Bucketer, hookimpl

    class Quitter(Bucketer):
        name = "quitter"

        def key(self, path):
            return {key}

        def buckets(self, photos, keys, options):
            return {buckets}

    @hookimpl
    def register_bucketers(register):
        register(Quitter())
"""


def test_a_plugin_that_exits_at_import_is_skipped_and_duplicates_still_fail_the_scan(
    distributions, library
):
    distributions.install("quitter", "import sys\nsys.exit(0)\n", {"quitter": "quitter"})

    run = run_simplugin("scan", str(library), "--fail-on-duplicates", env=distributions.env)

    assert run.returncode == 1
    assert run.stdout.count("Group ") == 2
    assert [line for line in run.stderr.splitlines() if "quitter" in line] == [
        "simplugin: warning: plugin 'quitter' (quitter 1.0) could not be loaded: SystemExit: 0"
    ]


def test_a_plugin_that_exits_at_import_does_not_let_a_staged_near_duplicate_through(
    distributions, tmp_path
):
    distributions.install("quitter", "import sys\nsys.exit(0)\n", {"quitter": "quitter"})
    repository = tmp_path / "site"
    repository.mkdir()
    identity = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    identity |= {"GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    git = ["git", "-C", str(repository)]
    subprocess.run([*git, "init", "--quiet"], check=True, env={**os.environ, **identity})
    shutil.copy(SEAGULLS / "seagull_5.jpeg", repository / "beach.jpg")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run(
        [*git, "commit", "--quiet", "-m", "1"], check=True, env={**os.environ, **identity}
    )
    shutil.copy(SEAGULLS / "seagull_6.jpeg", repository / "beach-again.jpg")
    subprocess.run([*git, "add", "."], check=True)

    this_simplugin = os.pathsep.join([distributions.env["PYTHONPATH"], str(ROOT)])

    run = run_simplugin("check-staged", cwd=repository, env={"PYTHONPATH": this_simplugin})

    assert run.returncode == 1
    assert "simplugin: warning: plugin 'quitter' (quitter 1.0) could not be loaded" in run.stderr
    assert "beach-again.jpg is a near-duplicate of beach.jpg" in run.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_metric_that_exits_while_reading_fails_the_scan_naming_the_plugin(
    distributions, library, jobs
):
    distributions.install(
        "quitter",
        BRIGHTNESS_PLUGIN.replace(
            "def signature(self, image):", "def signature(self, image):\n            exit(0)"
        ),
        {"quitter": "quitter"},
    )

    run = run_simplugin(
        "scan", str(library), "--metric", "brightness", "-j", jobs, env=distributions.env
    )

    assert run.returncode == 3
    assert run.stderr == "simplugin: error: plugin 'quitter' failed in signature: SystemExit: 0\n"


@pytest.mark.parametrize(
    "key, buckets, during",
    [("sys.exit(4)", "[]", "key"), ("1", "sys.exit(4)", "buckets")],
)
def test_a_bucketer_that_exits_fails_the_scan_naming_the_plugin(
    distributions, library, key, buckets, during
):
    source = QUITTING_BUCKETER.replace("{key}", key).replace("{buckets}", buckets)
    distributions.install("quitter", source, {"quitter": "quitter"})

    run = run_simplugin("scan", str(library), "--bucket", "quitter", env=distributions.env)

    assert run.returncode == 3
    assert run.stderr == f"simplugin: error: plugin 'quitter' failed in {during}: SystemExit: 4\n"


def test_a_sink_that_exits_fails_the_scan_after_the_other_sinks(distributions, library):
    distributions.install("quitter", QUITTING_SINK, {"quitter": "quitter"})

    run = run_simplugin("scan", str(library), "--sink", "quitter", env=distributions.env)

    assert run.returncode == 3
    assert run.stdout.count("Group ") == 2
    assert [line for line in run.stderr.splitlines() if "quitter" in line] == [
        "simplugin: error: plugin 'quitter' failed in sink 'quitter': SystemExit: 0"
    ]


def test_a_sink_that_exits_while_naming_its_folders_fails_the_scan_naming_it(
    distributions, library
):
    distributions.install(
        "quitter",
        QUITTING_SINK.replace(
            "def write(self, result, options):",
            "def excluded_paths(self, options):\n            sys.exit(0)\n\n"
            "        def write(self, result, options):",
        ),
        {"quitter": "quitter"},
    )

    run = run_simplugin("scan", str(library), "--sink", "quitter", env=distributions.env)

    assert run.returncode == 3
    assert run.stderr == (
        "simplugin: error: plugin 'quitter' failed in sink 'quitter' excluded_paths:"
        " SystemExit: 0\n"
    )


def test_a_plugin_exiting_anywhere_else_still_fails_the_run_in_one_line(distributions, library):
    # The name of what a plugin registers is read by simplugin itself, outside any hook.
    distributions.install(
        "quitter",
        QUITTING_SINK.replace(
            'name = "quitter"', "@property\n        def name(self):\n            sys.exit(0)"
        ),
        {"quitter": "quitter"},
    )

    run = run_simplugin("scan", str(library), env=distributions.env)

    assert run.returncode == 3
    assert run.stderr.startswith("simplugin: error: SystemExit: 0 raised at ")
    assert "quitter.py:" in run.stderr
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "hook, arguments, message",
    [
        ("choose_keeper", "photos", "error: plugin 'quitter' failed in choose_keeper"),
        ("scan_started", "settings", "warning: plugin 'quitter' failed in scan_started"),
    ],
)
def test_a_hook_that_exits_fails_the_scan_naming_the_plugin(
    distributions, library, hook, arguments, message
):
    source = f"""
        import sys
        from simplugin import hookimpl

        @hookimpl
        def {hook}({arguments}):
            sys.exit("bye")
    """
    distributions.install("quitter", source, {"quitter": "quitter"})

    run = run_simplugin("scan", str(library), env=distributions.env)

    assert run.returncode == 3
    assert [line for line in run.stderr.splitlines() if "quitter" in line] == [
        f"simplugin: {message}: SystemExit: bye"
    ]


# --- plugins registered on the plugin manager, as a script or a test would -------------


class SmallestFileKeeper:
    @hookimpl(tryfirst=True)
    def choose_keeper(self, photos):
        return min(photos, key=lambda p: p.size)


def test_a_plugin_can_choose_which_photo_to_keep(library):
    host = load_plugins(extra={"smallest": SmallestFileKeeper()})

    result = scan(library, plugins=host)

    assert sorted(g.keep.path[-14:] for g in result.groups) == ["seagull_4.jpeg", "seagull_5.jpeg"]


def test_without_a_plugin_the_keeper_is_the_largest_photo(tmp_path):
    Image.open(SEAGULLS / "seagull_1.jpeg").save(tmp_path / "a_original.png")
    Image.open(SEAGULLS / "seagull_1.jpeg").resize((384, 512)).save(tmp_path / "b_smaller.png")

    result = scan(tmp_path)

    assert result.groups[0].keep.path.endswith("a_original.png")


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def scan_started(self, settings):
        self.events.append(("started", settings.metric))

    @hookimpl
    def photo_skipped(self, skipped):
        self.events.append(("skipped", Path(skipped.path).name))

    @hookimpl
    def scan_finished(self, result):
        self.events.append(("finished", len(result.groups)))


def test_observers_see_the_scan_start_each_skipped_file_and_the_end(library):
    (library / "broken.jpg").write_bytes(b"nope")
    recorder = Recorder()

    scan(library, plugins=load_plugins(extra={"recorder": recorder}))

    assert recorder.events == [("started", "avgdiff"), ("skipped", "broken.jpg"), ("finished", 2)]


class ByFolder(Bucketer):
    """Compares photos only with others in the same folder."""

    name = "by-folder"

    def key(self, path):
        return str(Path(path).parent)

    def buckets(self, photos, keys, options):
        folders = {}
        for index, key in enumerate(keys):
            folders.setdefault(key, []).append(index)
        return list(folders.values())


class ByFolderPlugin:
    @hookimpl
    def register_bucketers(self, register):
        register(ByFolder())


def test_a_bucketer_limits_comparisons_to_photos_in_the_same_bucket(tmp_path):
    for folder, photo in [
        ("a", "seagull_1.jpeg"),
        ("a", "seagull_3.jpeg"),
        ("b", "seagull_4.jpeg"),
    ]:
        (tmp_path / folder).mkdir(exist_ok=True)
        shutil.copy(SEAGULLS / photo, tmp_path / folder / photo)
    host = load_plugins(extra={"by-folder": ByFolderPlugin()})

    everything = scan(tmp_path, plugins=host)
    bucketed = scan(tmp_path, plugins=host, bucketer="by-folder")

    assert len(everything.pairs) == 3
    assert [(p.a.path[-16:], p.b.path[-16:]) for p in bucketed.pairs] == [
        ("a/seagull_1.jpeg", "a/seagull_3.jpeg")
    ]


def scan_with_csv_sink(installed, library, *arguments):
    """Scan `library` with `--sink csv ARGUMENTS`, the example CSV sink installed."""
    return run_simplugin("scan", str(library), "--sink", "csv", *arguments, env=installed)


def test_an_installed_sink_runs_with_its_options_from_the_command_line(
    csv_installed, library, tmp_path
):
    target = tmp_path / "dupes.csv"

    run = scan_with_csv_sink(csv_installed, library, "--sink-option", f"csv.path={target}")

    assert run.returncode == 0
    assert len(target.read_text().splitlines()) == 1 + 3  # a header, then the duplicates
    assert run.stdout.count("Group ") == 2  # the report is still printed


def test_a_sink_missing_a_required_option_is_a_usage_error_before_scanning(csv_installed, library):
    run = scan_with_csv_sink(csv_installed, library)

    assert run.returncode == 2
    assert (
        run.stderr
        == "simplugin: error: sink 'csv' needs the option 'path': the CSV file to write\n"
    )


def test_an_unknown_sink_option_names_the_options_there_are(csv_installed, library):
    run = scan_with_csv_sink(csv_installed, library, "--sink-option", "csv.file=x.csv")

    assert run.returncode == 2
    assert "sink 'csv' has no option 'file' (its options: path)" in run.stderr


def test_a_failing_sink_does_not_stop_the_other_sinks(csv_installed, library, tmp_path):
    run = scan_with_csv_sink(
        csv_installed,
        library,
        "--sink-option",
        f"csv.path={tmp_path}/no/such/folder/x.csv",
        "--json",
        str(tmp_path / "result.json"),
    )

    assert run.returncode == 3
    assert "simplugin: error: plugin 'csv' failed in sink 'csv': FileNotFoundError:" in run.stderr
    assert json.loads((tmp_path / "result.json").read_text())["photos"] == 6


class NotASink:
    name = "fake"


class RegistersNonsense:
    @hookimpl
    def register_sinks(self, register):
        register(NotASink())


def test_registering_something_that_is_not_a_sink_is_reported_and_ignored():
    host = load_plugins(extra={"nonsense": RegistersNonsense()})

    assert "fake" not in host.registered["sink"]
    assert any("plugin 'nonsense' registered" in p and "simplugin.Sink" in p for p in host.problems)


def test_an_unknown_bucketer_is_a_usage_error(library):
    with pytest.raises(UsageError, match="unknown bucketer 'nope'"):
        scan(library, bucketer="nope")


def test_every_built_in_is_registered_through_an_entry_point():
    entry_points = metadata.distribution("simplugin").entry_points
    declared = {ep.value for ep in entry_points if ep.group == "simplugin"}
    builtin = Path(__file__).parents[1] / "simplugin" / "builtin"
    modules = {
        f"simplugin.builtin.{path.stem}" for path in builtin.glob("*.py") if path.stem != "__init__"
    } | {f"simplugin.builtin.{path.parent.name}" for path in builtin.glob("*/__init__.py")}
    assert declared == modules
    assert {info.distribution for info in load_plugins(autoload=False).infos.values()} == {
        "simplugin"
    }


def test_the_host_hands_out_what_plugins_registered_by_kind_and_name():
    host = load_plugins(extra={"by-folder": ByFolderPlugin()})

    assert isinstance(host.metric("avgdiff"), Metric)
    assert isinstance(host.bucketer("by-folder"), ByFolder)
    assert isinstance(host.sink("json"), Sink)
    assert host.provider_of(host.bucketer("by-folder")) == "by-folder"
    with pytest.raises(UsageError, match=r"unknown sink 'nope' \(available: .*json"):
        host.sink("nope")
