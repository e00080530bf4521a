"""The documents in the index as the UI and the API show them (the library: its rows, a summary,
example questions, filtering and deleting), and uploads into it.

Uploads are copied into `<index_dir>/../uploads/` under their (sanitised) names, so
the index's origin for them is a stable path: uploading `notes.txt` again updates
that document instead of adding a second copy. An upload waits in a staging folder
until it has loaded, so one that fails never touches the version before it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from rag.claims import name_words
from rag.engine import Engine, NoIndex
from rag.generate import LANGUAGE_NAMES
from rag.ingest import IngestReport, Progress
from rag.loaders import LoadError, discover, load_file
from rag.settings import Settings
from rag.sources import display_source
from ui.i18n import language_label, listing, say

Status = Literal["added", "updated", "unchanged", "skipped"]
_UNSAFE = re.compile(r"[^\w.\- ]+")
STAGING = ".staging"  # uploads wait here until they load


@dataclass(frozen=True)
class FileOutcome:
    file: str  # the name the file was uploaded as
    status: Status
    documents: list[str] = field(default_factory=list)  # doc ids the file now stands for in the index
    reason: str = ""  # why a skipped file was skipped; what of an added one was left out

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
    """Stage an upload apart from the uploads folder: `ingest_uploads` moves it in only once it
    loads, so a file that fails never replaces the original it was meant to update."""
    staging = uploads_dir(settings) / STAGING / uuid.uuid4().hex
    staging.mkdir(parents=True)
    target = staging / safe_name(name)
    with target.open("wb") as out:
        shutil.copyfileobj(data, out)
    return target.resolve()


def ingest_uploads(
    engine: Engine, staged: list[tuple[str, Path]], progress: Progress | None = None
) -> list[FileOutcome]:
    """Ingest staged uploads (uploaded name, staged path) and say what became of each.

    All or nothing per file: one that does not load is skipped with its reason and the index
    and the stored original keep the version before it; if ingesting fails, every original
    is put back as it was."""
    folder = uploads_dir(engine.settings).resolve()
    held = _documents_by_origin(engine)
    outcomes: dict[int, FileOutcome] = {}
    ready: list[tuple[int, Path, Path]] = []  # (position, staged path, its place in the uploads folder)
    for position, (name, path) in enumerate(staged):
        target = folder / path.name
        problem = _load_problem(path, replaces=bool(held.get(str(target))))
        if problem:
            kept = " (the version uploaded before is kept)" if held.get(str(target)) else ""
            outcomes[position] = FileOutcome(name, "skipped", held.get(str(target), []), problem + kept)
        else:
            ready.append((position, path, target))
    try:
        with _moved_in([(path, target) for _, path, target in ready]):
            report = engine.ingest([target for _, _, target in ready], progress=progress) if ready else IngestReport()
    finally:
        for _, path in staged:
            shutil.rmtree(path.parent, ignore_errors=True)
    held = _documents_by_origin(engine)
    skipped = dict(report.skipped)
    for position, _, target in ready:
        name, docs = staged[position][0], held.get(str(target), [])
        records = [(where, why) for where, why in report.skipped if where.startswith(f"{target}, ")]
        note = f"added without {_bad_records(records)}" if records else ""
        if str(target) in skipped:
            outcomes[position] = FileOutcome(name, "skipped", docs, skipped[str(target)])
        elif any(d in report.added for d in docs):
            outcomes[position] = FileOutcome(name, "added", docs, note)
        elif any(d in report.updated for d in docs):
            outcomes[position] = FileOutcome(name, "updated", docs, note)
        else:
            outcomes[position] = FileOutcome(name, "unchanged", docs, note)
    return [outcomes[position] for position in range(len(staged))]


def _load_problem(path: Path, replaces: bool) -> str:
    """Why the file does not load, or "". A file that replaces an upload must load whole:
    its bad records would otherwise leave the index without a word."""
    files, problems = discover([path])
    if problems:
        return problems[0][1]
    skipped: list[tuple[str, str]] = []
    try:
        load_file(files[0], skipped)
    except LoadError as exc:
        return str(exc)
    return _bad_records(skipped) if replaces and skipped else ""


def _bad_records(skipped: list[tuple[str, str]]) -> str:
    lines = "; ".join(f"{where.rpartition(', ')[2]}: {why}" for where, why in skipped[:3])
    return f"{len(skipped)} bad record(s) ({lines}{'; …' if len(skipped) > 3 else ''})"


@contextmanager
def _moved_in(moves: list[tuple[Path, Path]]) -> Iterator[None]:
    """Staged files moved to their places; the originals they replace come back on failure."""
    backups: list[tuple[Path, Path]] = []
    try:
        for staged, target in moves:
            if target.exists():
                backup = staged.with_name(staged.name + ".previous")
                os.replace(target, backup)
                backups.append((backup, target))
            os.replace(staged, target)
        yield
    except BaseException:
        for backup, target in backups:
            os.replace(backup, target)
        raise


def _documents_by_origin(engine: Engine) -> dict[str, list[str]]:
    by_origin: dict[str, list[str]] = {}
    for doc in _documents(engine):
        by_origin.setdefault(doc.origin, []).append(doc.doc_id)
    return {origin: sorted(ids) for origin, ids in by_origin.items()}


def forget_upload(engine: Engine, settings: Settings, origin: str) -> None:
    """Delete an uploaded file once the index no longer holds any document from it."""
    path = Path(origin)
    if path.parent != uploads_dir(settings).resolve():
        return
    if not any(doc.origin == origin for doc in _documents(engine)):
        path.unlink(missing_ok=True)


def document_rows(engine: Engine) -> list[dict[str, Any]]:
    """One row per indexed document, by title: doc_id, title, source (as a reader may see it: no
    path of the server), lang (ISO code), language (its name), chunks (how many) and added (when
    this version was ingested, ISO 8601; None for a document indexed before dates were kept).
    No rows while there is no index."""
    return [
        {
            "doc_id": d.doc_id,
            "title": d.title,
            "source": display_source(d.source, d.doc_id),
            "lang": d.lang,
            "language": language_name(d.lang),
            "chunks": d.chunks,
            "added": d.added,
        }
        for d in sorted(_documents(engine), key=lambda d: (d.title.casefold(), d.doc_id))
    ]


def language_name(lang: str) -> str:
    """The English name of a language code, or the code where the answer prompts know no name."""
    return "unknown language" if lang == "und" else LANGUAGE_NAMES.get(lang, lang)


def filter_rows(rows: list[dict[str, Any]], words: str = "", lang: str = "") -> list[dict[str, Any]]:
    """The rows whose title, source or id hold every one of `words` (in any case), in the language
    `lang` ("" for any): the library's search box and language choice."""
    wanted = words.casefold().split()
    return [
        row
        for row in rows
        if (not lang or row["lang"] == lang)
        and all(w in f"{row['title']} {row['source']} {row['doc_id']}".casefold() for w in wanted)
    ]


def delete_document(engine: Engine, doc_id: str) -> bool:
    """Remove one document from the index, and its uploaded file once nothing else comes from
    it, as `DELETE /api/documents/{doc_id}` does; False when the index holds no such document."""
    document = next((d for d in _documents(engine) if d.doc_id == doc_id), None)
    if document is None:
        return False
    engine.remove([doc_id])
    forget_upload(engine, engine.settings, document.origin)
    return True


NO_DOCUMENTS = say("no_documents", "en")
TOPICS = 3  # names the summary gives
EXAMPLES = 4  # example questions offered
LEDE_CHARS = 3000  # where a document names its subject; reading only this keeps a big library quick
# One question on a name, per language; other languages are asked in English, as the UI is written.
_ASK_ABOUT = {"en": "What is said about {}?", "de": "Was steht in den Dokumenten zum Stichwort „{}“?"}
_POSSESSIVE = re.compile(r"['’]s$")


def library_summary(engine: Engine, lang: str = "en") -> str:
    """What the index holds, for the chat's first view, in the interface's language: "5 documents
    in English and German, mostly about NATO, Rutte and Ukraine." The names are those the most
    documents mention."""
    rows = document_rows(engine)
    if not rows:
        return say("no_documents", lang)
    count = say("document_count", lang) if len(rows) == 1 else say("documents_count", lang, count=len(rows))
    by_use = Counter(row["lang"] for row in rows if row["lang"] != "und")
    named = [language_label(language_name(code), lang) for code, _ in by_use.most_common()]
    languages = say("in_languages", lang, languages=listing(named, lang)) if named else ""
    names = [name for name, _ in _names(engine)[:TOPICS]]
    about = say("mostly_about", lang, names=listing(names, lang)) if names else ""
    return f"{count}{languages}{about}."


def example_questions(engine: Engine) -> list[str]:
    """Questions a newcomer can ask of this library, one on each name the most documents mention,
    in the language of most of the documents that mention it: "What is said about NATO?"."""
    return [_ASK_ABOUT.get(lang, _ASK_ABOUT["en"]).format(name) for name, lang in _names(engine)[:EXAMPLES]]


def _names(engine: Engine) -> list[tuple[str, str]]:
    # Asked on every page load and conversation switch: read the documents once per index version.
    return _names_at(engine, engine.store.version())


@functools.lru_cache(maxsize=8)
def _names_at(engine: Engine, version: object) -> list[tuple[str, str]]:
    """(name, the language of most documents that mention it), the names most documents mention
    first. Only names that at least two documents share, unless there is just one: a name one
    document of many mentions is not what the library is about. Of a German text only names that
    cannot be nouns (NATO, McKinsey) count, since German capitalises every noun."""
    documents = _documents(engine)
    mentions: Counter[str] = Counter()
    languages: defaultdict[str, Counter[str]] = defaultdict(Counter)  # of the documents mentioning a name
    for doc in documents:
        lede = _lede(engine, doc.doc_id)
        found = [_POSSESSIVE.sub("", w) for w in name_words(lede, unmistakable_only=doc.lang == "de")]
        mentions.update(found)
        for name in set(found):
            languages[name][doc.lang] += 1
    spread = {name: langs.total() for name, langs in languages.items()}
    shared = min(2, len(documents))
    ranked = sorted((n for n in spread if spread[n] >= shared), key=lambda n: (-spread[n], -mentions[n], n))
    return [(name, languages[name].most_common(1)[0][0]) for name in ranked]


def _documents(engine: Engine) -> list[Any]:
    """The indexed documents, without their text; none while there is no index (a server on a
    folder of its own). Every vector store answers this."""
    try:
        return list(engine.documents().values())
    except NoIndex:
        return []


def _lede(engine: Engine, doc_id: str) -> str:
    document = engine.document(doc_id)
    return document.text[:LEDE_CHARS] if document else ""
