"""Where a scan's work runs is an executor: `local` (forked processes, the default) or
one a plugin registers, chosen with --executor and configured with --executor-option or
the configuration file. Whichever runs it, a scan finds the same pairs."""

from __future__ import annotations

import json
import os

from PIL import Image
from test_reading import CrashyPlugin

from conftest import run_simplugin
from simplugin import load_plugins, scan

# A complete third-party executor: the tasks run on threads of the scan's own process.
# It writes what it was given and how many tasks it ran to `record`, when it closes.
THREADS_PLUGIN = """
    import json
    from concurrent.futures import ThreadPoolExecutor

    from simplugin import Executor, Option, Workers, hookimpl

    class ThreadWorkers(Workers):
        spread_from = 0  # anything worth sending out is sent

        def __init__(self, threads, context, record):
            self.slots = threads
            self.context = context
            self.record = record
            self.tasks = 0
            self.pool = ThreadPoolExecutor(threads)

        def submit(self, task, *args):
            self.tasks += 1
            return self.pool.submit(task, self.context, *args)

        def worker_lost(self, error):
            return False  # a thread that dies takes the whole process with it

        def close(self, at_once=False):
            self.pool.shutdown(wait=not at_once, cancel_futures=at_once)
            if self.record:
                with open(self.record, "w") as file:
                    json.dump({"threads": self.slots, "tasks": self.tasks}, file)

    class Threads(Executor):
        name = "threads"
        description = "threads of the scan's own process"
        options = {
            "threads": Option(int, "how many threads", default=2),
            "record": Option(str, "where to write what it ran"),
        }

        def start(self, options, jobs, context):
            return ThreadWorkers(options["threads"], context, options["record"])

    class Elsewhere(Executor):
        name = "elsewhere"
        description = "a scheduler that is not there"

        def start(self, options, jobs, context):
            raise ConnectionRefusedError("nothing listens on tcp://127.0.0.1:9")

    class Uninstalled(Executor):
        name = "uninstalled"
        description = "needs a package this machine does not have"

        def unavailable(self):
            return "pip install 'simplugin[uninstalled]'"

        def start(self, options, jobs, context):
            raise AssertionError("an unavailable executor is never started")

    @hookimpl
    def register_executors(register):
        register(Threads())
        register(Elsewhere())
        register(Uninstalled())
"""


def install_threads(distributions):
    distributions.install("simplugin-threads", THREADS_PLUGIN, {"threads": "simplugin_threads"})


def found_pairs(document: dict) -> list:
    return [(p["a"], p["b"], p["distance"]) for p in document["pairs"]]


def test_naming_the_local_executor_gives_the_same_result_as_the_default(library):
    default = run_simplugin("scan", str(library), "--no-cache", "--json", "-")
    local = run_simplugin(
        "scan", str(library), "--no-cache", "--executor", "local", "-j", "2", "--json", "-"
    )

    assert local.returncode == default.returncode == 0
    assert json.loads(local.stdout) == json.loads(default.stdout)


def test_an_unknown_executor_is_a_usage_error_naming_the_installed_ones(library):
    run = run_simplugin("scan", str(library), "--executor", "cluster")

    assert run.returncode == 2
    assert run.stderr == "simplugin: error: unknown executor 'cluster' (available: dask, local)\n"


def test_an_option_the_executor_does_not_have_is_a_usage_error(library):
    run = run_simplugin("scan", str(library), "--executor-option", "workers=4")

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: executor 'local' has no option 'workers' (its options: none)\n"
    )


def test_an_executor_option_without_a_value_is_a_usage_error(library):
    run = run_simplugin("scan", str(library), "--executor-option", "workers")

    assert run.returncode == 2
    assert "--executor-option expects KEY=VALUE, not 'workers'" in run.stderr


def test_plugins_lists_the_local_executor():
    listing = json.loads(run_simplugin("plugins", "--json").stdout)
    text = run_simplugin("plugins").stdout

    assert {entry["name"]: entry["executors"] for entry in listing}["local"] == ["local"]
    assert "    executors: local\n" in text


def test_an_executor_plugin_runs_the_scan_and_finds_the_same_pairs(
    distributions, library, tmp_path
):
    install_threads(distributions)
    record = tmp_path / "record.json"
    asked = {"threads": "3", "record": str(record)}  # as the command line gives them

    local = scan(library, cache=False)
    threaded = scan(
        library, cache=False, executor="threads", executor_options=asked, plugins=load_plugins()
    )

    assert threaded.pairs == local.pairs and threaded.groups == local.groups
    ran = json.loads(record.read_text())
    assert ran["threads"] == 3 and ran["tasks"] >= 1  # the photos were read on its threads


def test_an_executor_plugin_is_chosen_and_configured_on_the_command_line(
    distributions, library, tmp_path
):
    install_threads(distributions)
    record = tmp_path / "record.json"

    run = run_simplugin(
        "scan",
        str(library),
        "--no-cache",
        "--executor",
        "threads",
        "--executor-option",
        "threads=3",
        "--executor-option",
        f"record={record}",
        "--json",
        "-",
        env=distributions.env,
    )
    default = run_simplugin("scan", str(library), "--no-cache", "--json", "-")

    assert run.returncode == 0, run.stderr
    assert found_pairs(json.loads(run.stdout)) == found_pairs(json.loads(default.stdout))
    assert json.loads(record.read_text())["threads"] == 3


def test_an_executor_option_of_the_wrong_type_is_a_usage_error(distributions, library):
    install_threads(distributions)

    run = run_simplugin(
        "scan",
        str(library),
        "--executor",
        "threads",
        "--executor-option",
        "threads=many",
        env=distributions.env,
    )

    assert run.returncode == 2
    assert run.stderr.startswith(
        "simplugin: error: executor 'threads' option 'threads' expects int:"
    )


def test_the_configuration_file_chooses_the_executor_and_its_options(
    distributions, library, tmp_path
):
    install_threads(distributions)
    record = tmp_path / "record.json"
    (tmp_path / "simplugin.toml").write_text(
        f'executor = "threads"\n\n[executor_options]\nthreads = 3\nrecord = "{record}"\n'
    )

    run = run_simplugin("scan", str(library), "--no-cache", cwd=tmp_path, env=distributions.env)

    assert run.returncode == 0, run.stderr
    assert json.loads(record.read_text())["threads"] == 3


def test_an_unknown_executor_in_the_configuration_file_names_the_file(library, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text('executor = "cluster"\n')

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr == (
        f"simplugin: error: {config}: executor: unknown executor 'cluster'"
        " (available: dask, local)\n"
    )


def test_a_bad_executor_option_in_the_configuration_file_names_the_file(library, tmp_path):
    config = tmp_path / "simplugin.toml"
    config.write_text("[executor_options]\nworkers = 4\n")

    run = run_simplugin("scan", str(library), "--config", str(config))

    assert run.returncode == 2
    assert run.stderr.startswith(
        f"simplugin: error: {config}: executor_options: executor 'local' has no option 'workers'"
    )


def test_a_photo_that_kills_its_worker_costs_only_itself_on_the_local_executor(library):
    Image.open(library / "seagull_1.jpeg").resize((60, 80)).save(library / "tiny.jpeg")
    host = load_plugins(extra={"crashy": CrashyPlugin()})

    result = scan(library, metric="crashy", executor="local", jobs=2, cache=False, plugins=host)

    assert [(os.path.basename(s.path), s.reason) for s in result.skipped] == [
        ("tiny.jpeg", "reading it made the decoder crash (its process died)")
    ]
    assert len(result.photos) == 6


def test_an_executor_that_cannot_start_fails_the_scan_in_one_line_naming_its_plugin(
    distributions, library
):
    install_threads(distributions)

    run = run_simplugin("scan", str(library), "--executor", "elsewhere", env=distributions.env)

    assert run.returncode == 3
    assert run.stderr == (
        "simplugin: error: plugin 'threads' failed in start: ConnectionRefusedError: nothing"
        " listens on tcp://127.0.0.1:9\n"
    )


def test_an_executor_missing_a_package_stops_the_scan_before_a_photo_is_read(
    distributions, library
):
    install_threads(distributions)

    run = run_simplugin("scan", str(library), "--executor", "uninstalled", env=distributions.env)

    assert run.returncode == 2
    assert run.stderr == (
        "simplugin: error: executor 'uninstalled' cannot run here:"
        " pip install 'simplugin[uninstalled]'\n"
    )


def _square_or_die(_context, numbers):
    """A task whose worker dies on 13 and 27, as a process does when its decoder crashes."""
    if {13, 27} & set(numbers):
        os._exit(70)
    return [n * n for n in numbers]


def test_items_that_kill_their_worker_cost_only_themselves_and_the_rest_come_in_order():
    from simplugin import WORKER_LOST, LocalWorkers, each_on

    batches = [list(range(start, start + 5)) for start in range(0, 40, 5)]
    with LocalWorkers(2, None) as workers:
        results = list(each_on(workers, _square_or_die, batches))

    assert [item for item, _ in results] == list(range(40))
    assert [item for item, result in results if result is WORKER_LOST] == [13, 27]
    assert all(result == item * item for item, result in results if item not in (13, 27))
