"""House rules that keep the code readable as the suite grows (docs/architecture.md).

No module over 500 lines; no function over 60 lines (``def`` to the end of its body, docstring
included) unless its docstring says why in a sentence starting with ``Long:``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "datasets", "baselines", "leaderboard", "src/decathlon")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _name(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_MODULE_LINES, (
        f"{_name(path)} has {n} lines; split it by job (max {MAX_MODULE_LINES})"
    )


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_function_size(path):
    tree = ast.parse(path.read_text())
    long = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            doc = ast.get_docstring(node) or ""
            if n > MAX_FUNCTION_LINES and "Long:" not in doc:
                long.append(f"{node.name} ({n} lines, line {node.lineno})")
    assert not long, f"{_name(path)}: split or explain with 'Long: ...' in the docstring: {long}"


def test_the_shape_rules_see_every_package():
    assert len(SOURCES) > 30 and any("datasets/io" in _name(p) for p in SOURCES)
