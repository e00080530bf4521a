"""The Milvus store: one row per chunk in one Milvus collection, for an index past one machine.

A row holds the chunk (its span, its text), its document's fields, a dense vector and a sparse
BM25 vector that Milvus's own BM25 function makes from the `lexical` text, so both searches run
in Milvus. Documents have no rows of their own: the row of a document's first chunk (`seq` 0)
stands for it, and each row carries the stretch of the document's text from its chunk's start to
the next chunk's (`piece`), so the pieces in order give back the whole text.

The collection is reached through an alias (`milvus_collection`) and carries the embedder's
identity and a version in its properties. A write deletes and inserts whole documents (a reader
may miss a document being replaced for that moment); a write that keeps none of the stored
documents fills a new collection and moves the alias, so readers switch at once. With
milvus-lite (a `*.db` path) it all runs in this process.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import numpy as np

from index.base import (
    DocumentInfo,
    Filter,
    Hit,
    Indexed,
    StoreInfo,
    StoreUnavailable,
    WriteLock,
    check_embedder,
    lexical_text,
    normalise_title,
)
from index.lexical import STOPWORDS
from index.records import Chunk, Document

EMBEDDER = "rag.embedder"  # collection properties: the embedder's identity ...
VERSION = "rag.version"  # ... and a number every write raises
MAX_CHARS = 65_535  # Milvus's longest VARCHAR
INSERT_BATCH = 500
# Milvus's standard tokenizer, lower-cased, without the English and German stop words the local BM25 drops
ANALYZER = {"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": sorted(STOPWORDS)}]}
DOCUMENT_FIELDS = ["doc_id", "title", "source", "origin", "lang", "content_hash", "chunks", "meta"]
HIT_FIELDS = ["chunk_id", "start", "end", "tokens", "text", *DOCUMENT_FIELDS]


P = ParamSpec("P")
R = TypeVar("R")


def _reaching(method: Callable[Concatenate[MilvusStore, P], R]) -> Callable[Concatenate[MilvusStore, P], R]:
    """Milvus's errors as `StoreUnavailable`, naming the server and what to do: a server that went
    away fails the request in flight with one line, and the client reconnects on a later call."""

    @functools.wraps(method)
    def reached(self: MilvusStore, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except self._failures as exc:
            self._loaded = ""  # a restarted server may have forgotten that the collection was loaded
            self.__dict__.pop("_client", None)  # the next call connects afresh, not after gRPC's back-off
            reason = " ".join(str(getattr(exc, "message", exc)).split())
            raise StoreUnavailable(f"Milvus at {self.uri} failed ({reason}): {self._remedy}") from exc

    return reached


class MilvusSettings(Protocol):
    """What the Milvus store reads of `rag.settings.Settings`."""

    @property
    def index_dir(self) -> Path: ...

    @property
    def milvus_uri(self) -> str: ...

    @property
    def milvus_token_env(self) -> str: ...

    @property
    def milvus_collection(self) -> str: ...


def open_milvus(settings: MilvusSettings) -> MilvusStore:
    """The `rag.stores` entry point: without `milvus_uri`, milvus-lite inside the index folder."""
    uri = settings.milvus_uri or str(settings.index_dir / "milvus.db")
    return MilvusStore(uri, settings.milvus_collection, os.environ.get(settings.milvus_token_env, ""))


class MilvusStore:
    def __init__(self, uri: str, collection: str, token: str = "", timeout: float = 10.0) -> None:
        self.uri = uri
        self.alias = collection
        self.location = f"{uri} (collection {collection!r})"
        self._token = token
        self._timeout = timeout  # seconds to wait for the server to answer at all
        self._loaded = ""  # the collection behind the alias that this process made sure is loaded
        self._failures: tuple[type[Exception], ...] = ()  # pymilvus's error, once it is imported
        # milvus-lite serves one process, so a lock file beside it serialises writers; a server's
        # writers are not serialised: each write replaces whole documents, and the last one wins.
        self._lock: AbstractContextManager[object] = (
            WriteLock(f"{uri}.write.lock", timeout=600) if self.lite else threading.Lock()
        )

    @property
    def lite(self) -> bool:
        return self.uri.endswith(".db")

    @cached_property
    def _client(self) -> Any:
        """Connected on first use, so that settings naming Milvus cost nothing until it is asked."""
        try:
            from pymilvus import MilvusClient, MilvusException
        except ImportError as exc:
            raise StoreUnavailable(
                f"vector_store = milvus needs pymilvus and milvus-lite ({exc}): "
                "pip install pymilvus milvus-lite, or set RAG_VECTOR_STORE=local"
            ) from exc
        # milvus-lite keeps no MVCC timestamps: the query iterator warns so on every use, then pages
        # with a timestamp of its own, which serves as well. (Set after the import, which resets it.)
        logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)
        # pymilvus logs each failed call with its tracebacks; the StoreUnavailable raised says it in one line.
        for chatty in ("pymilvus.decorators", "pymilvus.client.connection_manager"):
            logging.getLogger(chatty).setLevel(logging.CRITICAL)
        self._failures = (MilvusException,)
        if self.lite:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return MilvusClient(uri=self.uri, token=self._token, timeout=self._timeout, dedicated=True)
        except MilvusException as exc:
            raise StoreUnavailable(f"cannot open Milvus at {self.uri} ({exc.message}): {self._remedy}") from exc

    @property
    def _remedy(self) -> str:
        if self.lite:
            return (
                "milvus-lite serves one process at a time, so stop the other one using it, or set RAG_MILVUS_URI "
                "to a Milvus server's http://host:19530, or RAG_VECTOR_STORE=local"
            )
        return (
            "start the server, or set RAG_MILVUS_URI to a reachable http://host:19530 or to a path ending in .db "
            "for milvus-lite, or RAG_VECTOR_STORE=local; the token is read from the variable RAG_MILVUS_TOKEN_ENV names"
        )

    @_reaching
    def version(self) -> int | None:
        if not self._client.has_collection(self.alias):
            return None
        described = self._client.describe_collection(self.alias)
        if described["collection_name"] != self._loaded:
            # A collection is searchable once loaded: milvus-lite forgets that on restart.
            self._client.load_collection(self.alias)
            self._loaded = described["collection_name"]
        return int(described["properties"][VERSION])

    @_reaching
    def info(self) -> StoreInfo:
        described = self._client.describe_collection(self.alias)
        dense = next(f for f in described["fields"] if f["name"] == "dense")
        counted = self._client.query(self.alias, filter="", output_fields=["count(*)"])
        size = sum(p.stat().st_size for p in Path(self.uri).rglob("*") if p.is_file()) if self.lite else 0
        return StoreInfo(
            described["properties"][EMBEDDER],
            int(dense["params"]["dim"]),
            int(counted[0]["count(*)"]),
            "milvus-lite" if self.lite else "milvus",
            int(described["properties"][VERSION]),
            size,
        )

    @_reaching
    def documents(self) -> dict[str, DocumentInfo]:
        if self.version() is None:
            return {}
        rows = self._all(self.alias, "seq == 0", DOCUMENT_FIELDS)
        return {row["doc_id"]: _document_info(row) for row in sorted(rows, key=lambda r: r["doc_id"])}

    @_reaching
    def document(self, doc_id: str) -> Document | None:
        fields = [*DOCUMENT_FIELDS, "seq", "piece"]
        rows = sorted(
            self._client.query(self.alias, filter=f"doc_id == {_literal(doc_id)}", output_fields=fields),
            key=lambda r: r["seq"],
        )
        if not rows:
            return None
        info, text = _document_info(rows[0]), "".join(r["piece"] for r in rows)
        return Document(
            info.doc_id, info.title, info.source, info.origin, info.lang, text, info.content_hash, info.meta
        )

    @_reaching
    def chunks(self) -> list[Chunk]:
        rows = self._all(self.alias, "seq >= 0", ["chunk_id", "doc_id", "seq", "start", "end", "tokens"])
        rows.sort(key=lambda r: (r["doc_id"], r["seq"]))
        return [Chunk(r["chunk_id"], r["doc_id"], r["start"], r["end"], r["tokens"]) for r in rows]

    @_reaching
    def dense_search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        found = self._client.search(
            self.alias,
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            anns_field="dense",
            limit=k,
            filter=_expression(where),
            output_fields=HIT_FIELDS,
            search_params={"metric_type": "IP"},
        )
        return [_hit(row["entity"], row["distance"]) for row in found[0]]

    @_reaching
    def lexical_search(self, query: str, k: int, where: Filter | None = None) -> list[Hit]:
        if not query.strip():
            return []
        found = self._client.search(
            self.alias,
            data=[query],
            anns_field="sparse",
            limit=k,
            filter=_expression(where),
            output_fields=HIT_FIELDS,
            search_params={"metric_type": "BM25"},
        )
        # milvus-lite 3 reports a BM25 score as its negative (a distance); Milvus itself as the score.
        return [_hit(row["entity"], abs(row["distance"])) for row in found[0]]

    @_reaching
    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        rows = self._client.get(self.alias, ids=list(chunk_ids), output_fields=["dense"])
        return {row["chunk_id"]: np.asarray(row["dense"], dtype=np.float32) for row in rows}

    @_reaching
    def titled(self, titles: Collection[str]) -> dict[str, list[Hit]]:
        if not titles:
            return {}
        rows = self._client.query(
            self.alias,
            filter=f"seq == 0 and title_key in {_literal(sorted(titles))}",
            output_fields=HIT_FIELDS + ["title_key"],
        )
        found: dict[str, list[Hit]] = {}
        for row in sorted(rows, key=lambda r: r["doc_id"]):
            found.setdefault(row["title_key"], []).append(_hit(row, 0.0))
        return found

    @_reaching
    def text_after(self, spans: Sequence[tuple[str, int]], chars: int) -> list[str]:
        if not spans:
            return []
        wanted = " or ".join(
            f"(doc_id == {_literal(doc_id)} and piece_start < {offset + chars} and piece_end > {offset})"
            for doc_id, offset in spans
        )
        rows = self._client.query(
            self.alias, filter=wanted, output_fields=["doc_id", "piece_start", "piece_end", "piece"]
        )
        rows.sort(key=lambda r: r["piece_start"])
        out = []
        for doc_id, offset in spans:
            pieces = [
                r
                for r in rows
                if r["doc_id"] == doc_id and r["piece_start"] < offset + chars and r["piece_end"] > offset
            ]
            begin = offset - pieces[0]["piece_start"] if pieces else 0
            out.append("".join(r["piece"] for r in pieces)[begin : begin + chars])
        return out

    def lock(self) -> AbstractContextManager[object]:
        return self._lock

    @_reaching
    def write(self, embedder: str, dim: int, upserts: Sequence[Indexed], deletes: Collection[str]) -> None:
        version = self.version()
        if version is not None:
            check_embedder(self, embedder)
        gone = sorted(set(deletes) | {u.document.doc_id for u in upserts})
        rows = [row for item in upserts for row in _rows(item)]
        if version is None or not self._keeps_some(gone):  # a new collection, behind the alias once complete
            self._rebuild(embedder, dim, rows, (version or 0) + 1)
            return
        if gone:
            self._client.delete(self.alias, filter=f"doc_id in {_literal(gone)}")
        self._insert(self.alias, rows)
        self._client.alter_collection_properties(self.alias, {VERSION: str(version + 1)})

    def _keeps_some(self, gone: list[str]) -> bool:
        """Whether any stored document stays when these go."""
        others = f"seq == 0 and doc_id not in {_literal(gone)}"
        return bool(self._client.query(self.alias, filter=others, output_fields=["doc_id"], limit=1))

    def _rebuild(self, embedder: str, dim: int, rows: list[dict[str, Any]], version: int) -> None:
        client = self._client
        name = f"{self.alias}_v{version}"
        if client.has_collection(name):
            client.drop_collection(name)  # left by a writer that died before moving the alias
        client.create_collection(
            name,
            schema=_schema(client, dim),
            index_params=_index_params(client),
            properties={EMBEDDER: embedder, VERSION: str(version)},
            consistency_level="Strong",  # a search right after a write finds what it wrote
        )
        self._insert(name, rows)
        previous = (
            client.describe_collection(self.alias)["collection_name"] if client.has_collection(self.alias) else None
        )
        if previous is None:
            client.create_alias(name, self.alias)
        else:
            client.alter_alias(name, self.alias)
        # The collection before the previous one goes: a reader may still be in the previous one.
        for stale in client.list_collections():
            if stale.startswith(f"{self.alias}_v") and stale not in (name, previous):
                client.drop_collection(stale)

    def _insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        for begin in range(0, len(rows), INSERT_BATCH):
            self._client.insert(collection, rows[begin : begin + INSERT_BATCH])

    def _all(self, collection: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row matching, past the limit one query may return."""
        iterator = self._client.query_iterator(collection, batch_size=1000, filter=expression, output_fields=fields)
        rows: list[dict[str, Any]] = []
        while batch := iterator.next():
            rows += batch
        iterator.close()
        return rows


def _schema(client: Any, dim: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=MAX_CHARS)
    for name in ("doc_id", "title", "title_key", "source", "origin", "lang", "content_hash", "text", "piece"):
        schema.add_field(name, DataType.VARCHAR, max_length=MAX_CHARS)
    for name in ("seq", "start", "end", "tokens", "piece_start", "piece_end", "chunks"):
        schema.add_field(name, DataType.INT64)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("lexical", DataType.VARCHAR, max_length=MAX_CHARS, enable_analyzer=True, analyzer_params=ANALYZER)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["lexical"], output_field_names=["sparse"]
        )
    )
    return schema


def _index_params(client: Any) -> Any:
    params = client.prepare_index_params()
    params.add_index("dense", index_type="AUTOINDEX", metric_type="IP")  # the vectors are normalised: IP is cosine
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return params


def _rows(item: Indexed) -> list[dict[str, Any]]:
    doc = item.document
    piece_starts = [0] + [c.start for c in item.chunks[1:]]
    piece_ends = piece_starts[1:] + [len(doc.text)]
    return [
        {
            "chunk_id": chunk.chunk_id,
            "doc_id": doc.doc_id,
            "seq": seq,
            "start": chunk.start,
            "end": chunk.end,
            "tokens": chunk.tokens,
            "text": doc.text[chunk.start : chunk.end],
            "lexical": lexical_text(doc, chunk),
            "piece_start": piece_starts[seq],
            "piece_end": piece_ends[seq],
            "piece": doc.text[piece_starts[seq] : piece_ends[seq]],
            "title": doc.title,
            "title_key": normalise_title(doc.title),
            "source": doc.source,
            "origin": doc.origin,
            "lang": doc.lang,
            "content_hash": doc.content_hash,
            "chunks": len(item.chunks),
            "meta": doc.meta,
            "dense": np.asarray(vector, dtype=np.float32).tolist(),
        }
        for seq, (chunk, vector) in enumerate(zip(item.chunks, item.vectors, strict=True))
    ]


def _document_info(row: dict[str, Any]) -> DocumentInfo:
    return DocumentInfo(
        row["doc_id"],
        row["title"],
        row["source"],
        row["origin"],
        row["lang"],
        row["content_hash"],
        row["chunks"],
        row["meta"],
    )


def _hit(row: dict[str, Any], score: float) -> Hit:
    chunk = Chunk(row["chunk_id"], row["doc_id"], row["start"], row["end"], row["tokens"])
    return Hit(chunk, _document_info(row), row["text"], float(score))


def _expression(where: Filter | None) -> str:
    if where is None:
        return ""
    parts = []
    if where.doc_ids is not None:
        parts.append(f"doc_id in {_literal(sorted(where.doc_ids))}")
    if where.langs is not None:
        parts.append(f"lang in {_literal(sorted(where.langs))}")
    return " and ".join(parts)


def _literal(value: str | Iterable[str]) -> str:
    """A string or a list of strings as a Milvus expression literal: JSON's quoting and escapes,
    with other characters as they are (milvus-lite knows no \\u escapes)."""
    return json.dumps(value if isinstance(value, str) else list(value), ensure_ascii=False)
