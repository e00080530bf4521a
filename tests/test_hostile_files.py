"""Files built to hurt the ingest: each is refused or skipped with a one-line reason, or loads,
in bounded time and memory, and never stops the other files from loading."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import docx
import pytest
from test_loaders import pdf_from_objects  # tests/ is on sys.path under pytest

from rag.loaders import LoadError, SourceFile, discover, load_file

MB = 1024 * 1024


def load_one(path: Path) -> list:
    return load_file(SourceFile(path.resolve(), path.stem))


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def assert_valid_unicode(docs: list) -> None:
    for doc in docs:
        for value in (doc.doc_id, doc.title, doc.text, doc.source, doc.origin, doc.lang):
            value.encode("utf-8")


# --------------------------------------------------------------------------- lone surrogates


def test_jsonl_records_with_lone_surrogates_are_skipped_and_the_others_load(tmp_path):
    lines = [
        json.dumps({"id": "ok-1", "text": "First good record."}),
        '{"id": "bad-text", "text": "broken \\udc80 text"}',
        '{"id": "bad-title", "title": "\\ud800", "text": "Fine text, broken title."}',
        '{"id": "\\udfff", "text": "Fine text, broken id."}',
        json.dumps({"id": "ok-2", "text": "Second good record, with a real pair: \U0001f600"}),
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(lines))

    skipped: list[tuple[str, str]] = []
    docs = load_file(SourceFile(path.resolve(), path.stem), skipped)

    assert [d.doc_id for d in docs] == ["ok-1", "ok-2"]
    assert docs[1].text.endswith("\U0001f600")
    assert_valid_unicode(docs)
    assert [(where.rpartition(", ")[2], why) for where, why in skipped] == [
        ("line 2", "lone surrogate in 'text' (invalid Unicode)"),
        ("line 3", "lone surrogate in 'title' (invalid Unicode)"),
        ("line 4", "lone surrogate in 'id' (invalid Unicode)"),
    ]


def test_jsonl_with_only_lone_surrogate_records_is_a_load_error(tmp_path):
    path = write(tmp_path / "corpus.jsonl", '{"id": "a", "text": "\\udc80"}\n')
    with pytest.raises(LoadError, match=r"^no valid records \(line 1: lone surrogate in 'text' \(invalid Unicode\)\)$"):
        load_one(path)


@pytest.mark.parametrize(
    ("charset", "body"),
    [("utf-7", "a +3IA- b"), ("unicode_escape", "a \\udc80 b"), ("raw_unicode_escape", "a \\udc80 b")],
)
def test_html_declared_charset_cannot_smuggle_in_a_lone_surrogate(tmp_path, charset, body):
    path = write(tmp_path / "page.html", f'<meta charset="{charset}"><p>{body}</p>')
    (doc,) = load_one(path)
    assert doc.text == body  # read as UTF-8 instead
    assert_valid_unicode([doc])


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfeA\x00\x80\xdcB\x00",  # UTF-16 with a lone low surrogate
        b"\xff\xfeA\x00\x00\xd8B\x00",  # UTF-16 with a lone high surrogate
        b"A \xed\xb2\x80 B",  # a surrogate encoded as UTF-8 bytes (CESU-8)
    ],
)
@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_text_decoding_never_yields_a_lone_surrogate(tmp_path, content, suffix):
    path = write(tmp_path / f"file{suffix}", content)
    try:
        docs = load_one(path)
    except LoadError:
        return
    assert_valid_unicode(docs)


def pdf_with_glyph_mapped_to(utf16_hex: bytes) -> bytes:
    """A one-page PDF whose font's ToUnicode map sends "A" to the UTF-16 code units given."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def "
        b"1 begincodespacerange <00> <FF> endcodespacerange "
        b"1 beginbfchar <41> <" + utf16_hex + b"> endbfchar "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    content = b"BT /F1 12 Tf 72 720 Td (A great deal of text) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap),
    ]
    return pdf_from_objects(objects)


def test_pdf_whose_glyph_map_yields_a_lone_surrogate_is_a_load_error(tmp_path):
    good = write(tmp_path / "good.pdf", pdf_with_glyph_mapped_to(b"0041"))
    bad = write(tmp_path / "bad.pdf", pdf_with_glyph_mapped_to(b"DC80"))

    (doc,) = load_one(good)
    assert doc.text == "A great deal of text"
    with pytest.raises(LoadError, match=r"^text holds a lone surrogate \(invalid Unicode\)$"):
        load_one(bad)


def test_file_whose_path_is_not_utf8_is_skipped_with_a_reason(tmp_path):
    write(tmp_path / "good.txt", "good")
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")  # Latin-1, as an old archive may hold
    try:
        with open(name, "wb") as f:
            f.write(b"latin-1 name")
    except OSError:
        pytest.skip("this file system only takes UTF-8 names")

    files, problems = discover([tmp_path])

    assert [f.doc_id for f in files] == ["good"]
    assert problems == [(os.fsdecode(name), "path is not valid UTF-8")]


# --------------------------------------------------------------------------- DOCX zip bombs


def padded_docx(padding: int, method: int = zipfile.ZIP_DEFLATED) -> tuple[bytes, bytes]:
    """A valid DOCX whose word/document.xml ends in `padding` spaces (legal after the root
    element, and deflated about 1000:1), and the document.xml without them."""
    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Body text.")
    document.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename != "word/document.xml":
                target.writestr(info.filename, content)
                continue
            xml = content
            packed = zipfile.ZipInfo(info.filename)
            packed.compress_type = method
            with target.open(packed, "w") as part:
                part.write(content)
                for _ in range(padding // MB):
                    part.write(b" " * MB)
    return out.getvalue(), xml


def declaring(data: bytes, name: str, size: int, crc: int) -> bytes:
    """The zip `data` with the size and CRC it records for part `name` replaced: a zip that lies."""
    out = bytearray(data)
    local = zipfile.ZipFile(io.BytesIO(data)).getinfo(name).header_offset
    central = out.rindex(name.encode()) - 46  # the central directory comes last
    assert out[central : central + 4] == b"PK\x01\x02"
    for header, crc_at in ((local, 14), (central, 16)):
        struct.pack_into("<I", out, header + crc_at, crc)
        struct.pack_into("<I", out, header + crc_at + 8, size)  # uncompressed size
    return bytes(out)


def peak_memory(action: Callable[[], object]) -> int:
    """The most memory Python held while action ran, in bytes."""
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_docx_zip_bomb_is_refused_quickly_with_the_limit(tmp_path):
    data, _ = padded_docx(60 * MB)
    assert len(data) < MB
    path = write(tmp_path / "bomb.docx", data)

    def refuse() -> None:
        with pytest.raises(LoadError, match=r"^DOCX would unpack to \d+ MB more than its size, over the 50 MB limit"):
            load_one(path)

    start = time.perf_counter()
    assert peak_memory(refuse) < 10 * MB
    assert time.perf_counter() - start < 2


def test_docx_part_packed_absurdly_tight_is_refused(tmp_path):
    data, _ = padded_docx(10 * MB)  # within the size limit, but no real part packs 1000:1
    path = write(tmp_path / "tight.docx", data)
    with pytest.raises(LoadError, match=r"^DOCX part word/document\.xml is compressed \d+:1, over the 100:1 limit"):
        load_one(path)


@pytest.mark.parametrize("crc_over", ["declared bytes", "one byte more"])
def test_docx_part_that_holds_more_than_it_declares_is_refused_without_unpacking_it(tmp_path, crc_over):
    # Declared sizes pass every check; unpatched, python-docx would inflate all 60 MB to get
    # at the declared few KB, and load them.
    data, xml = padded_docx(60 * MB)
    crc = zlib.crc32(xml if crc_over == "declared bytes" else xml + b" ")
    path = write(tmp_path / "liar.docx", declaring(data, "word/document.xml", len(xml), crc))

    def refuse() -> None:
        with pytest.raises(LoadError, match=r"unpacks to more than its declared size|Bad CRC-32"):
            load_one(path)

    assert peak_memory(refuse) < 10 * MB


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_docx_part_in_a_compression_word_never_writes_is_refused_without_unpacking_it(tmp_path, method):
    # zipfile inflates these in one go, so even a bounded read would unpack all 20 MB at once.
    data, xml = padded_docx(20 * MB, method)
    path = write(tmp_path / "odd.docx", declaring(data, "word/document.xml", len(xml), zlib.crc32(xml)))

    def refuse() -> None:
        message = rf"^DOCX part word/document\.xml uses compression method {method}, which Word never writes$"
        with pytest.raises(LoadError, match=message):
            load_one(path)

    assert peak_memory(refuse) < 10 * MB


def test_docx_with_large_media_still_loads(tmp_path):
    # Media are stored, not packed: a DOCX may be big without unpacking to much more.
    path = tmp_path / "report.docx"
    document = docx.Document()
    document.add_paragraph("Photo report.")
    document.save(str(path))
    noise = os.urandom(MB)
    with zipfile.ZipFile(path, "a") as archive, archive.open("word/media/video.bin", "w") as part:
        for _ in range(55):
            part.write(noise)  # stored: ZipFile's default

    (doc,) = load_one(path)

    assert doc.text == "Photo report."


# --------------------------------------------------------------------------- deep HTML


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


NESTINGS: dict[str, Callable[[int], str]] = {
    "closed divs": lambda n: "<div>" * n + "text" + "</div>" * n,
    "unclosed divs": lambda n: "<div>" * n + "text",
    "spans and stray end tags": lambda n: "<span>" * n + "text" + "</x>" * n,
    "end tags inside comments": lambda n: "<div><!--</div>-->" * n + "text",
    "end tags inside attribute values": lambda n: '<div title="</div>">' * n + "text",
    "end tags inside scripts": lambda n: "<div><script></div></script>" * n + "text",
    "end tags the parser ignores": lambda n: "<x><div></x>" * n + "text",
}


@pytest.mark.parametrize("nesting", NESTINGS.values(), ids=NESTINGS.keys())
def test_deep_html_nesting_costs_linear_time(tmp_path, nesting):
    shallow = write(tmp_path / "shallow.html", nesting(5_000))
    deep = write(tmp_path / "deep.html", nesting(50_000))
    load_one(shallow)  # warm up

    shallow_seconds = min(seconds(lambda: load_one(shallow)) for _ in range(2))
    deep_seconds = seconds(lambda: load_one(deep))

    assert deep_seconds < 20 * shallow_seconds + 1.0
    (doc,) = load_one(deep)
    assert doc.text.endswith("text")


# --------------------------------------------------------------------------- links and special files


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fails a test that blocks, as opening a FIFO does, instead of hanging the run."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("blocked: did something open a FIFO?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_discover_skips_links_out_of_the_folder_broken_links_and_special_files(tmp_path, monkeypatch, deadline):
    root = tmp_path / "shared"
    write(root / "good.txt", "good")
    inner = write(root / "sub" / "inner.txt", "inner")
    secret = write(tmp_path / "private" / "secret.txt", "secret")
    (root / "inside.txt").symlink_to(Path("sub", "inner.txt"))
    (root / "passwd.txt").symlink_to(secret)
    (root / "private").symlink_to(secret.parent, target_is_directory=True)
    (root / "itself").symlink_to(root, target_is_directory=True)  # inside: not walked, so no loop
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    os.mkfifo(root / "fifo.txt")
    (root / "to-fifo.txt").symlink_to(root / "fifo.txt")
    monkeypatch.chdir(root)  # a socket address is short: bind a relative name
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("socket.txt")
        files, problems = discover([root, root / "fifo.txt"])

    assert [f.path for f in files] == [(root / "good.txt").resolve(), inner.resolve()]
    assert sorted(problems) == sorted(
        [
            (str(root / "dangling.txt"), "broken symlink: No such file or directory"),
            (str(root / "loop.txt"), "broken symlink: Too many levels of symbolic links"),
            (str(root / "passwd.txt"), f"symlink to {secret.resolve()}, outside the folder"),
            (str(root / "private"), f"symlink to {secret.parent.resolve()}, outside the folder"),
            (str(root / "fifo.txt"), "not a regular file"),
            (str(root / "to-fifo.txt"), "not a regular file"),
            (str(root / "socket.txt"), "not a regular file"),
            (str(root / "fifo.txt"), "not a regular file"),  # named explicitly
        ]
    )
    assert [d.text for f in files for d in load_file(f)] == ["good", "inner"]
