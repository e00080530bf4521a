"""Prompt templates as plain text files, loaded by name. No logic lives here.

`load("answer")` reads prompts/answer.txt. Templates use {curly} fields for
LangChain's ChatPromptTemplate; literal braces are doubled.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def load(name: str) -> str:
    path = _HERE / f"{name}.txt"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in _HERE.glob("*.txt")))
        raise FileNotFoundError(f"no prompt {name!r} in {_HERE}; available: {available}")
    return path.read_text(encoding="utf-8").strip()


def refusal(lang: str) -> str:
    """The refusal wording in the question's language, English when we have none."""
    try:
        return load(f"refusal_{lang}")
    except FileNotFoundError:
        return load("refusal_en")
