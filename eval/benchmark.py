"""Benchmarks in the shared format: a folder with corpus.jsonl and questions.jsonl.

corpus.jsonl:    {"id", "title", "text", "source", "lang"} one document a line
questions.jsonl: {"id", "question", "answers": [...], "gold_doc_ids": [...], "type", ...}
An unanswerable question has no gold documents and no answers: the right answer is a refusal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]
    gold_doc_ids: list[str]
    type: str = ""
    q_lang: str = ""
    doc_lang: str = ""
    history: list[dict[str, str]] = field(default_factory=list)  # [{"role", "content"}] before this question
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return bool(self.gold_doc_ids)

    @property
    def group(self) -> str:
        """The breakdown key: type, plus the language pair when known (e.g. cross-lingual en→de)."""
        pair = f" {self.q_lang}→{self.doc_lang}" if self.q_lang and self.doc_lang else ""
        return f"{self.type or 'all'}{pair}"


_KNOWN = {"id", "question", "answers", "gold_doc_ids", "type", "q_lang", "doc_lang", "history"}


def read_questions(path: Path) -> list[Question]:
    questions = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            questions.append(
                Question(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=list(row.get("answers") or []),
                    gold_doc_ids=list(row.get("gold_doc_ids") or []),
                    type=row.get("type", ""),
                    q_lang=row.get("q_lang", ""),
                    doc_lang=row.get("doc_lang", ""),
                    history=list(row.get("history") or []),
                    extra={k: v for k, v in row.items() if k not in _KNOWN},
                )
            )
    return questions
