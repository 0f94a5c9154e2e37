"""The code stays readable by a newcomer: no function in simplugin/ over 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "simplugin"
LONGEST = 80


def function_lengths() -> dict[str, int]:
    """Every function and method in the package, by place, with its length in lines
    (decorators included)."""
    lengths = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"
                lengths[where] = node.end_lineno - start + 1
    return lengths


def test_no_function_is_longer_than_80_lines():
    too_long = {where: n for where, n in function_lengths().items() if n > LONGEST}

    assert too_long == {}
