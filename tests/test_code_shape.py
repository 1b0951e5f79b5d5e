"""The house rules a newcomer relies on, checked on every run: short functions, modules of one
concern, short front doors, docstrings that give reasons rather than history."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400


def _python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _docstrings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield node, text


def test_no_function_is_longer_than_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in _python_files("idgi_fast", "bench")
        for node in _functions(ast.parse(path.read_text()))
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "split these functions:\n" + "\n".join(long)


def test_no_module_is_longer_than_400_lines():
    long = [
        f"{path.relative_to(ROOT)} ({lines} lines)"
        for path in _python_files("idgi_fast")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "split these modules by concern:\n" + "\n".join(long)


@pytest.mark.parametrize(("page", "limit"), [("README.md", 10_000), ("docs/semantics.md", 16_000)])
def test_front_doors_are_short(page, limit):
    size = len((ROOT / page).read_bytes())
    assert size < limit, f"{page} is {size} bytes; move detail to the pages it links"


# A date, a card or "former" in a docstring is history: it goes to bench/RESULTS.md or the log.
_HISTORY = re.compile(
    r"\b20\d\d-\d\d-\d\d\b|\b(?:H100|H200|A100|V100|RTX ?\d{4})\b|\bformer(?:ly)?\b", re.IGNORECASE
)


def test_docstrings_hold_no_history_and_no_outside_paths():
    found = []
    for path in _python_files("idgi_fast", "bench"):
        for node, text in _docstrings(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}"
            if match := _HISTORY.search(text):
                found.append(f"{where} mentions {match.group(0)!r}")
            if "../shared" in text or "/work/" in text:
                found.append(f"{where} cites a path outside the repository")
    assert not found, "\n".join(found)


def test_the_checks_see_a_long_function_and_a_dated_docstring():
    sample = ast.parse(
        "def long():\n"
        + "    x = 1\n" * MAX_FUNCTION_LINES
        + '\n\ndef dated():\n    """Measured 2026-11-27."""\n'
    )
    lengths = {node.name: node.end_lineno - node.lineno + 1 for node in _functions(sample)}
    assert lengths["long"] > MAX_FUNCTION_LINES
    assert [bool(_HISTORY.search(text)) for _, text in _docstrings(sample)] == [True]
