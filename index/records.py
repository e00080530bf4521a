"""The values the index stores: documents and the chunks cut from them.

A chunk holds no text of its own: it is a character span of its document, so the
UI can highlight exactly what was retrieved and nothing can drift out of sync.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    doc_id: str  # stable across machines: derived from the file name or the record id
    title: str
    source: str  # what a user follows: a path or URL
    origin: str  # the file it was ingested from; re-ingesting that file replaces its documents
    lang: str  # ISO 639-1, e.g. "en", "de"; "und" when unknown
    text: str
    content_hash: str  # sha256 of text + title; unchanged hash means nothing to do
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        return cls(**data)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # f"{doc_id}#{position}"
    doc_id: str
    start: int  # character offsets into Document.text, end exclusive
    end: int
    tokens: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**data)
