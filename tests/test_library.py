"""The document library: real titles, what the index holds at a glance, example questions,
filtering and deleting, sources shown without the server's paths, and an index folder of the
user's own that the demo corpus never fills unasked."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import docx
import httpx
import pytest
from test_api import Server, running_server, serving  # tests/ is on sys.path under pytest
from test_loaders import text_pdf

from rag.answer import Answer, Citation
from rag.cli import main
from rag.engine import Engine, is_default_index
from rag.loaders import TITLE_MAX_CHARS, discover, load_file
from rag.paths import DEMO_CORPUS, PROJECT_ROOT
from rag.settings import Settings
from rag.sources import display_source
from ui.documents import (
    NO_DOCUMENTS,
    delete_document,
    document_rows,
    example_questions,
    filter_rows,
    ingest_uploads,
    library_summary,
    save_upload,
)
from ui.render import documents_html, sources_html
from ui.server import create_app

HARBOUR_RULES = (
    "[![build](https://ci.example/badge.svg)](https://ci.example)\n\n"
    "# Harbour rules\n\n"
    "Only ferries may moor at the east quay of Kestrel harbour.\n\n"
    "```sh\n# start the pump\n```\n"
)


def title_of(path: Path) -> str:
    [file], _ = discover([path])
    [document] = load_file(file)
    return document.title


def docx_bytes(title: str, *paragraphs: str) -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- titles


def test_a_markdown_document_is_titled_by_its_heading_not_a_badge_or_a_code_comment(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(HARBOUR_RULES, encoding="utf-8")
    assert title_of(path) == "Harbour rules"


def test_an_html_page_is_titled_by_its_title_or_else_its_first_heading(tmp_path: Path) -> None:
    titled = tmp_path / "a.html"
    titled.write_text("<title>Ferry timetable</title><h1>Winter</h1><p>Ferries leave at nine.</p>", encoding="utf-8")
    headed = tmp_path / "b.html"
    headed.write_text("<body><p>Menu</p><h1>Fährplan</h1><p>Fähren fahren um neun.</p></body>", encoding="utf-8")
    assert (title_of(titled), title_of(headed)) == ("Ferry timetable", "Fährplan")


def test_a_docx_is_titled_by_its_core_property(tmp_path: Path) -> None:
    path = tmp_path / "minutes.docx"
    path.write_bytes(docx_bytes("Harbour board minutes", "The board met on Monday."))
    assert title_of(path) == "Harbour board minutes"


def test_a_pdf_title_that_its_printer_made_up_is_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "memo.pdf"
    path.write_bytes(text_pdf("Dredging the east quay", title="Microsoft Word - memo.docx"))
    assert title_of(path) == "Dredging the east quay"


def test_plain_text_is_titled_by_a_short_first_line(tmp_path: Path) -> None:
    path = tmp_path / "002_159690cec7945fb9.txt"
    path.write_text("Quay opening hours\nThe east quay opens at six.\n", encoding="utf-8")
    assert title_of(path) == "Quay opening hours"


def test_a_long_first_line_gives_way_to_a_file_name_made_of_words(tmp_path: Path) -> None:
    path = tmp_path / "harbour_board-minutes.txt"
    path.write_text("The harbour board met on Monday and decided " + "many things " * 20, encoding="utf-8")
    assert title_of(path) == "harbour board minutes"


def test_without_a_name_of_words_a_long_first_line_is_cut_after_a_whole_word(tmp_path: Path) -> None:
    path = tmp_path / "0042.txt"
    path.write_text("The harbour board met on Monday and decided " + "many things " * 20, encoding="utf-8")
    title = title_of(path)
    assert len(title) <= TITLE_MAX_CHARS and title.endswith("things…")


def test_every_demo_title_is_short_and_none_is_empty() -> None:
    files, _ = discover([DEMO_CORPUS])
    titles = {file.doc_id: load_file(file)[0].title for file in files}
    assert all(0 < len(title) <= TITLE_MAX_CHARS for title in titles.values())
    assert titles["001_dddb8c3d70081b23"] == "Mark Rutte Assumes Leadership of NATO: A New Era Begins"


# --------------------------------------------------------------------------- the library


def test_document_rows_carry_title_language_chunks_and_a_source_a_reader_may_see(demo_engine: Engine) -> None:
    rows = document_rows(demo_engine)
    assert len(rows) == 5
    for row in rows:
        assert row["title"] and not row["title"].startswith(row["doc_id"])
        assert row["chunks"] > 0
        assert row["source"] == f"{row['doc_id']}.txt"
        assert datetime.fromisoformat(row["added"]).tzinfo is not None  # when it was ingested
    assert {(row["lang"], row["language"]) for row in rows} == {("en", "English"), ("de", "German")}
    assert [row["title"].casefold() for row in rows] == sorted(row["title"].casefold() for row in rows)


def test_the_summary_names_how_many_documents_in_which_languages_and_what_about(demo_engine: Engine) -> None:
    summary = library_summary(demo_engine)
    assert summary.startswith("5 documents in English and German, mostly about ")
    assert "NATO" in summary and "Rutte" in summary


def test_example_questions_ask_about_names_several_documents_share(demo_engine: Engine) -> None:
    questions = example_questions(demo_engine)
    benchmark = {
        json.loads(line)["question"]
        for path in (PROJECT_ROOT / "eval" / "datasets").glob("*/questions.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    texts = [document.text for document in demo_engine.snapshot().documents.values()]
    assert 3 <= len(questions) <= 4
    assert "What is said about NATO?" in questions
    for question in questions:
        name = question.removeprefix("What is said about ").removesuffix("?")
        assert sum(name in text for text in texts) >= 2, question
        assert question not in benchmark


def test_filtering_by_words_and_language(demo_engine: Engine) -> None:
    rows = document_rows(demo_engine)
    assert [row["lang"] for row in filter_rows(rows, lang="de")] == ["de"]
    leadership = filter_rows(rows, "LEADERSHIP nato")
    assert [row["doc_id"] for row in leadership] == ["001_dddb8c3d70081b23"]
    assert filter_rows(rows, "leadership", lang="de") == []
    assert filter_rows(rows) == rows


def test_deleting_a_document_removes_it_and_its_uploaded_file(fresh_settings: Settings) -> None:
    engine = Engine(fresh_settings, auto_demo=False)
    staged = save_upload(fresh_settings, "quay-notes.txt", io.BytesIO(b"The east quay opens at six."))
    [outcome] = ingest_uploads(engine, [("quay-notes.txt", staged)])
    stored = fresh_settings.index_dir.parent / "uploads" / "quay-notes.txt"
    assert outcome.documents == ["quay-notes"] and stored.is_file()

    assert delete_document(engine, "quay-notes")
    assert document_rows(engine) == [] and not stored.exists()
    assert not delete_document(engine, "quay-notes")


def test_the_library_shows_the_day_each_document_was_added_and_a_dash_where_the_index_kept_none(
    fresh_settings: Settings, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "quay.txt").write_text("The east quay opens at six.", encoding="utf-8")
    engine = Engine(fresh_settings, auto_demo=False)
    engine.ingest([notes])
    today = datetime.now(UTC).date().isoformat()
    assert today in documents_html(document_rows(engine), "de")
    assert ">Hinzugefügt<" in documents_html(document_rows(engine), "de")

    # An index written before dates were kept: its documents' metadata has none.
    [stored] = fresh_settings.index_dir.glob("gen-*/documents.jsonl")
    rows = [json.loads(line) for line in stored.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        del row["meta"]["added"]
    stored.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    older = Engine(fresh_settings, auto_demo=False)
    assert [row["added"] for row in document_rows(older)] == [None]
    assert "<td>–</td>" in documents_html(document_rows(older)) and today not in documents_html(document_rows(older))


def test_an_index_folder_with_nothing_in_it_is_an_empty_library(fresh_settings: Settings) -> None:
    engine = Engine(fresh_settings, auto_demo=False)  # as `rag --index ./mine serve` would serve it
    assert (document_rows(engine), library_summary(engine), example_questions(engine)) == ([], NO_DOCUMENTS, [])
    assert not delete_document(engine, "anything")
    assert not fresh_settings.index_dir.exists()


def test_a_server_on_an_empty_folder_of_ones_own_starts_with_an_empty_library(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "mine", llm_backend="extractive", feedback_path=tmp_path / "fb.jsonl")
    app = create_app(settings, Engine(settings, auto_demo=is_default_index(settings)))
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/api/documents").json() == []
        assert client.get("/sources/002_159690cec7945fb9").status_code == 404
        added = client.post(
            "/api/documents", files=[("files", ("quay.txt", b"The east quay opens at six.", "text/plain"))]
        )
        assert added.json()["files"][0]["status"] == "added", added.text
        assert [row["doc_id"] for row in client.get("/api/documents").json()] == ["quay"]


# --------------------------------------------------------------------------- no server paths


def test_a_source_is_shown_by_its_path_inside_the_folder_that_was_ingested() -> None:
    assert display_source("/srv/data/demo/003_2f.txt", "003_2f") == "003_2f.txt"
    assert display_source("/srv/data/notes/sub/a b.md", "sub/a-b") == "sub/a b.md"
    assert display_source("/var/lib/rag/uploads/notes.txt", "notes") == "notes.txt"
    assert display_source("/srv/corpus.jsonl#wiki/Berlin", "wiki/Berlin") == "corpus.jsonl#wiki/Berlin"
    assert display_source("https://example.org/a.html", "a") == "https://example.org/a.html"
    assert display_source("notes.txt", "notes") == "notes.txt"  # a display form stays as it is


def test_source_cards_show_no_server_path() -> None:
    citation = Citation(1, "notes", "Quay notes", "/var/lib/rag/uploads/notes.txt", 0, 5, "Quay.", "notes#0")
    cards = sources_html(Answer("When?", "At six [1].", [citation], [], False, 0.9, "extractive"))
    assert "notes.txt" in cards and "/uploads/" not in cards


@pytest.fixture(scope="module")
def library_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client]]:
    with (
        running_server(tmp_path_factory.mktemp("library")) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        for name, data in [
            ("harbour-rules.md", HARBOUR_RULES.encode()),
            ("board.docx", docx_bytes("Harbour board minutes", "The board meets on the first Monday of each month.")),
        ]:
            added = client.post("/api/documents", files=[("files", (name, data, "application/octet-stream"))])
            assert added.json()["files"][0]["status"] == "added", added.text
        yield server, client


def server_paths(server: Server) -> list[str]:
    """What must not reach a visitor: where the server keeps the index, uploads and the demo corpus."""
    return [str(server.settings.index_dir.parent), "/uploads/", str(DEMO_CORPUS), str(PROJECT_ROOT)]


def test_uploaded_documents_are_listed_by_their_titles_and_file_names(
    library_server: tuple[Server, httpx.Client],
) -> None:
    server, client = library_server
    listed = client.get("/api/documents")
    rows = {row["doc_id"]: row for row in listed.json()}
    assert (rows["harbour-rules"]["title"], rows["harbour-rules"]["source"]) == ("Harbour rules", "harbour-rules.md")
    assert (rows["board"]["title"], rows["board"]["source"]) == ("Harbour board minutes", "board.docx")
    assert all(datetime.fromisoformat(row["added"]) for row in rows.values())  # when each was uploaded
    assert not [path for path in server_paths(server) if path in listed.text]


def test_the_source_viewer_shows_no_server_path(library_server: tuple[Server, httpx.Client]) -> None:
    server, client = library_server
    for doc_id in ("harbour-rules", "002_159690cec7945fb9"):
        page = client.get(f"/sources/{doc_id}")
        assert page.status_code == 200
        assert not [path for path in server_paths(server) if path in page.text], doc_id
    assert "harbour-rules.md" in client.get("/sources/harbour-rules").text


def test_an_answer_names_its_sources_without_server_paths(library_server: tuple[Server, httpx.Client]) -> None:
    server, client = library_server
    answer = client.post("/api/ask", json={"question": "Who may moor at the east quay of Kestrel harbour?"}).json()
    shown = [c["source"] for c in answer["citations"]] + [p["source"] for p in answer["passages"]]
    assert "harbour-rules.md" in shown
    assert not [path for path in server_paths(server) if path in json.dumps(shown)]


# --------------------------------------------------------------------------- the demo only in the default index


@pytest.mark.parametrize("command", [["stats"], ["search", "harbour"], ["ask", "Who moors at the quay?"]])
def test_an_index_folder_of_ones_own_is_never_filled_with_the_demo(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    assert main(["--index", str(mine), *command]) != 0
    error = capsys.readouterr().err
    assert f"no index in {mine}" in error and f"rag --index {mine} ingest PATH" in error
    assert not mine.exists()


def test_only_the_default_index_is_the_demos(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert is_default_index(Settings())
    assert is_default_index(Settings(index_dir=tmp_path / "ragchat" / "index"))
    assert not is_default_index(Settings(index_dir=tmp_path / "mine"))
