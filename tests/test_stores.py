"""The store interface (index/base.py) as a specification: the local store and Milvus (milvus-lite
in a temporary folder) behave alike, and the whole answer path runs on Milvus."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.base import EmbedderMismatch, Filter, StoreUnavailable, VectorStore, normalise_title
from index.milvus import MilvusStore
from rag.cli import main
from rag.engine import Engine
from rag.paths import DEMO_CORPUS
from rag.settings import Settings

GERMAN = "000_7158970d0917ea8d"
PRIORITIES = "002_159690cec7945fb9"
STORES = ["local", "milvus"]


def settings_for(store: str, folder: Path) -> Settings:
    return Settings(index_dir=folder / "index", llm_backend="extractive", vector_store=store)


@pytest.fixture(scope="module", params=STORES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The demo corpus in each store, read by the tests that change nothing."""
    engine = Engine(settings_for(request.param, tmp_path_factory.mktemp(request.param)), auto_demo=False)
    engine.ingest([DEMO_CORPUS])
    return engine


@pytest.fixture(params=STORES)
def notes(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """An empty store of each kind, for the tests that write their own documents."""
    return Engine(settings_for(request.param, tmp_path), auto_demo=False)


def write_note(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_dense_search_finds_by_meaning_across_languages_and_filters(demo: Engine) -> None:
    store, vector = demo.store, demo.embedder.embed_query_array("Who invited Ukraine's supporters to Ramstein?")
    hits = store.dense_search(vector, 3)
    assert GERMAN in [h.document.doc_id for h in hits] and any("Ramstein" in h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.document.doc_id for h in store.dense_search(vector, 10, Filter.of([PRIORITIES], None))} == {PRIORITIES}
    assert {h.document.lang for h in store.dense_search(vector, 10, Filter.of(None, ["en"]))} == {"en"}
    assert store.dense_search(vector, 10, Filter.of(["no-such-document"], None)) == []


def test_lexical_search_finds_only_chunks_sharing_a_word_and_filters(demo: Engine) -> None:
    store = demo.store
    hits = store.lexical_search("Oana Lungescu", 10)
    assert hits and all("Lungescu" in h.text or "Lungescu" in h.document.title for h in hits)
    assert {h.document.doc_id for h in hits} == {PRIORITIES, "003_2f614e97bf582ec3"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True) and hits[-1].score > 0
    assert {h.document.lang for h in store.lexical_search("NATO", 10, Filter.of(None, ["de"]))} == {"de"}
    assert store.lexical_search("NATO", 10, Filter.of([PRIORITIES], ["de"])) == []
    assert store.lexical_search("the and der", 10) == []  # stop words only


def test_chunks_vectors_text_and_titles_answer_by_chunk_id(demo: Engine) -> None:
    store = demo.store
    documents = store.documents()
    assert len(documents) == 5 and sum(d.chunks for d in documents.values()) == store.info().chunks
    priorities = store.document(PRIORITIES)
    assert priorities is not None
    assert priorities.text == (DEMO_CORPUS / f"{PRIORITIES}.txt").read_text(encoding="utf-8").strip()
    [first] = store.titled({normalise_title(priorities.title), "no such title"})[normalise_title(priorities.title)]
    assert (first.chunk.doc_id, first.chunk.start) == (PRIORITIES, 0)
    assert first.text == priorities.text[first.chunk.start : first.chunk.end]
    vectors = store.vectors([first.chunk.chunk_id, "no-such-chunk#0"])
    assert list(vectors) == [first.chunk.chunk_id] and np.isclose(np.linalg.norm(vectors[first.chunk.chunk_id]), 1.0)
    after = store.text_after([(PRIORITIES, first.chunk.end), (PRIORITIES, len(priorities.text) - 5)], 300)
    assert after == [priorities.text[first.chunk.end : first.chunk.end + 300], priorities.text[-5:]]


def test_the_engine_searches_through_the_store_with_exact_spans_and_filters(demo: Engine) -> None:
    passages = demo.search("What are Rutte's three priorities?", k=3)
    assert PRIORITIES in {p.doc_id for p in passages}
    assert all(demo.document(p.doc_id).text[p.start : p.end] == p.text for p in passages)
    assert {p.lang for p in demo.search("NATO", k=10, langs=["de"])} == {"de"}
    assert demo.search("NATO", doc_ids=["unknown"]) == []


def test_a_deleted_document_is_gone_from_both_searches(notes: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    write_note(folder, "depot", "The depot at Harrow Quay handles grain and timber.")
    write_note(folder, "ferry", "The ferry to Ostwick leaves twice a day from Harrow Quay.")
    notes.ingest([folder])
    vector = notes.embedder.embed_query_array("Which depot handles grain?")
    assert notes.remove(["depot"]) == ["depot"]
    assert "depot" not in notes.documents() and notes.document("depot") is None
    assert all(h.document.doc_id == "ferry" for h in notes.store.dense_search(vector, 5))
    assert all(h.document.doc_id == "ferry" for h in notes.store.lexical_search("depot grain Harrow", 5))
    assert notes.remove(["depot"]) == []


def test_re_ingesting_a_changed_file_replaces_its_chunks(notes: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    write_note(folder, "depot", "The depot at Harrow Quay handles grain.")
    write_note(folder, "ferry", "The ferry to Ostwick leaves twice a day.")
    notes.ingest([folder])
    version = notes.store.version()
    assert not notes.ingest([folder]).changed and notes.store.version() == version
    write_note(folder, "depot", "The depot at Harrow Quay now stores salt.\n\n" + "Salt comes by barge. " * 150)

    report = notes.ingest([folder])

    assert report.updated == ["depot"] and report.unchanged == ["ferry"]
    assert notes.store.version() != version and notes.documents()["depot"].chunks > 1
    assert notes.document("depot").text.startswith("The depot at Harrow Quay now stores salt.")
    assert notes.store.lexical_search("grain", 5) == []
    assert notes.search("What does the depot store?", k=1)[0].doc_id == "depot"


def test_a_document_keeps_the_date_it_was_added_until_it_changes(notes: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    write_note(folder, "depot", "The depot at Harrow Quay handles grain.")
    write_note(folder, "ferry", "The ferry to Ostwick leaves twice a day.")
    before = datetime.now(UTC).replace(microsecond=0)
    notes.ingest([folder])
    first = {doc_id: info.added for doc_id, info in notes.documents().items()}
    assert all(a and before <= datetime.fromisoformat(a) <= datetime.now(UTC) for a in first.values()), first

    time.sleep(1.1)  # dates are kept to the second
    notes.ingest([folder])
    assert {doc_id: info.added for doc_id, info in notes.documents().items()} == first
    write_note(folder, "depot", "The depot at Harrow Quay now stores salt.")
    notes.ingest([folder])

    now = notes.documents()
    assert now["ferry"].added == first["ferry"]  # unchanged: its first date
    assert datetime.fromisoformat(now["depot"].added) - datetime.fromisoformat(first["depot"]) >= timedelta(seconds=1)
    assert notes.store.dense_search(notes.embedder.embed_query_array("salt"), 1)[0].document.added == now["depot"].added


def test_a_store_built_with_another_embedder_is_refused(demo: Engine) -> None:
    with pytest.raises(EmbedderMismatch, match="built with embedder 'use-multilingual-v3'.*RAG_EMBEDDER"):
        Engine(demo.settings.replace(embedder="minilm"), auto_demo=False).search("Rutte")


def test_the_whole_answer_path_runs_on_milvus(tmp_path: Path) -> None:
    engine = Engine(settings_for("milvus", tmp_path))  # the demo corpus fills it on first use
    answer = engine.ask("What are Rutte's three priorities?")
    assert not answer.refused and answer.backend == "extractive" and answer.citations
    assert PRIORITIES in {c.doc_id for c in answer.citations}
    for citation in answer.citations:
        assert engine.document(citation.doc_id).text[citation.start : citation.end] == citation.quote
    assert "[1]" in answer.answer
    assert engine.stats().documents == 5 and engine.stats().vector_index == "milvus-lite"


def test_a_full_rebuild_fills_a_new_milvus_collection_behind_the_alias(tmp_path: Path) -> None:
    engine = Engine(settings_for("milvus", tmp_path), auto_demo=False)
    store = engine.store
    assert isinstance(store, MilvusStore)
    write_note(tmp_path / "a", "depot", "The depot at Harrow Quay handles grain.")
    engine.ingest([tmp_path / "a"])
    first = behind_alias(store)
    write_note(tmp_path / "a", "ferry", "The ferry to Ostwick leaves twice a day.")
    engine.ingest([tmp_path / "a"])  # keeps the depot: written in place
    assert behind_alias(store) == first

    engine.remove(["depot", "ferry"])  # keeps nothing: a new collection
    write_note(tmp_path / "b", "salt", "Salt comes by barge.")
    engine.ingest([tmp_path / "b"])

    assert behind_alias(store) not in (first, "") and list(engine.documents()) == ["salt"]
    kept = [c for c in store._client.list_collections() if c.startswith("ragchat_v")]
    assert len(kept) == 2  # the live one and the one before it, which a reader may still be in


def behind_alias(store: MilvusStore) -> str:
    return str(store._client.describe_alias(store.alias)["collection_name"])


def test_milvus_problems_name_the_setting_to_change(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if it were not installed
    missing: VectorStore = MilvusStore(str(tmp_path / "milvus.db"), "ragchat")
    with pytest.raises(StoreUnavailable, match="pip install pymilvus milvus-lite, or set RAG_VECTOR_STORE=local"):
        missing.version()
    monkeypatch.undo()
    down = MilvusStore("http://127.0.0.1:9", "ragchat", timeout=0.5)  # nothing listens on the discard port
    with pytest.raises(
        StoreUnavailable, match="cannot open Milvus at http://127.0.0.1:9.*start the server, or set RAG_MILVUS_URI"
    ):
        down.version()


def test_stats_and_an_evaluation_run_read_milvus_through_the_store_interface(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_VECTOR_STORE", "milvus")
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))  # the bench's index, away from the user's
    bench = tmp_path / "bench"
    corpus = [
        {"id": "depot", "title": "Harrow Quay depot", "text": "The depot at Harrow Quay handles grain and timber."},
        {"id": "ferry", "title": "Ostwick ferry", "text": "The ferry to Ostwick leaves twice a day from the quay."},
    ]
    write_jsonl(bench / "corpus.jsonl", corpus)
    write_jsonl(
        bench / "questions.jsonl",
        [
            {
                "id": "q1",
                "question": "What does the depot at Harrow Quay handle?",
                "answers": ["grain"],
                "gold_doc_ids": ["depot"],
            },
            {
                "id": "q2",
                "question": "How often does the Ostwick ferry leave?",
                "answers": ["twice a day"],
                "gold_doc_ids": ["ferry"],
            },
        ],
    )

    def evaluate(out: Path) -> dict[str, Any]:
        assert main(["eval", str(bench), "--backend", "extractive", "-q", "--out", str(out)]) == 0
        return json.loads((out / "summary.json").read_text(encoding="utf-8"))

    first = evaluate(tmp_path / "run")
    assert list(first["pipelines"]) == ["ours", "bm25", "dense", "langchain-baseline"]
    assert all(p["scores"]["all"]["recall@5"] == 1.0 for p in first["pipelines"].values())
    index = next((tmp_path / "cache" / "eval").glob("bench-*/index"))
    assert (index / "milvus.db").exists() and not (index / "CURRENT").exists()  # nothing in a local store

    capsys.readouterr()
    assert main(["--index", str(index), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["documents"], stats["chunks"], stats["vector_index"]) == (2, 2, "milvus-lite")
    assert list(stats["folders"].values()) == [2]

    # Another text in one document is another index: the run's fingerprint changes with it.
    write_jsonl(bench / "corpus.jsonl", [{**corpus[0], "text": "The depot at Harrow Quay handles salt."}, corpus[1]])
    assert evaluate(tmp_path / "again")["fingerprint"] != first["fingerprint"]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
