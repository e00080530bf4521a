"""Ingestion: files in, a consistent index out, incrementally and without losing anything."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from index import store as store_module
from index.store import EmbedderMismatch, IndexStore, IndexWriteFailed
from rag.chunking import count_tokens
from rag.engine import Engine
from rag.settings import Settings

GERMAN = "000_7158970d0917ea8d"
PRIORITIES = "002_159690cec7945fb9"


def test_demo_corpus_is_indexed_with_titles_sources_and_languages(demo_engine: Engine) -> None:
    stats = demo_engine.stats()
    assert (stats.documents, stats.languages, stats.embedder) == (5, {"de": 1, "en": 4}, "use-multilingual-v3")
    doc = demo_engine.snapshot().documents[PRIORITIES]
    assert doc.source.endswith("002_159690cec7945fb9.txt") and doc.title.startswith("Incoming North Atlantic")


def test_every_chunk_is_an_exact_span_of_its_document_within_the_token_budget(demo_engine: Engine) -> None:
    snapshot = demo_engine.snapshot()
    for chunk in snapshot.chunks:
        text = snapshot.documents[chunk.doc_id].text[chunk.start : chunk.end]
        assert text == text.strip() and text
        assert count_tokens(text) <= demo_engine.settings.chunk_tokens
    covered = {c.doc_id: c.end for c in snapshot.chunks}
    assert all(covered[d.doc_id] == len(d.text.rstrip()) for d in snapshot.documents.values())


def test_ingesting_the_same_files_again_changes_nothing(fresh_settings: Settings, corpus_copy: Path) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    engine.ingest([corpus_copy])
    version = engine.store.version()
    again = engine.ingest([corpus_copy])
    assert not again.changed and again.chunks_embedded == 0 and len(again.unchanged) == 5
    assert again.summary().startswith("nothing changed")
    assert engine.store.version() == version


def test_a_changed_file_replaces_only_its_own_chunks(fresh_settings: Settings, corpus_copy: Path) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    engine.ingest([corpus_copy])
    before = {c.chunk_id: c for c in engine.snapshot().chunks if c.doc_id != PRIORITIES}
    path = corpus_copy / f"{PRIORITIES}.txt"
    path.write_text("Rutte named four priorities at a press conference in The Hague.\n", encoding="utf-8")

    report = engine.ingest([corpus_copy])

    assert report.updated == [PRIORITIES] and report.chunks_embedded == 1
    snapshot = engine.snapshot()
    assert [snapshot.text(c) for c in snapshot.chunks if c.doc_id == PRIORITIES] == [
        "Rutte named four priorities at a press conference in The Hague."
    ]
    assert {c.chunk_id: c for c in snapshot.chunks if c.doc_id != PRIORITIES} == before
    assert engine.search("four priorities press conference The Hague", k=1)[0].doc_id == PRIORITIES


def test_remove_by_path_or_by_id(fresh_settings: Settings, corpus_copy: Path) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    engine.ingest([corpus_copy])
    assert engine.remove(engine.select([str(corpus_copy / f"{GERMAN}.txt")])) == [GERMAN]
    assert engine.remove([PRIORITIES]) == [PRIORITIES]
    assert engine.remove(["no-such-document"]) == []
    snapshot = engine.snapshot()
    assert GERMAN not in snapshot.documents and PRIORITIES not in snapshot.documents
    assert all(c.doc_id in snapshot.documents for c in snapshot.chunks) and len(snapshot.documents) == 3


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_indexed(
    fresh_settings: Settings, corpus_copy: Path
) -> None:
    (corpus_copy / "empty.txt").write_text("")
    (corpus_copy / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ntruncated")
    (corpus_copy / "image.png").write_bytes(b"\x89PNG\r\n")

    report = Engine(fresh_settings, auto_demo=False).ingest([corpus_copy])

    reasons = {Path(path).name: reason for path, reason in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "broken.pdf", "image.png"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert "PDF" in reasons["broken.pdf"] and "unsupported" in reasons["image.png"]
    assert len(report.added) == 5
    assert Engine(fresh_settings, auto_demo=False).stats().documents == 5


def test_a_file_that_breaks_later_keeps_its_indexed_version(fresh_settings: Settings, corpus_copy: Path) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    engine.ingest([corpus_copy])
    (corpus_copy / f"{PRIORITIES}.txt").write_bytes(b"\x00\x01\x02 not text any more")
    report = engine.ingest([corpus_copy])
    assert not report.changed and len(report.skipped) == 1
    assert PRIORITIES in engine.snapshot().documents


def test_opening_an_index_with_another_embedder_is_a_clear_error(demo_settings: Settings, demo_engine: Engine) -> None:
    with pytest.raises(EmbedderMismatch, match="built with embedder 'use-multilingual-v3'.*RAG_EMBEDDER"):
        Engine(demo_settings.replace(embedder="minilm"), auto_demo=False).search("Rutte")


def test_the_demo_corpus_is_indexed_on_first_use(fresh_settings: Settings) -> None:
    engine = Engine(fresh_settings)
    assert not IndexStore(fresh_settings.index_dir).exists()
    assert engine.search("Oana Lungescu", k=1)[0].doc_id in {PRIORITIES, "003_2f614e97bf582ec3"}
    assert engine.stats().documents == 5


def test_a_writer_that_commits_while_another_embeds_loses_nothing(
    fresh_settings: Settings, corpus_copy: Path, tmp_path: Path
) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    note = tmp_path / "late-note.txt"
    note.write_text("The depot at Harrow Quay handles grain.", encoding="utf-8")
    real_embed = engine.embedder.embed_documents_array
    interrupted = []

    def embed_while_another_commits(texts: list[str]):  # the first ingest's embedding is where the other commits
        if not interrupted:
            interrupted.append(True)
            Engine(fresh_settings, auto_demo=False).ingest([note])
        return real_embed(texts)

    engine.embedder.embed_documents_array = embed_while_another_commits  # type: ignore[method-assign]
    report = engine.ingest([corpus_copy])
    documents = engine.snapshot().documents
    assert "late-note" in documents and PRIORITIES in documents and len(report.added) == 5
    assert {c.doc_id for c in engine.snapshot().chunks} == set(documents)
    assert engine.search("Which depot handles grain?", k=1)[0].doc_id == "late-note"


def test_a_full_disk_is_one_clear_error_and_leaves_the_index_as_it_was(
    fresh_settings: Settings, corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    engine.ingest([corpus_copy])
    before = set(engine.snapshot().documents)
    write = store_module._write_generation

    def disk_full_midway(folder: Path, snapshot: object) -> None:
        write(folder, snapshot)  # most of it lands, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "_write_generation", disk_full_midway)
    note = tmp_path / "note.txt"
    note.write_text("A note that will not fit.", encoding="utf-8")
    with pytest.raises(IndexWriteFailed, match="No space left on device; nothing changed") as failure:
        engine.ingest([note])
    assert "\n" not in str(failure.value)
    assert not list(fresh_settings.index_dir.glob(".gen-*"))
    assert set(Engine(fresh_settings, auto_demo=False).snapshot().documents) == before
