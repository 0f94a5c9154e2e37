"""Finding, loading and asking the plugins.

Every plugin, built-in or not, comes from the `simplugin` entry-point group. Entry
points are loaded one at a time so that a broken third-party plugin is reported and
skipped while the others, and the built-ins, keep working. Two environment variables
switch plugins off, for debugging a broken install:

* `SIMPLUGIN_DISABLE_PLUGIN_AUTOLOAD=1` loads only simplugin's own built-ins;
* `SIMPLUGIN_BLOCK_PLUGINS=name,other` skips the named entry points.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import metadata
from typing import Any, cast

import pluggy

from . import hookspecs
from .errors import PluginError, UsageError, blame, describe
from .text import quoted
from .types import Bucketer, Contribution, Executor, Metric, Photo, ScanSettings, Sink

ENTRY_POINT_GROUP = "simplugin"
BUILTIN_DISTRIBUTION = "simplugin"
DISABLE_AUTOLOAD_ENV = "SIMPLUGIN_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "SIMPLUGIN_BLOCK_PLUGINS"

# What each registration hook collects, by the name users select it with.
KINDS: dict[str, tuple[str, type[Contribution]]] = {
    "metric": ("register_metrics", Metric),
    "bucketer": ("register_bucketers", Bucketer),
    "sink": ("register_sinks", Sink),
    "executor": ("register_executors", Executor),
}
_VALID_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")


class HookManager(pluggy.PluginManager):
    """pluggy's plugin manager for simplugin's hooks, taking from each plugin only the
    implementations simplugin will call. pluggy alone keeps one named after no hook,
    never calling it (the plugin silently does nothing), and refuses a whole plugin,
    left half registered, for one implementation asking for an argument its hook does
    not give. Here each such implementation is left out and `mistakes` says why, so the
    author is told and the plugin's other hooks still work."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        # Every hook, by name, with the arguments it gives.
        self.hooks: dict[str, tuple[str, ...]] = {
            name: caller.spec.argnames
            for name, caller in vars(self.hook).items()
            if caller.spec is not None
        }

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        options = super().parse_hookimpl_opts(plugin, name)
        if options is None or self._mistake(plugin, name, options) is not None:
            return None
        return options

    def mistakes(self, plugin: object) -> list[str]:
        """What is wrong with each of `plugin`'s implementations that simplugin will not
        call, each the end of a sentence starting "plugin 'x' implements"."""
        found = []
        for name in dir(plugin):  # as pluggy looks for implementations
            options = super().parse_hookimpl_opts(plugin, name)
            mistake = None if options is None else self._mistake(plugin, name, options)
            if mistake is not None:
                found.append(mistake)
        return found

    def _mistake(self, plugin: object, name: str, options: pluggy.HookimplOpts) -> str | None:
        hook = options.get("specname") or name
        if hook not in self.hooks:
            if options.get("optionalhook"):  # its author says the hook may not exist
                return None
            close = difflib.get_close_matches(hook, self.hooks, n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            return f"{hook!r}, which is not a simplugin hook{suggestion}"
        if options.get("wrapper") or options.get("hookwrapper"):
            return f"{hook!r} as a hook wrapper, which simplugin does not support: it is not called"
        implementation = pluggy.HookImpl(plugin, "", getattr(plugin, name), options)
        given = self.hooks[hook]
        unknown = [argument for argument in implementation.argnames if argument not in given]
        if not unknown:
            return None
        arguments = "the argument" if len(unknown) == 1 else "the arguments"
        return (
            f"{hook!r} with {arguments} {', '.join(map(repr, unknown))}, which that hook does"
            f" not have (its arguments: {', '.join(given)}): it is not called"
        )


class PluginWarning(UserWarning):
    """A plugin that could not be loaded or registered, or a hook implementation of one
    that simplugin does not call: the scan goes on without it."""


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin, as `simplugin plugins` lists it."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


class PluginHost:
    """The loaded plugins and everything they registered.

    Hooks are called one implementation at a time, in pluggy's order, rather than
    through `manager.hook`: so every metric, bucketer and sink is attributed to the
    plugin that offered it (for conflicts and `simplugin plugins`), and a plugin that
    raises is named in the error and, where the scan can go on, skipped on its own.
    (Hook wrappers are therefore not supported: `HookManager` leaves them out.)
    """

    def __init__(self, manager: pluggy.PluginManager, infos: Mapping[str, PluginInfo]):
        self.manager = manager
        self.infos = dict(infos)
        self.problems: list[str] = []  # one line per plugin or implementation not used
        self.conflicts: list[str] = []  # one line per name offered twice
        self.registered: dict[str, dict[str, Contribution]] = {kind: {} for kind in KINDS}
        self.providers: dict[tuple[str, str], str] = {}  # (kind, name) -> plugin name

    # --- asking the plugins ------------------------------------------------------------

    def _implementations(self, hook_name: str) -> list[pluggy.HookImpl]:
        """A hook's implementations in pluggy's call order (tryfirst first)."""
        return list(reversed(getattr(self.manager.hook, hook_name).get_hookimpls()))

    @staticmethod
    def _call(impl: pluggy.HookImpl, hook_name: str, kwargs: Mapping[str, Any]) -> Any:
        """One implementation, given the arguments it asks for; errors name its plugin."""
        with blame(impl.plugin_name, hook_name):
            return impl.function(**{name: kwargs[name] for name in impl.argnames})

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Tell every observer; one that raises is reported in `problems`, not fatal."""
        for impl in self._implementations(hook_name):
            try:
                self._call(impl, hook_name, kwargs)
            except PluginError as error:
                self.problems.append(str(error))

    def choose_keeper(self, photos: tuple[Photo, ...], settings: ScanSettings) -> Photo:
        given = {"photos": photos, "settings": settings}
        for impl in self._implementations("choose_keeper"):
            choice = self._call(impl, "choose_keeper", given)
            if choice is None:
                continue
            if choice not in photos:
                error = ValueError("returned a photo that is not in the group")
                raise PluginError(impl.plugin_name, "choose_keeper", error)
            return choice
        raise UsageError("no plugin chose a keeper: the built-in 'keeper' plugin is blocked")

    # --- what they registered ----------------------------------------------------------

    def collect_registrations(self) -> None:
        for kind, (hook_name, base) in KINDS.items():
            for impl in self._implementations(hook_name):
                offered: list[Any] = []
                try:
                    self._call(impl, hook_name, {"register": offered.append})
                except PluginError as error:
                    self.problems.append(str(error))
                    continue
                for item in offered:
                    self._add(kind, base, impl.plugin_name, item)

    def _add(self, kind: str, base: type[Contribution], plugin: str, item: Any) -> None:
        name = getattr(item, "name", None)
        if not isinstance(item, base) or not isinstance(name, str):
            self.problems.append(
                f"plugin {plugin!r} registered {item!r}, which is not a simplugin.{base.__name__}"
            )
            return
        if not _VALID_NAME.match(name):
            self.problems.append(
                f"plugin {plugin!r} registered the {kind} name {name!r}: names are lower-case"
                " letters, digits, '-', '_' and '.'"
            )
            return
        other = self.providers.get((kind, name))
        if other is not None:
            self.conflicts.append(
                f"the {kind} {name!r} is offered by two plugins: {self.describe(other)} and"
                f" {self.describe(plugin)}; uninstall one, or set {BLOCK_ENV}={plugin}"
            )
            return
        self.registered[kind][name] = item
        self.providers[(kind, name)] = plugin

    def metric(self, name: str) -> Metric:
        """The metric registered as `name`, or a `UsageError` listing those there are."""
        return cast(Metric, self.get("metric", name))

    def bucketer(self, name: str) -> Bucketer:
        """The bucketer registered as `name`, or a `UsageError` listing those there are."""
        return cast(Bucketer, self.get("bucketer", name))

    def sink(self, name: str) -> Sink:
        """The sink registered as `name`, or a `UsageError` listing those there are."""
        return cast(Sink, self.get("sink", name))

    def executor(self, name: str) -> Executor:
        """The executor registered as `name`, or a `UsageError` listing those there are."""
        return cast(Executor, self.get("executor", name))

    def get(self, kind: str, name: str) -> Contribution:
        """The contribution of `kind` ("metric", "bucketer", "sink" or "executor")
        registered as `name`, or a `UsageError` listing what there is. `metric`,
        `bucketer`, `sink` and `executor` say the same with the type they return."""
        found = self.registered[kind].get(name)
        if found is None:
            available = ", ".join(sorted(self.registered[kind])) or "none"
            raise UsageError(f"unknown {kind} {quoted(name)} (available: {available})")
        return found

    def provider(self, kind: str, name: str) -> str:
        """The name of the plugin that registered the `kind` called `name`."""
        return self.providers[(kind, name)]

    def provider_of(self, contribution: Contribution) -> str:
        """The name of the plugin that registered `contribution` (this very object)."""
        name = contribution.name
        for kind, (_, base) in KINDS.items():
            if isinstance(contribution, base) and self.registered[kind].get(name) is contribution:
                return self.providers[(kind, name)]
        raise ValueError(f"{contribution!r} is not registered with this host")

    def blame(
        self, contribution: Contribution, during: str, spare: tuple[type[BaseException], ...] = ()
    ) -> AbstractContextManager[None]:
        """Run `contribution`'s code: what it raises is its plugin failing `during` this
        (see `errors.blame`): `with host.blame(metric, "distance"): metric.distance(a, b)`."""
        return blame(self.provider_of(contribution), during, spare)

    def describe(self, plugin: str) -> str:
        info = self.infos.get(plugin)
        if info is None or info.distribution is None:
            return repr(plugin)
        return f"{plugin!r} ({info.distribution} {info.version})"

    def check_conflicts(self) -> None:
        if self.conflicts:
            raise UsageError("; ".join(self.conflicts))


def resolve_options(
    kind: str, contribution: Contribution, given: Mapping[str, Any], plugin: str | None = None
) -> dict:
    """Check `given` against the options `contribution` declares and convert the values.

    A converter is the plugin's code: one that fails other than by rejecting the value
    is `plugin` failing (named by the contribution when not given)."""
    declared = contribution.options
    label = f"{kind} {contribution.name!r}"
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise UsageError(f"{label} has no option {unknown[0]!r} (its options: {known})")
    resolved = {}
    for key, option in declared.items():
        if key not in given:
            if option.required:
                raise UsageError(f"{label} needs the option {key!r}: {option.help}")
            resolved[key] = option.default
            continue
        try:
            with blame(
                plugin or contribution.name, f"{label} option {key!r}", (TypeError, ValueError)
            ):
                resolved[key] = option.convert(given[key])
        except (TypeError, ValueError) as error:
            if not isinstance(option.type, type):  # a converter: its message says what it wants
                raise UsageError(f"{label} option {key!r}: {error}") from error
            raise UsageError(
                f"{label} option {key!r} expects {option.type.__name__}: {describe(error)}"
            ) from error
    return resolved


def _entry_points(
    autoload: bool, blocked: Iterable[str]
) -> Iterator[tuple[metadata.EntryPoint, str | None, str | None]]:
    """The entry points to load, each with its distribution's name and version."""
    blocked = set(blocked)
    # A distribution's name and version are read from its METADATA, parsed again at each
    # asking (~5 ms): once per distribution, not thrice per entry point (~0.15 s a start).
    named: dict[int, tuple[str | None, str | None]] = {}
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        if dist is None:
            distribution, version = None, None
        elif id(dist) in named:
            distribution, version = named[id(dist)]
        else:
            distribution, version = named[id(dist)] = (dist.name, dist.version)
        if entry_point.name in blocked:
            continue
        if not autoload and distribution != BUILTIN_DISTRIBUTION:
            continue
        yield entry_point, distribution, version


def load_plugins(
    *,
    autoload: bool | None = None,
    blocked: Iterable[str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> PluginHost:
    """Load the built-ins and, unless `autoload` is False, every installed plugin.

    `autoload` and `blocked` default to the environment variables above. `extra` maps
    names to plugin objects registered directly, as a script or test would do.
    """
    if autoload is None:
        autoload = os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0")
    if blocked is None:
        blocked = [n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip()]
    manager = HookManager()
    infos: dict[str, PluginInfo] = {}
    problems: list[str] = []
    candidates: list[tuple[str, Callable[[], object], str | None, str | None]] = [
        (entry_point.name, entry_point.load, distribution, version)
        for entry_point, distribution, version in _entry_points(autoload, blocked)
    ]
    candidates += [(name, lambda p=plugin: p, None, None) for name, plugin in (extra or {}).items()]
    for name, load, distribution, version in candidates:
        where = f" ({distribution} {version})" if distribution else ""
        try:
            with blame(name, "loading"):
                plugin = load()
                mistakes = manager.mistakes(plugin)
                manager.register(plugin, name=name)
        except PluginError as failure:
            problems.append(
                f"plugin {name!r}{where} could not be loaded: {describe(failure.error)}"
            )
            continue
        problems += [f"plugin {name!r}{where} implements {mistake}" for mistake in mistakes]
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or ()))
        infos[name] = PluginInfo(name, distribution, version, hooks)
    host = PluginHost(manager, infos)
    host.problems.extend(problems)
    host.collect_registrations()
    if not host.registered["metric"]:
        host.problems.append(
            "no metric is registered: is simplugin installed (pip install .)? Its built-ins"
            f" come from the {ENTRY_POINT_GROUP!r} entry points"
        )
    return host
