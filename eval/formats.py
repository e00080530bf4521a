"""Benchmark inputs, read into one form (eval.benchmark.Bench) whatever their origin.

- The shared format: a folder with questions.jsonl and corpus.jsonl, or with a
  bench.json `{"corpus": "path/relative/to/the/folder"}` naming files or a folder the
  rag loaders read (the project's demo set points at data/demo this way).
- SQuAD / XQuAD JSON: one document per paragraph, its questions pointing at it;
  SQuAD 2.0's `is_impossible` questions become unanswerable ones.
- BEIR folders: corpus.jsonl (_id, title, text), queries.jsonl (_id, text) and
  qrels/test.tsv; only judged queries are kept (an unjudged one is not unanswerable,
  just unjudged). BEIR has no answer strings, so only retrieval is scored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.benchmark import Bench, Corpus, Question, read_questions


class BenchFormatError(ValueError):
    """A path that is not a benchmark in any known format; the message says what was expected."""


def load_bench(path: Path) -> Bench:
    path = Path(path)
    if path.is_file() and path.suffix == ".json":
        documents, questions = read_squad(path)
        return Bench(path.stem, questions, Corpus(records=tuple(documents)))
    if (path / "queries.jsonl").is_file() and (path / "qrels").is_dir():
        documents, questions = read_beir(path)
        return Bench(path.name, questions, Corpus(records=tuple(documents)))
    if (path / "questions.jsonl").is_file():
        return Bench(path.name, read_questions(path / "questions.jsonl"), Corpus(paths=(_shared_corpus(path),)))
    raise BenchFormatError(
        f"{path} is not a benchmark: expected a folder with questions.jsonl and corpus.jsonl (or bench.json), "
        "a SQuAD/XQuAD .json file, or a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)"
    )


def _shared_corpus(folder: Path) -> Path:
    config = folder / "bench.json"
    if config.is_file():
        corpus = (folder / json.loads(config.read_text(encoding="utf-8"))["corpus"]).resolve()
    else:
        corpus = folder / "corpus.jsonl"
    if not corpus.exists():
        raise BenchFormatError(f"{folder}: corpus {corpus} does not exist")
    return corpus


def read_squad(path: Path) -> tuple[list[dict[str, str]], list[Question]]:
    """SQuAD-style JSON → (documents, questions); doc ids are `<file stem>-<article>-<paragraph>`."""
    try:
        articles = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BenchFormatError(f"{path} is not SQuAD JSON ({{'data': [...]}}): {exc}") from exc
    documents: list[dict[str, str]] = []
    questions: list[Question] = []
    for a, article in enumerate(articles):
        title = article.get("title", "").replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{Path(path).stem}-{a:03d}-{p:03d}"
            documents.append(
                {
                    "id": doc_id,
                    "title": f"{title} (paragraph {p + 1})",
                    "text": paragraph["context"],
                    "source": f"{Path(path).name}#{doc_id}",
                    "lang": "",
                }
            )
            for qa in paragraph["qas"]:
                questions.append(_squad_question(qa, doc_id))
    return documents, questions


def _squad_question(qa: dict[str, Any], doc_id: str) -> Question:
    answers = list(dict.fromkeys(a["text"] for a in qa.get("answers") or []))
    if qa.get("is_impossible") or not answers:
        return Question(str(qa["id"]), qa["question"], [], [], type="unanswerable")
    return Question(str(qa["id"]), qa["question"], answers, [doc_id], type="single-hop")


def read_beir(folder: Path, split: str = "test") -> tuple[list[dict[str, str]], list[Question]]:
    """A BEIR folder → (documents, questions); gold documents are those judged relevant (score > 0)."""
    qrels_file = folder / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        raise BenchFormatError(f"{folder}: no qrels/{split}.tsv")
    relevant: dict[str, list[str]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row["score"]) > 0:
                relevant.setdefault(row["query-id"], []).append(row["corpus-id"])
    documents = [
        {"id": str(d["_id"]), "title": d.get("title") or "", "text": d["text"], "source": "", "lang": ""}
        for d in _jsonl(folder / "corpus.jsonl")
    ]
    questions = [
        Question(str(q["_id"]), q["text"], [], relevant[str(q["_id"])], type="retrieval")
        for q in _jsonl(folder / "queries.jsonl")
        if str(q["_id"]) in relevant
    ]
    return documents, questions


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
