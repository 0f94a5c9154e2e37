"""Every hook has a test (datasette's meta-test): for each hook specification, some test
uses a plugin implementing it, so a hook added without one fails here.

The tests are read, not run: a test uses a plugin when its body, or a helper, class
or constant of its module that it names (directly or through another), holds a
function marked `@hookimpl` that implements the hook as simplugin calls it (its name,
arguments the hook gives). A plugin written as a string, installed as a distribution,
counts as its source does."""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache
from pathlib import Path

import pytest

from simplugin import hookspecs
from simplugin.plugins import HookManager

TESTS = Path(__file__).parent
HOOKS = HookManager().hooks  # name -> the arguments it gives


def is_hookimpl(decorator: ast.expr) -> bool:
    """`@hookimpl`, `@hookimpl(...)`, `@simplugin.hookimpl...`; not pytest's."""
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    if isinstance(decorator, ast.Name):
        return decorator.id == "hookimpl"
    return (
        isinstance(decorator, ast.Attribute)
        and decorator.attr == "hookimpl"
        and isinstance(decorator.value, ast.Name)
        and decorator.value.id == "simplugin"
    )


def implemented_hook(function: ast.FunctionDef) -> str | None:
    """The hook `function` implements so that simplugin calls it, if any."""
    marks = [d for d in function.decorator_list if is_hookimpl(d)]
    if not marks:
        return None
    options = {
        keyword.arg: keyword.value.value
        for mark in marks
        if isinstance(mark, ast.Call)
        for keyword in mark.keywords
        if isinstance(keyword.value, ast.Constant)
    }
    if options.get("wrapper") or options.get("hookwrapper"):
        return None  # simplugin does not call hook wrappers
    hook = options.get("specname") or function.name
    arguments = [a.arg for a in function.args.args if a.arg != "self"]
    return hook if hook in HOOKS and set(arguments) <= set(HOOKS[hook]) else None


def implemented(tree: ast.AST) -> set[str]:
    """The hooks implemented in `tree`, and in the plugin sources it holds as strings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            found.add(implemented_hook(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "@hookimpl" in node.value:
                try:
                    found |= implemented(ast.parse(textwrap.dedent(node.value)))
                except SyntaxError:
                    pass  # a fragment spliced into a plugin: no whole function to judge
    return found - {None}


def hooks_reached(path: Path) -> dict[str, set[str]]:
    """Each test of the module at `path`, with the hooks its plugins implement."""
    definitions: dict[str, ast.AST] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            definitions[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            definitions.update((t.id, node) for t in targets if isinstance(t, ast.Name))

    def named_in(node: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(definitions)

    reached = {}
    for test in (name for name in definitions if name.startswith("test_")):
        seen, waiting = {test}, [test]
        while waiting:
            for name in named_in(definitions[waiting.pop()]) - seen:
                seen.add(name)
                waiting.append(name)
        reached[test] = set().union(*(implemented(definitions[name]) for name in seen))
    return reached


@cache
def plugin_tests_by_hook() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {hook: [] for hook in HOOKS}
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        for test, hooks in hooks_reached(path).items():
            for hook in hooks:
                found[hook].append(f"{path.name}::{test}")
    return found


def test_the_hooks_checked_are_those_plugin_authors_are_told_of():
    specified = {
        name for name, function in vars(hookspecs).items() if hasattr(function, "simplugin_spec")
    }
    assert set(HOOKS) == specified
    for hook, arguments in HOOKS.items():
        assert arguments == tuple(inspect.signature(getattr(hookspecs, hook)).parameters)


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_each_hook_has_a_test_using_a_plugin_that_implements_it(hook):
    assert plugin_tests_by_hook()[hook], (
        f"no test uses a plugin implementing {hook!r}: add one (a @hookimpl function named"
        " after the hook) to a test that shows what the hook does"
    )
