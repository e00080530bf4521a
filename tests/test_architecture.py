"""Imports run one way, as docs/ARCHITECTURE.md draws them: ui and eval use rag (eval also index); rag uses index
and prompts; index and prompts use none of ours. The CLI reaches ui and eval only through the
`rag.commands` entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAY_IMPORT = {
    "ui": {"rag"},
    "eval": {"rag", "index", "prompts"},
    "rag": {"index", "prompts"},
    "index": set(),
    "prompts": set(),
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found & MAY_IMPORT.keys()


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {other}"
        for path in (ROOT / package).rglob("*.py")
        for other in _imported_packages(path) - MAY_IMPORT[package] - {package}
    }
    assert not wrong, sorted(wrong)


def test_answering_a_question_does_not_load_the_document_parsers() -> None:
    code = "import sys, rag.chain; print(sorted({'pypdf', 'docx', 'selectolax'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
