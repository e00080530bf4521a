"""What the loaders promise: which files are found, what text and metadata they yield,
and that every bad file becomes a one-line LoadError instead of a crash."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import docx
import pypdf
import pytest

from rag.language import detect_language
from rag.loaders import LoadError, SourceFile, discover, load_file, supported_suffixes

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
XQUAD_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "loaders" / "xquad_sample.jsonl"
GERMAN_ARTICLE = DEMO / "000_7158970d0917ea8d.txt"


def load_one(path: Path) -> list:
    return load_file(SourceFile(path.resolve(), path.stem))


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def text_pdf(*pages: str, title: str | None = None) -> bytes:
    """A minimal valid PDF with a real text layer (Helvetica, one line per page), built by hand."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in below
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids = []
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("cp1252")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, content)
        )
        page_ids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    info = b""
    if title is not None:
        objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        info = b" /Info %d 0 R" % len(objects)

    return pdf_from_objects(objects, info)


def pdf_from_objects(objects: list[bytes], info: bytes = b"") -> bytes:
    """A PDF file of these numbered objects (1 is the catalog), with its cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


# --------------------------------------------------------------------------- demo corpus


def test_demo_corpus_is_found_in_order_with_ids_from_file_names():
    files, problems = discover([DEMO])
    assert problems == []
    assert [f.doc_id for f in files] == sorted(p.stem for p in DEMO.glob("*.txt"))
    assert files[0].doc_id == "000_7158970d0917ea8d"
    assert all(f.path.is_absolute() for f in files)


def test_demo_article_text_is_kept_exactly():
    for file in discover([DEMO])[0]:
        (doc,) = load_file(file)
        assert doc.text == file.path.read_text(encoding="utf-8")
        assert doc.origin == doc.source == str(file.path)
        assert doc.meta == {"format": "txt", "encoding": "utf-8"}


def test_german_article_detected_as_german():
    (doc,) = load_one(GERMAN_ARTICLE)
    assert doc.lang == "de"


def test_english_articles_detected_as_english():
    langs = [load_file(f)[0].lang for f in discover([DEMO])[0] if f.path != GERMAN_ARTICLE]
    assert langs == ["en"] * 4


def test_title_is_the_first_line():
    (doc,) = load_one(DEMO / "001_dddb8c3d70081b23.txt")
    assert doc.title == "Mark Rutte Assumes Leadership of NATO: A New Era Begins"


def test_content_hash_covers_title_and_text():
    (doc,) = load_one(GERMAN_ARTICLE)
    assert doc.content_hash == hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()
    assert load_one(GERMAN_ARTICLE)[0] == doc  # loading is deterministic


# --------------------------------------------------------------------------- discover


def test_discover_is_recursive_sorted_and_reports_unsupported(tmp_path):
    write(tmp_path / "b.txt", "b")
    write(tmp_path / "a.md", "a")
    write(tmp_path / "sub" / "c.html", "<p>c</p>")
    write(tmp_path / "sub" / "deeper" / "d.pdf", b"")
    write(tmp_path / "image.PNG", b"\x89PNG")
    write(tmp_path / "Makefile", "all:")
    write(tmp_path / ".hidden.txt", "hidden")
    write(tmp_path / ".git" / "HEAD.txt", "ref")
    write(tmp_path / "~$report.docx", b"lock")

    files, problems = discover([tmp_path, tmp_path / "missing.txt"])

    assert [f.doc_id for f in files] == ["a", "b", "sub/c", "sub/deeper/d"]
    assert sorted(problems) == sorted(
        [
            (str(tmp_path / "image.PNG"), "unsupported file type .png"),
            (str(tmp_path / "Makefile"), "unsupported file type (no extension)"),
            (str(tmp_path / "missing.txt"), "no such file or directory"),
        ]
    )


def test_doc_ids_are_stable_and_relative_to_the_named_root(tmp_path, monkeypatch):
    write(tmp_path / "data" / "demo" / "000_x.txt", "x")
    write(tmp_path / "data" / "demo" / "sub" / "a b.md", "a b")
    write(tmp_path / "data" / "demo" / "sub" / "Übersicht (v2).txt", "u")
    monkeypatch.chdir(tmp_path)

    relative = [f.doc_id for f in discover(["data/demo"])[0]]
    absolute = [f.doc_id for f in discover([tmp_path / "data" / "demo"])[0]]
    from_parent = [f.doc_id for f in discover(["data"])[0]]
    single = discover(["data/demo/sub/a b.md"])[0]

    assert relative == absolute == ["000_x", "sub/a-b", "sub/Ubersicht-v2"]
    assert from_parent == ["demo/000_x", "demo/sub/a-b", "demo/sub/Ubersicht-v2"]
    assert [f.doc_id for f in single] == ["a-b"]
    assert single[0].path == (tmp_path / "data" / "demo" / "sub" / "a b.md").resolve()


def test_files_that_would_share_an_id_keep_their_suffix(tmp_path):
    write(tmp_path / "notes.md", "md")
    write(tmp_path / "notes.txt", "txt")
    write(tmp_path / "other.txt", "other")
    files, _ = discover([tmp_path])
    assert [f.doc_id for f in files] == ["notes.md", "notes.txt", "other"]


def test_a_file_named_twice_is_listed_once(tmp_path):
    write(tmp_path / "a.txt", "a")
    files, problems = discover([tmp_path, tmp_path / "a.txt"])
    assert [f.doc_id for f in files] == ["a"]
    assert problems == []


# --------------------------------------------------------------------------- text and Markdown


def test_windows_line_endings_become_newlines_and_nothing_else_changes(tmp_path):
    path = write(tmp_path / "a.txt", "Title\r\n\r\n  indented,  teh typo \t\r\ntrailing   \r\n")
    (doc,) = load_one(path)
    assert doc.text == "Title\n\n  indented,  teh typo \t\ntrailing   \n"


def test_utf8_bom_is_stripped(tmp_path):
    path = write(tmp_path / "a.txt", b"\xef\xbb\xbfGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln")
    (doc,) = load_one(path)
    assert doc.text == "Grüße aus Köln"


def test_cp1252_file_is_decoded(tmp_path):
    text = "Größere Städte – „Köln“ kostet 5 €, sagte er."
    path = write(tmp_path / "a.txt", text.encode("cp1252"))
    (doc,) = load_one(path)
    assert doc.text == text
    assert doc.meta["encoding"] == "cp1252"


def test_utf16_file_with_bom_is_decoded(tmp_path):
    path = write(tmp_path / "a.txt", "Grüße aus Köln\r\n".encode("utf-16"))
    (doc,) = load_one(path)
    assert doc.text == "Grüße aus Köln\n"


def test_binary_file_is_rejected(tmp_path):
    path = write(tmp_path / "a.txt", bytes(range(256)) * 4)
    with pytest.raises(LoadError, match="^binary file, not text$"):
        load_one(path)


def test_control_characters_without_nul_are_binary_too(tmp_path):
    path = write(tmp_path / "a.md", bytes([1, 2, 3, 4, 5, 65]) * 50)
    with pytest.raises(LoadError, match="binary file"):
        load_one(path)


def test_text_in_an_unknown_encoding_is_rejected(tmp_path):
    # 0x81 and 0x8d are undefined in cp1252 and invalid as UTF-8 here.
    path = write(tmp_path / "a.txt", b"plain words \x81\x8d more words")
    with pytest.raises(LoadError, match=r"^not UTF-8 \(or cp1252\) text$"):
        load_one(path)


@pytest.mark.parametrize(
    ("name", "content"), [("a.txt", ""), ("a.txt", "   \n\t\r\n  "), ("a.pdf", ""), ("a.docx", ""), ("a.jsonl", "\n\n")]
)
def test_empty_file_is_rejected(tmp_path, name, content):
    path = write(tmp_path / name, content)
    with pytest.raises(LoadError, match="^empty document$"):
        load_one(path)


def test_markdown_keeps_its_markup_and_takes_the_heading_as_title(tmp_path):
    source = "\n# Rutte's *first* week\n\nHe met **Zelensky**.\n"
    (doc,) = load_one(write(tmp_path / "a.md", source))
    assert doc.text == source
    assert doc.title == "Rutte's *first* week"
    assert doc.meta["format"] == "md"


def test_markdown_front_matter_title_is_used(tmp_path):
    source = '---\ntitle: "NATO handover"\ndate: 2024-10-01\n---\n# Heading\nBody.\n'
    (doc,) = load_one(write(tmp_path / "a.md", source))
    assert doc.title == "NATO handover"
    assert doc.text == source


def test_long_first_line_is_cut_to_a_short_title(tmp_path):
    (doc,) = load_one(write(tmp_path / "a.txt", "word " * 100))
    assert len(doc.title) <= 120
    assert doc.title.endswith("…")


# --------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html>
<html lang="en"><head>
  <title>NATO   handover</title>
  <style>p { color: red }</style>
  <script>var secret = "SCRIPT-CONTENT";</script>
</head><body>
  <header><a href="/">Home</a></header>
  <nav><ul><li>Menu item</li></ul></nav>
  <main>
    <h1>Rutte takes office</h1>
    <p>Mark   Rutte
       became <b>Secretary</b> General.<br>He succeeded Stoltenberg.</p>
    <ul><li>Ukraine</li><li>Defence spending</li></ul>
    <script>document.write("INLINE-SCRIPT")</script>
    <noscript>Enable JavaScript</noscript>
    <table><tr><td>Born</td><td>1967</td></tr></table>
    <!-- a comment -->
  </main>
  <aside>Related stories</aside>
  <form><input name="q"><button>Search</button></form>
  <footer>Copyright</footer>
</body></html>
"""


def test_html_keeps_readable_text_and_drops_scripts_and_navigation(tmp_path):
    (doc,) = load_one(write(tmp_path / "page.html", PAGE))
    assert doc.text == (
        "Rutte takes office\n\n"
        "Mark Rutte became Secretary General.\nHe succeeded Stoltenberg.\n\n"
        "Ukraine\nDefence spending\n\n"
        "Born\n1967"
    )
    for dropped in ["SCRIPT", "color", "Menu", "Home", "Enable", "Related", "Search", "Copyright", "comment"]:
        assert dropped not in doc.text
    assert doc.title == "NATO handover"
    assert doc.lang == "en"
    assert doc.meta == {"format": "html"}


def test_html_title_falls_back_to_first_h1(tmp_path):
    (doc,) = load_one(write(tmp_path / "page.htm", "<body><h1> Die  Übergabe </h1><p>Text hier.</p></body>"))
    assert doc.title == "Die Übergabe"


def test_html_declared_charset_is_honoured(tmp_path):
    page = '<html><head><meta charset="windows-1252"></head><body><p>Größe</p></body></html>'
    (doc,) = load_one(write(tmp_path / "page.html", page.encode("cp1252")))
    assert doc.text == "Größe"


def test_html_preformatted_text_keeps_its_lines(tmp_path):
    (doc,) = load_one(write(tmp_path / "page.html", "<pre>line one\nline two</pre>"))
    assert doc.text == "line one\nline two"


def test_html_with_only_scripts_is_empty(tmp_path):
    path = write(tmp_path / "page.html", "<html><body><script>alert(1)</script><nav>x</nav></body></html>")
    with pytest.raises(LoadError, match="^empty document$"):
        load_one(path)


def test_deeply_nested_html_does_not_crash(tmp_path):
    path = write(tmp_path / "page.html", "<div>" * 5000 + "deep text" + "</div>" * 5000)
    (doc,) = load_one(path)
    assert doc.text == "deep text"


# --------------------------------------------------------------------------- PDF


def test_pdf_text_layer_is_read(tmp_path):
    path = write(tmp_path / "report.pdf", text_pdf("Rutte took office on 1 October.", "Second page (of two)."))
    (doc,) = load_one(path)
    assert doc.text == "Rutte took office on 1 October.\n\nSecond page (of two)."
    assert doc.meta == {"format": "pdf", "pages": 2}
    assert doc.title == "Rutte took office on 1 October."


def test_pdf_metadata_title_is_preferred(tmp_path):
    path = write(tmp_path / "report.pdf", text_pdf("Body text of the report.", title="Annual Report"))
    (doc,) = load_one(path)
    assert doc.title == "Annual Report"


def test_pdf_without_text_layer_is_a_load_error(tmp_path):
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as out:
        writer.write(out)
    with pytest.raises(LoadError, match=r"^PDF has no text layer \(scanned\?\)$"):
        load_one(path)


@pytest.mark.parametrize("content", [b"%PDF-1.4\nthis is not really a pdf", b"\x00\x01garbage" * 100])
def test_corrupt_pdf_is_a_load_error(tmp_path, content, caplog):
    path = write(tmp_path / "broken.pdf", content)
    with caplog.at_level(logging.WARNING), pytest.raises(LoadError, match="^corrupt PDF: ") as error:
        load_one(path)
    assert "\n" not in str(error.value)
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]  # no noise from pypdf


def test_truncated_pdf_is_a_load_error(tmp_path):
    path = write(tmp_path / "cut.pdf", text_pdf("Some text that will be cut off.")[:150])
    with pytest.raises(LoadError):
        load_one(path)


def encrypted_pdf(tmp_path, text, user_password, algorithm="RC4-128"):
    reader = pypdf.PdfReader(write(tmp_path / "plain.pdf", text_pdf(text)))
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    path = tmp_path / "encrypted.pdf"
    with path.open("wb") as out:
        writer.write(out)
    return path


def test_password_protected_pdf_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="^encrypted PDF"):
        load_one(encrypted_pdf(tmp_path, "Secret text.", user_password="pw"))


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_encrypted_only_against_editing_is_read(tmp_path, algorithm):
    (doc,) = load_one(encrypted_pdf(tmp_path, "Readable text.", user_password="", algorithm=algorithm))
    assert doc.text == "Readable text."


# --------------------------------------------------------------------------- DOCX


def test_docx_paragraphs_and_tables(tmp_path):
    document = docx.Document()
    document.add_heading("Übergabe bei der NATO", level=1)
    document.add_paragraph("Mark Rutte hat das Amt übernommen.")
    document.add_paragraph("")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Name", "Amt"
    table.cell(1, 0).text, table.cell(1, 1).text = "Rutte", "Generalsekretär"
    document.add_paragraph("Er folgt auf Jens Stoltenberg.")
    path = tmp_path / "memo.docx"
    document.save(str(path))

    (doc,) = load_one(path)

    assert doc.text == (
        "Übergabe bei der NATO\nMark Rutte hat das Amt übernommen.\n"
        "Name\nAmt\nRutte\nGeneralsekretär\nEr folgt auf Jens Stoltenberg."
    )
    assert doc.title == "Übergabe bei der NATO"
    assert doc.lang == "de"
    assert doc.meta == {"format": "docx"}


def test_docx_core_title_and_merged_cells(tmp_path):
    document = docx.Document()
    document.core_properties.title = "Memo title"
    document.add_paragraph("Body paragraph.")
    table = document.add_table(rows=1, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "merged"
    table.cell(0, 2).text = "single"
    path = tmp_path / "memo.docx"
    document.save(str(path))

    (doc,) = load_one(path)

    assert doc.title == "Memo title"
    assert doc.text == "Body paragraph.\nmerged\nsingle"


def test_corrupt_docx_is_a_load_error(tmp_path):
    path = write(tmp_path / "memo.docx", b"PK\x03\x04 not really a zip")
    with pytest.raises(LoadError, match="^corrupt DOCX: "):
        load_one(path)


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_benchmark_records_keep_their_ids(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(XQUAD_SAMPLE.read_bytes())
    records = [json.loads(line) for line in XQUAD_SAMPLE.read_text(encoding="utf-8").splitlines()]

    docs = load_one(path)

    assert [d.doc_id for d in docs] == [r["id"] for r in records]
    assert [d.text for d in docs] == [r["text"] for r in records]
    assert [d.title for d in docs] == [r["title"] for r in records]
    assert [d.source for d in docs] == [r["source"] for r in records]
    assert [d.lang for d in docs] == ["en", "en", "de"]
    assert {d.origin for d in docs} == {str(path.resolve())}
    assert [d.meta for d in docs] == [{"format": "jsonl", "line": n} for n in (1, 2, 3)]


def test_jsonl_record_without_source_or_lang_gets_defaults(tmp_path):
    path = write(tmp_path / "c.jsonl", json.dumps({"id": "r1", "text": "Das ist ein deutscher Satz über die NATO."}))
    (doc,) = load_one(path)
    assert doc.source == f"{path.resolve()}#r1"
    assert doc.lang == "de"
    assert doc.title == "Das ist ein deutscher Satz über die NATO."


def test_jsonl_bad_lines_are_skipped_and_reported(tmp_path):
    lines = [
        json.dumps({"id": "ok-1", "text": "First good record."}),
        "{not json",
        json.dumps({"id": "no-text"}),
        json.dumps({"text": "no id"}),
        "",
        json.dumps({"id": "ok-1", "text": "Duplicate id."}),
        json.dumps({"id": 7, "text": "Numeric ids are fine."}),
    ]
    path = write(tmp_path / "c.jsonl", "\n".join(lines))
    skipped: list[tuple[str, str]] = []
    docs = load_file(SourceFile(path.resolve(), path.stem), skipped)
    assert [d.doc_id for d in docs] == ["ok-1", "7"]
    assert [where.rpartition(", ")[2] for where, _ in skipped] == ["line 2", "line 3", "line 4", "line 6"]
    assert skipped[0][1].startswith("invalid JSON") and skipped[3][1] == "duplicate id 'ok-1'"


def test_jsonl_without_any_valid_record_is_a_load_error(tmp_path):
    path = write(tmp_path / "c.jsonl", '{"title": "no id, no text"}\n[1, 2]\n')
    with pytest.raises(LoadError, match=r"^no valid records \(line 1: missing 'id'\)$"):
        load_one(path)


# --------------------------------------------------------------------------- misc


def test_unsupported_suffix_is_a_load_error(tmp_path):
    path = write(tmp_path / "a.xyz", "text")
    with pytest.raises(LoadError, match=r"^unsupported file type \.xyz$"):
        load_one(path)


def test_every_supported_suffix_has_a_reader(tmp_path):
    samples = {
        ".txt": b"Plain text.",
        ".md": b"# Markdown",
        ".html": b"<p>HTML</p>",
        ".htm": b"<p>HTM</p>",
        ".pdf": text_pdf("PDF text."),
        ".jsonl": b'{"id": "x", "text": "JSONL"}',
    }
    document = docx.Document()
    document.add_paragraph("DOCX")
    document.save(str(tmp_path / "sample.docx"))
    for suffix, content in samples.items():
        write(tmp_path / f"sample{suffix}", content)
    files, problems = discover([tmp_path])
    assert problems == []
    assert {f.path.suffix for f in files} == supported_suffixes()
    assert all(load_file(f) for f in files)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Die Bundesregierung hat am Mittwoch neue Maßnahmen beschlossen.", "de"),
        ("The government announced new measures on Wednesday.", "en"),
        ("Rutte", "und"),
        ("", "und"),
        ("12345 67890 ... 2024-10-01", "und"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang
