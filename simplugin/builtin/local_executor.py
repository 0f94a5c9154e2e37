"""The `local` executor, the default: a scan's work on forked processes of this machine,
`--jobs` of them (one: in the scan's own process). See `simplugin.LocalWorkers`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simplugin import Executor, LocalWorkers, Workers, hookimpl


class LocalExecutor(Executor):
    name = "local"
    description = "processes forked on this machine, --jobs of them (the default)"

    def start(self, options: Mapping[str, Any], jobs: int, context: Any) -> Workers:
        return LocalWorkers(jobs, context)


@hookimpl
def register_executors(register):
    register(LocalExecutor())
