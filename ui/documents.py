"""The documents in the index as the UI and the API show them, and uploads into it.

Uploads are copied into `<index_dir>/../uploads/` under their (sanitised) names, so
the index's origin for them is a stable path: uploading `notes.txt` again updates
that document instead of adding a second copy.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from rag.engine import Engine
from rag.ingest import Progress
from rag.settings import Settings

Status = Literal["added", "updated", "unchanged", "skipped"]
_UNSAFE = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class FileOutcome:
    file: str  # the name the file was uploaded as
    status: Status
    documents: list[str] = field(default_factory=list)  # doc ids the file now stands for in the index
    reason: str = ""  # why a skipped file was skipped

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def uploads_dir(settings: Settings) -> Path:
    return settings.index_dir.parent / "uploads"


def safe_name(name: str) -> str:
    """A file name that stays inside the uploads folder whatever the client sent."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    return cleaned or "upload"


def save_upload(settings: Settings, name: str, data: BinaryIO) -> Path:
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_name(name)
    with target.open("wb") as out:
        shutil.copyfileobj(data, out)
    return target.resolve()


def ingest_uploads(engine: Engine, saved: list[tuple[str, Path]], progress: Progress | None = None) -> list[FileOutcome]:
    """Ingest saved uploads (uploaded name, saved path) and say what became of each."""
    report = engine.ingest([path for _, path in saved], progress=progress)
    skipped = {str(Path(path).resolve()): reason for path, reason in report.skipped}
    by_origin: dict[str, list[str]] = {}
    for doc in engine.snapshot().documents.values():
        by_origin.setdefault(doc.origin, []).append(doc.doc_id)
    outcomes = []
    for name, path in saved:
        docs = sorted(by_origin.get(str(path), []))
        if str(path) in skipped:
            outcomes.append(FileOutcome(name, "skipped", docs, skipped[str(path)]))
            if not docs:
                path.unlink(missing_ok=True)  # keep the uploads folder to what the index holds
        elif any(d in report.added for d in docs):
            outcomes.append(FileOutcome(name, "added", docs))
        elif any(d in report.updated for d in docs):
            outcomes.append(FileOutcome(name, "updated", docs))
        else:
            outcomes.append(FileOutcome(name, "unchanged", docs))
    return outcomes


def forget_upload(engine: Engine, settings: Settings, origin: str) -> None:
    """Delete an uploaded file once the index no longer holds any document from it."""
    path = Path(origin)
    if path.parent != uploads_dir(settings).resolve():
        return
    if not any(doc.origin == origin for doc in engine.snapshot().documents.values()):
        path.unlink(missing_ok=True)


def document_rows(engine: Engine) -> list[dict[str, Any]]:
    """One row per indexed document: doc_id, title, source, lang and its number of chunks."""
    snapshot = engine.snapshot()
    chunks = Counter(chunk.doc_id for chunk in snapshot.chunks)
    return [
        {"doc_id": d.doc_id, "title": d.title, "source": d.source, "lang": d.lang, "chunks": chunks[d.doc_id]}
        for d in sorted(snapshot.documents.values(), key=lambda d: d.doc_id)
    ]
