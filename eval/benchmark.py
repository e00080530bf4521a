"""Benchmarks in the shared format: a folder with corpus.jsonl and questions.jsonl.

corpus.jsonl:    {"id", "title", "text", "source", "lang"} one document a line
questions.jsonl: {"id", "question", "answers": [...], "gold_doc_ids": [...], "type", ...}
An unanswerable question has no gold documents and no answers: the right answer is a refusal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.loaders import discover


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

    def to_json(self) -> dict[str, Any]:
        """The questions.jsonl form: `extra` fields sit at the top level, as they were read."""
        row = asdict(self)
        return {**{k: v for k, v in row.items() if k != "extra"}, **row["extra"]}


_KNOWN = {"id", "question", "answers", "gold_doc_ids", "type", "q_lang", "doc_lang", "history"}


def read_questions(path: Path) -> list[Question]:
    questions = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                questions.append(question_from_json(json.loads(line)))
    return questions


def question_from_json(row: dict[str, Any]) -> Question:
    return Question(
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


@dataclass(frozen=True)
class Corpus:
    """What a bench indexes: files and folders the rag loaders read as they are, or
    documents converted from another format ({"id", "title", "text", "source", "lang"})."""

    paths: tuple[Path, ...] = ()
    records: tuple[dict[str, str], ...] = ()

    def fingerprint(self) -> str:
        """Changes whenever what would be indexed changes: content, document ids, and where the
        files are (the index records their paths, so a second checkout of the same corpus
        gets its own index instead of adding its files to the first one's as new documents)."""
        digest = hashlib.sha256()
        files, _ = discover(self.paths)
        for file in files:
            digest.update(f"{file.doc_id}\0{file.path.resolve()}\0".encode())
            digest.update(hashlib.sha256(file.path.read_bytes()).digest())
        digest.update(self._records_jsonl().encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def materialize(self, folder: Path) -> list[Path]:
        """The paths to ingest; converted records become `folder/corpus.jsonl` first."""
        if not self.records:
            return list(self.paths)
        target = folder / "corpus.jsonl"
        text = self._records_jsonl()
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return [*self.paths, target]

    def _records_jsonl(self) -> str:
        return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in self.records)


@dataclass(frozen=True)
class Bench:
    name: str
    questions: list[Question]
    corpus: Corpus | None  # None: the questions run against an existing index
