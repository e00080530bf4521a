"""A plugin package adds an LLM backend, an embedder, a loader and a vector store without touching
the project.

The package is written by the test: one module and the `*.dist-info` folder with the
`entry_points.txt` that `pip install` would write for its pyproject entries, found on
sys.path as an installed distribution would be.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import registry
from rag.backends import choices, describe
from rag.embedders import load_embedder
from rag.engine import Engine
from rag.loaders import SourceFile, load_file, supported_suffixes
from rag.models import smollm2_path
from rag.settings import Settings
from ui.api import AskRequest

PLUGIN = '''
import hashlib
import re
import threading

import numpy as np

from index.base import DocumentInfo, Hit, StoreInfo, normalise_title, searchable_text
from index.lexical import tokenize
from rag.backends import Backend
from rag.embedders import Embedder
from rag.llms import LlamaCppChat


def smol_chat(settings):
    return LlamaCppChat(model_path=SMOL, n_ctx=2048, n_threads=1, max_tokens=48, temperature=0.0)


SMOL_BACKEND = Backend("smol", describe=lambda settings: "smol:SmolLM2-135M", chat_model=smol_chat)


class HashingEmbedder(Embedder):
    """Words hashed into 256 buckets: crude, but a real embedder of its own."""

    def __init__(self, buckets="256"):
        self.dim = int(buckets)
        self.identity = f"hashing-{self.dim}"

    def embed_documents_array(self, texts):
        vectors = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def read_csv(data):
    rows = [line.split(",") for line in data.decode("utf-8").splitlines() if line.strip()]
    header, records = rows[0], rows[1:]
    text = "\\n\\n".join(". ".join(f"{h.strip()}: {v.strip()}" for h, v in zip(header, r)) + "." for r in records)
    return "", text, {"format": "csv"}


class MemoryStore:
    """The `VectorStore` protocol done plainly: each document kept as ingest hands it over (an
    `Indexed`: the document, its chunks, a vector per chunk) and every search a scan of them all.
    A write swaps in a new dict, so a reader in another thread sees the store before or after it."""

    def __init__(self, location):
        self.location = location
        self._indexed = {}  # doc id -> the Indexed last written for it
        self._embedder, self._dim, self._version = "", 0, None
        self._lock = threading.Lock()

    def version(self):
        return self._version

    def info(self):
        chunks = sum(len(i.chunks) for i in self._indexed.values())
        return StoreInfo(self._embedder, self._dim, chunks, "memory", self._version, 0)

    def documents(self):
        return {doc_id: DocumentInfo.of(i.document, len(i.chunks)) for doc_id, i in self._indexed.items()}

    def document(self, doc_id):
        indexed = self._indexed.get(doc_id)
        return indexed.document if indexed else None

    def chunks(self):
        return [chunk for i in self._indexed.values() for chunk in i.chunks]

    def _rows(self, where):
        """(indexed, row) for every chunk of the documents the filter admits."""
        return [
            (i, row)
            for i in self._indexed.values()
            if where is None or where.admits(DocumentInfo.of(i.document, len(i.chunks)))
            for row in range(len(i.chunks))
        ]

    def _hit(self, indexed, row, score):
        chunk = indexed.chunks[row]
        document = DocumentInfo.of(indexed.document, len(indexed.chunks))
        return Hit(chunk, document, indexed.document.text[chunk.start : chunk.end], score)

    def _best(self, scored, k):
        best = sorted(scored, key=lambda s: -s[2])[:k]
        return [self._hit(indexed, row, score) for indexed, row, score in best]

    def dense_search(self, vector, k, where=None):
        """Inner product, which is the cosine: embedders give unit vectors."""
        return self._best([(i, row, float(i.vectors[row] @ vector)) for i, row in self._rows(where)], k)

    def lexical_search(self, query, k, where=None):
        """Not BM25 but its simplest stand-in: how many of the query's words a chunk (under its
        title) has, stop words aside as BM25's `tokenize` leaves them."""
        asked = set(tokenize(query))
        scored = []
        for i, row in self._rows(where):
            shared = len(asked.intersection(tokenize(searchable_text(i.document, i.chunks[row]))))
            if shared:
                scored.append((i, row, float(shared)))
        return self._best(scored, k)

    def vectors(self, chunk_ids):
        stored = {i.chunks[row].chunk_id: i.vectors[row] for i, row in self._rows(None)}
        return {chunk_id: stored[chunk_id] for chunk_id in chunk_ids if chunk_id in stored}

    def titled(self, titles):
        found = {}
        for i in self._indexed.values():
            title = normalise_title(i.document.title)
            if title in titles and i.chunks:
                found.setdefault(title, []).append(self._hit(i, 0, 0.0))
        return found

    def text_after(self, spans, chars):
        return [self._indexed[doc_id].document.text[offset : offset + chars] for doc_id, offset in spans]

    def lock(self):
        return self._lock

    def write(self, embedder, dim, upserts, deletes):
        indexed = {doc_id: i for doc_id, i in self._indexed.items() if doc_id not in deletes}
        indexed.update((u.document.doc_id, u) for u in upserts)  # an upsert replaces all a document's chunks
        self._embedder, self._dim, self._indexed = embedder, dim, indexed
        self._version = (self._version or 0) + 1


MEMORY_STORES = {}  # index folder -> its store


def open_memory(settings):
    """An Engine opens its store once, when it is made; this one lives in the process's memory,
    so every Engine made on the same index folder must be handed the same store."""
    return MEMORY_STORES.setdefault(str(settings.index_dir), MemoryStore(f"{settings.index_dir} (in memory)"))
'''

ENTRY_POINTS = """
[rag.llm_backends]
smol = example_plugin:SMOL_BACKEND

[rag.embedders]
hashing = example_plugin:HashingEmbedder

[rag.loaders]
csv = example_plugin:read_csv

[rag.stores]
memory = example_plugin:open_memory
"""


@pytest.fixture()
def plugin(tmp_path: Path) -> Iterator[None]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "example_plugin.py").write_text(f"SMOL = {str(smollm2_path())!r}\n" + PLUGIN, encoding="utf-8")
    info = site / "example_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    sys.path.insert(0, str(site))
    registry.refresh()
    yield
    sys.path.remove(str(site))
    sys.modules.pop("example_plugin", None)
    registry.refresh()


def test_a_plugin_backend_is_a_choice_everywhere_and_answers_through_the_whole_chain(
    plugin: None, tmp_path: Path, demo_engine: Engine
) -> None:
    assert "smol" in choices()
    assert AskRequest(question="Who leads NATO?", backend="smol").backend == "smol"  # the API accepts it
    assert describe(demo_engine.settings, "smol") == "smol:SmolLM2-135M"
    answer = demo_engine.ask("What are Rutte's three priorities?", backend="smol")
    assert answer.backend == "smol:SmolLM2-135M" and answer.raw_reply  # the plugin's model wrote the reply
    assert "generate" in answer.timings


def test_a_plugin_embedder_indexes_and_finds_documents(plugin: None, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "depot.txt").write_text("The Harwick signal depot stores field radios and spare antennas.\n")
    (notes / "bakery.txt").write_text("The Kestrel bakery cooperative bakes rye bread every morning.\n")
    settings = Settings(index_dir=tmp_path / "index", embedder="hashing:128", llm_backend="extractive")
    assert load_embedder("hashing:128").dim == 128
    engine = Engine(settings, auto_demo=False)
    engine.ingest([notes])
    found = engine.search("Which depot stores field radios?", k=1)
    assert found[0].doc_id == "depot"


def test_a_plugin_loader_reads_a_new_file_type(plugin: None, tmp_path: Path) -> None:
    assert ".csv" in supported_suffixes()
    table = tmp_path / "depots.csv"
    table.write_text("depot,stores\nHarwick,field radios\nOstby,spare antennas\n", encoding="utf-8")
    [document] = load_file(SourceFile(table, "depots"))
    assert "depot: Harwick. stores: field radios." in document.text and document.meta["format"] == "csv"


def test_a_plugin_store_holds_what_ingest_writes_and_serves_search_answers_filters_and_removal(
    plugin: None, tmp_path: Path
) -> None:
    assert "memory" in registry.names(registry.STORES)
    notes = tmp_path / "notes"
    notes.mkdir()
    depot = "The Harwick signal depot stores field radios and spare antennas."
    (notes / "depot.txt").write_text(depot + "\n", encoding="utf-8")
    (notes / "bakery.txt").write_text("The Kestrel bakery cooperative bakes rye bread every morning.\n")
    settings = Settings(index_dir=tmp_path / "index", vector_store="memory", llm_backend="extractive")
    engine = Engine(settings, auto_demo=False)

    assert engine.ingest([notes]).added == ["bakery", "depot"]

    assert set(Engine(settings, auto_demo=False).documents()) == {"bakery", "depot"}  # one store per index folder
    assert engine.stats().vector_index == "memory" and engine.stats().chunks == 2
    [found] = engine.search("Which depot stores field radios?", k=1)
    assert (found.doc_id, found.text) == ("depot", depot)
    answer = engine.ask("What does the Harwick signal depot store?")
    assert not answer.refused and answer.citations and "[1]" in answer.answer
    assert all(c.doc_id == "depot" and c.quote in depot for c in answer.citations)
    assert {p.doc_id for p in engine.search("Which depot stores field radios?", doc_ids=["bakery"])} == {"bakery"}
    assert engine.search("field radios", langs=["de"]) == []

    assert engine.remove(["depot"]) == ["depot"]
    assert {p.doc_id for p in engine.search("Which depot stores field radios?")} == {"bakery"}
    assert engine.document("depot") is None and list(engine.documents()) == ["bakery"]


def test_without_the_plugin_its_names_are_unknown_and_say_what_is_known() -> None:
    assert "smol" not in choices() and ".csv" not in supported_suffixes()
    assert "memory" not in registry.names(registry.STORES)
    with pytest.raises(ValueError, match="unknown backend 'smol': choose one of extractive, local, openai"):
        describe(Settings(), "smol")
