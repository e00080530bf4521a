"""Turn files on disk into Documents: find them, decode them, extract readable text.

Every problem with one file becomes a LoadError carrying a one-line reason, so an
ingest of a thousand files reports the three bad ones and carries on.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import re
import string
import unicodedata
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pypdf
from docx.document import Document as DocxDocument
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from selectolax.lexbor import LexborHTMLParser, LexborNode

from index.records import Document
from rag import registry
from rag.language import detect_language

log = logging.getLogger(__name__)

# pypdf logs a warning for every malformed object it recovers from; on real-world
# PDFs that floods the ingest output with noise the user cannot act on.
logging.getLogger("pypdf").setLevel(logging.ERROR)

JSONL = ".jsonl"  # one document per record: read here, not by a registered reader

TITLE_MAX_CHARS = 80  # titles head source cards: a headline, not a paragraph

# A str that UTF-8 cannot encode, as json.loads makes from the escape "\udc80" and Python from
# a file name that is not UTF-8: the embedder's tokenizer and the index files fail on it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class LoadError(Exception):
    """A file that cannot be turned into documents; the message is a one-line reason."""


@dataclass(frozen=True)
class SourceFile:
    path: Path  # resolved absolute path
    doc_id: str  # from the path relative to the root named by the user, URL-safe


# --------------------------------------------------------------------------- discover


def discover(paths: Sequence[str | Path]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Find the files to load under `paths` and report what cannot be loaded at all.

    Folders are walked recursively in sorted order; hidden files and folders
    (`.git`, `.DS_Store`) and Office lock files (`~$x.docx`) are skipped silently;
    symlinks out of the folder, broken symlinks, FIFOs, sockets, devices and paths
    that are not UTF-8 are reported. A file named explicitly is always considered,
    hidden or not. Roots keep the order they were given in; a file reachable from two
    roots is listed once.

    doc_id is the path relative to its root without the suffix ("sub/a-b" for
    `root/sub/a b.md`), or the stem for a file named directly. When two files would
    get the same id (`a.md` and `a.txt`), each keeps its suffix ("a.md", "a.txt")
    so neither silently replaces the other in the index.

    Returns the files and (path, reason) pairs, e.g. ("x.png", "unsupported file type .png").
    """
    found: list[tuple[Path, str]] = []  # (resolved path, path relative to its root)
    problems: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            candidates = [(p, p.relative_to(root).as_posix()) for p in _walk(root, problems)]
        elif root.is_file():
            candidates = [(root, root.name)]
        elif root.exists():
            problems.append((str(raw), "not a regular file"))
            continue
        else:
            problems.append((str(raw), "no such file or directory"))
            continue
        for path, relative in candidates:
            suffix = path.suffix.lower()
            if suffix not in supported_suffixes():
                problems.append((str(path), _unsupported(suffix)))
                continue
            resolved = path.resolve()
            if _LONE_SURROGATE.search(str(resolved)):
                problems.append((str(path), "path is not valid UTF-8"))
                continue
            if resolved not in seen:
                seen.add(resolved)
                found.append((resolved, relative))
    ids = _unique_ids([relative for _, relative in found])
    return [SourceFile(path, doc_id) for (path, _), doc_id in zip(found, ids, strict=True)], problems


def _walk(root: Path, problems: list[tuple[str, str]]) -> Iterator[Path]:
    """The regular files under root in sorted order; what cannot be loaded safely goes to problems.

    A symlink is followed only to a file inside root: one leading out would let whoever
    controls the folder have any file of the user ingesting it read in (passwd.txt ->
    /etc/passwd). Symlinked folders are not walked (os.walk cannot loop), and FIFOs, sockets
    and devices are never opened: reading a FIFO blocks, reading /dev/zero never ends.
    """
    inside = root.resolve()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in dirs:
            path = Path(folder, name)
            if path.is_symlink() and (reason := _link_problem(path, inside)):
                problems.append((str(path), reason))
        for name in sorted(files):
            if name.startswith((".", "~$")):
                continue
            path = Path(folder, name)
            reason = _link_problem(path, inside) if path.is_symlink() else None
            if reason is None and not path.is_file():
                reason = "not a regular file"
            if reason:
                problems.append((str(path), reason))
            else:
                yield path


def _link_problem(link: Path, inside: Path) -> str | None:
    try:
        target = Path(os.path.realpath(link, strict=True))
    except OSError as exc:  # a missing target or a loop
        return f"broken symlink: {exc.strerror or exc}"
    return None if target.is_relative_to(inside) else f"symlink to {target}, outside the folder"


def supported_suffixes() -> set[str]:
    """The file suffixes ingest reads: one per registered loader (`rag.loaders` entry points), and .jsonl."""
    return {f".{name}" for name in registry.names(registry.LOADERS)} | {JSONL}


def _unsupported(suffix: str) -> str:
    return f"unsupported file type {suffix}" if suffix else "unsupported file type (no extension)"


def _unique_ids(relatives: list[str]) -> list[str]:
    plain = [_safe_id(str(Path(r).with_suffix(""))) for r in relatives]
    with_suffix = [_safe_id(r) for r in relatives]
    counts = _counts(plain)
    ids = [p if counts[p] == 1 else s for p, s in zip(plain, with_suffix, strict=True)]
    # Still equal only when names differ in characters _safe_id replaces ("a b" vs "a-b").
    counts = _counts(ids)
    return [
        i if counts[i] == 1 else f"{i}-{hashlib.sha256(r.encode()).hexdigest()[:8]}"
        for i, r in zip(ids, relatives, strict=True)
    ]


def _counts(items: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _safe_id(relative: str) -> str:
    # Ids end up in URLs and citations: fold accents to ASCII ("Übersicht" -> "Ubersicht")
    # and turn anything else outside [A-Za-z0-9._/-] into a single "-".
    ascii_text = unicodedata.normalize("NFKD", relative).encode("ascii", "ignore").decode()
    segments = [re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-") for s in ascii_text.split("/")]
    return "/".join(s or "-" for s in segments)


# --------------------------------------------------------------------------- load


def load_file(file: SourceFile, skipped: list[tuple[str, str]] | None = None) -> list[Document]:
    """All documents in one file: one for most formats, one per record for .jsonl.

    A bad record of a .jsonl file is skipped, and ("<path>, line <n>", reason) appended to
    `skipped` when a list is given.

    .txt/.md text is kept exactly as decoded (only \\r\\n becomes \\n), because chunks
    and highlighted citations are character offsets into it. HTML, PDF and DOCX give
    their readable text. Raises LoadError with a one-line reason for a file that
    yields nothing usable; a parser crash on a malformed file is reported the same way.
    """
    suffix = file.path.suffix.lower()
    if suffix not in supported_suffixes():
        raise LoadError(_unsupported(suffix))
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data:
        raise LoadError("empty document")
    if suffix == JSONL:
        return _load_jsonl(file, data, skipped if skipped is not None else [])
    reader: Reader = registry.load(registry.LOADERS, suffix[1:], "loader")
    title, text, meta = reader(data)
    if not text.strip():
        raise LoadError("empty document")
    own = "" if _PLACEHOLDER_TITLE.fullmatch(title.strip()) else title
    title = _cut_title(own) or _text_title(text, file.path.name) or file.path.stem
    if _LONE_SURROGATE.search(title) or _LONE_SURROGATE.search(text):  # pypdf can map a glyph to one
        raise LoadError("text holds a lone surrogate (invalid Unicode)")
    return [_document(file.doc_id, title, str(file.path), file, text, meta)]


def _document(
    doc_id: str, title: str, source: str, file: SourceFile, text: str, meta: dict[str, Any], lang: str = ""
) -> Document:
    return Document(
        doc_id=doc_id,
        title=title,
        source=source,
        origin=str(file.path),
        lang=lang or detect_language(text),
        text=text,
        content_hash=hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(),
        meta=meta,
    )


# A reader returns (title or "", text, meta); load_file fills in a missing title. Readers are
# registered under the `rag.loaders` entry points, named by the suffix they read.
Reader = Callable[[bytes], tuple[str, str, dict[str, Any]]]


# ---- plain text and Markdown

_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"


def _decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, UTF-16 with BOM, else cp1252.

    Not charset-normalizer's guess: tried on a German cp1252 sentence it answered cp1250, which
    turns French accents (è, à) into Czech letters (č, ŕ); the Western files this corpus gets
    are decoded right by cp1252, and anything else is refused with a reason rather than garbled."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Windows editors save "Unicode" text as UTF-16 with a BOM; its NUL bytes are not binary.
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise LoadError("not UTF-8 (or cp1252) text") from exc
    if _looks_binary(data):
        raise LoadError("binary file, not text")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise LoadError("not UTF-8 (or cp1252) text") from exc


def _looks_binary(data: bytes) -> bool:
    if b"\x00" in data:
        return True
    sample = data[:65536]
    controls = sum(sample.count(b) for b in _CONTROL_BYTES)
    return controls > 0.1 * len(sample)


def read_text(data: bytes) -> tuple[str, str, dict[str, Any]]:
    text, encoding = _decode_text(data)
    return "", text.replace("\r\n", "\n"), {"format": "txt", "encoding": encoding}


def read_markdown(data: bytes) -> tuple[str, str, dict[str, Any]]:
    text, encoding = _decode_text(data)
    text = text.replace("\r\n", "\n")
    return _front_matter_title(text) or _markdown_heading(text), text, {"format": "md", "encoding": encoding}


def _front_matter_title(text: str) -> str:
    """The `title:` of a YAML front matter block, which would otherwise make every title '---'."""
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    if not match:
        return ""
    title = re.search(r"^title:\s*(.+?)\s*$", match.group(1), re.MULTILINE)
    return title.group(1).strip("\"'") if title else ""


_FENCED_CODE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
_HEADING_1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


def _markdown_heading(text: str) -> str:
    """The first `# heading`, wherever it is: a README often opens with badges or a logo. A `#`
    line in a fenced code block is a shell comment, not a heading."""
    match = _HEADING_1.search(_FENCED_CODE.sub("", text))
    return match.group(1) if match else ""


# Titles that office software and PDF printers write when the author set none.
_PLACEHOLDER_TITLE = re.compile(r"(?i)untitled|microsoft word - .*|.*\.(?:docx?|pdf|odt|rtf|txt)")


def _text_title(text: str, file_name: str = "") -> str:
    """The title of a document that gives none: its first line when that is short enough to be a
    heading, else the file's name when it is made of words ("board-minutes.txt"), else the first
    line cut short."""
    line = _first_line(text)
    if len(line) <= TITLE_MAX_CHARS:
        return line or _name_title(file_name)
    return _name_title(file_name) or _cut_title(line)


def _first_line(text: str) -> str:
    """The first line holding a letter or digit, after any front matter and without a leading `#`."""
    body = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)
    for raw in body.splitlines():
        line = " ".join(raw.strip().lstrip("#").split())
        if re.search(r"[^\W_]", line):
            return line
    return ""


def _name_title(file_name: str) -> str:
    """A file name as words ("board_minutes-2024.txt" is "board minutes 2024"); "" for a name
    without a word of three letters ("002_159690cec7945fb9.txt", "a.txt"), which tells nothing."""
    stem = Path(file_name).stem
    words = [w for w in re.split(r"[\s_]+" if " " in stem else r"[\s_-]+", stem) if w]
    return " ".join(words) if any(w.isalpha() and len(w) >= 3 for w in words) else ""


def _cut_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= TITLE_MAX_CHARS:
        return title
    head = title[:TITLE_MAX_CHARS].rpartition(" ")[0]  # whole words: "at NATO…", not "at NATO head…"
    if len(head) < TITLE_MAX_CHARS // 2:  # a very long word, or a script written without spaces
        head = title[: TITLE_MAX_CHARS - 1]
    return head.rstrip(" ,;:-–") + "…"


# ---- HTML

_DROPPED_TAGS = [
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form",
    "svg", "template", "iframe", "head",
]  # fmt: skip
# Elements whose content stands on its own line ...
_LINE_TAGS = {"li", "dt", "dd", "tr", "td", "th", "caption", "figcaption", "option", "summary"}
# ... and those separated by a blank line, like paragraphs.
_BLOCK_TAGS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "section",
    "article", "main", "blockquote", "pre", "figure", "details", "address", "hr", "body",
}  # fmt: skip


def read_html(data: bytes) -> tuple[str, str, dict[str, Any]]:
    markup = _cap_html_depth(_decode_html(data))
    try:
        tree = LexborHTMLParser(markup)
        title = next((t for n in tree.css("title, h1") if (t := n.text().strip())), "")
        tree.strip_tags(_DROPPED_TAGS)
    except Exception as exc:  # the parser is C code with its own failure modes; the ingest must go on
        raise LoadError(f"unreadable HTML: {_reason(exc)}") from exc
    text = _HtmlText().render(tree.body) if tree.body else ""
    return title, text, {"format": "html"}


def _decode_html(data: bytes) -> str:
    # selectolax reads bytes as UTF-8 whatever the page declares, so honour <meta charset> first.
    declared = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", data[:4096], re.IGNORECASE)
    if declared:
        try:
            markup = data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
        else:
            if not _LONE_SURROGATE.search(markup):  # utf-7 and unicode_escape can spell one
                return markup
    return _decode_text(data)[0]


# lexbor, like other HTML5 parsers, searches its stack of open elements for most tags, so its
# time grows with the square of the nesting depth (minutes for 200k nested <div>s). Browsers
# stop nesting at 512 levels; here the tags of deeper elements are dropped before parsing.
_MAX_HTML_DEPTH = 512
# Elements the depth scan need not track: void ones never stay open, and the others are
# closed by their next sibling or ignored outside a table, so they cannot nest without a
# tracked element in between (a <form> inside a form is ignored; </form> closes nothing else).
_UNTRACKED_TAGS = {
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
    "html", "head", "body", "form", "p", "li", "dd", "dt", "option",
    "caption", "colgroup", "thead", "tbody", "tfoot", "tr", "td", "th",
}  # fmt: skip
# The parser ignores an end tag rather than close one of these elements on its way down.
_SPECIAL_TAGS = {
    "address", "applet", "article", "aside", "blockquote", "button", "center", "details", "dir",
    "div", "dl", "fieldset", "figcaption", "figure", "footer", "frameset", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hgroup", "listing", "main", "marquee", "menu", "nav", "noscript",
    "object", "ol", "pre", "search", "section", "select", "summary", "table", "template", "ul",
    "mi", "mo", "mn", "ms", "mtext", "annotation-xml", "foreignobject", "desc",
}  # fmt: skip
# Tags as the HTML tokenizer reads them, so that nothing can pass for one: comments (also cut
# short or unclosed), the text of <script> and its kind and <!...> or <?...> hold none, and a
# ">" inside a quoted attribute value does not end a tag.
_HTML_TOKEN = re.compile(
    r"""
    <!--(?: -?> | .*?--!?> | .* )
    | <(?P<raw>script|style|textarea|title|xmp|iframe|noembed|noframes)(?=[\t\n\f\r />])
      .*?(?: </(?P=raw)(?=[\t\n\f\r />]) | \Z )
    | <(?P<end>/?)(?P<name>[a-z][^\t\n\f\r />]*) (?: [^>=] | =[\t\n\f\r ]*(?:"[^"]*"|'[^']*')? )* >?
    | <(?: [!?] | /(?![a-z]) )[^>]*>?
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII | re.DOTALL,
)
# HTML folds only ASCII letters: str.lower() would make "</xk>" close "<x\u212a>" (Kelvin sign).
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _cap_html_depth(markup: str) -> str:
    """markup without the tags of elements nested deeper than _MAX_HTML_DEPTH; their text stays.

    The scan follows the parser's stack of open elements closely enough to bound it, erring
    towards deeper: an end tag closes nothing across a special element (</span> in
    <span><div></span> is ignored), comments and scripts hold no tags. It reads SVG/MathML
    content and escaped scripts (<script><!--<script>) as plain HTML.
    """
    stack: list[str] = []
    positions: dict[str, list[int]] = defaultdict(list)  # where in stack each tag name is open
    specials: list[int] = []  # where in stack the open special elements are
    pieces: list[str] = []
    copied = 0
    for token in _HTML_TOKEN.finditer(markup):
        name = (token["name"] or "").translate(_ASCII_LOWER)
        if not name or name in _UNTRACKED_TAGS:
            continue
        if not token["end"]:
            depth = len(stack)
            positions[name].append(depth)
            if name in _SPECIAL_TAGS:
                specials.append(depth)
            stack.append(name)
        elif (open_at := positions.get(name)) and open_at[-1] >= (specials[-1] if specials else 0):
            depth = open_at[-1]
            while len(stack) > depth:
                closed = stack.pop()
                positions[closed].pop()
                if specials and specials[-1] == len(stack):
                    specials.pop()
        else:
            continue  # the parser ignores this end tag
        if depth >= _MAX_HTML_DEPTH:
            pieces.append(markup[copied : token.start()])
            copied = token.end()
    pieces.append(markup[copied:])
    return "".join(pieces)


class _HtmlText:
    """Readable text of a DOM: whitespace collapsed inside blocks, blocks on their own lines."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.inline: list[str] = []
        self.gap = 0  # newlines owed before the next block: 1 after a line, 2 after a block

    def render(self, root: LexborNode) -> str:
        # An explicit stack instead of recursion: deeply nested pages exceed Python's recursion limit.
        stack: list[tuple[LexborNode, bool, bool]] = [(root, False, False)]  # node, leaving, inside <pre>
        while stack:
            node, leaving, in_pre = stack.pop()
            tag = node.tag or ""
            if leaving:
                self._boundary(tag)
            elif tag == "-text":
                text = node.text_content or ""
                self.inline.append(text if in_pre else re.sub(r"\s+", " ", text))
            elif tag == "br":
                self.inline.append("\n")
            elif not tag.startswith("-"):  # skips comments and doctype
                self._boundary(tag)
                stack.append((node, True, in_pre))
                children = list(node.iter(include_text=True))
                stack.extend((child, False, in_pre or tag == "pre") for child in reversed(children))
        self._flush()
        return "".join(self.parts)

    def _boundary(self, tag: str) -> None:
        gap = 2 if tag in _BLOCK_TAGS else 1 if tag in _LINE_TAGS else 0
        if gap:
            self._flush()
            self.gap = max(self.gap, gap)

    def _flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self.inline).split("\n"))
        block = "\n".join(line for line in lines if line)
        self.inline.clear()
        if block:
            if self.parts:
                self.parts.append("\n" * max(self.gap, 1))
            self.parts.append(block)
            self.gap = 0


# ---- PDF


def read_pdf(data: bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        # pypdf also reports some recoverable problems through the warnings module.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read_pdf_quietly(data)
    except LoadError:
        raise
    except Exception as exc:  # any pypdf failure on a malformed file; the ingest must go on
        raise LoadError(f"corrupt PDF: {_reason(exc)}") from exc


def _read_pdf_quietly(data: bytes) -> tuple[str, str, dict[str, Any]]:
    # Without this check pypdf's complaint about a renamed file is "Stream has ended unexpectedly".
    if b"%PDF-" not in data[:1024]:
        raise LoadError("corrupt PDF: not a PDF file")
    reader = pypdf.PdfReader(io.BytesIO(data))
    # Many PDFs are encrypted only against editing, with an empty password for reading.
    if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
        raise LoadError("encrypted PDF (password required)")
    pages, unreadable = [], []
    for number, page in enumerate(reader.pages, start=1):
        try:
            pages.append(page.extract_text().strip())
        except Exception:  # noqa: BLE001 - one broken page should not cost the whole document
            unreadable.append(number)
    text = "\n\n".join(p for p in pages if p)
    if not text:
        raise LoadError("PDF has no text layer (scanned?)")
    meta: dict[str, Any] = {"format": "pdf", "pages": len(reader.pages)}
    if unreadable:
        meta["unreadable_pages"] = unreadable
    title = reader.metadata.title if reader.metadata and reader.metadata.title else ""
    return str(title), text, meta


def _reason(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:160]


# ---- DOCX


# python-docx holds every part of the zip in memory and parses the XML ones, so a 2 MB zip
# bomb whose document.xml unpacks to 600 MB takes gigabytes. A DOCX may unpack to this much
# more than its own size (media are stored about 1:1, XML packs 5-20:1) ...
_DOCX_MAX_GROWTH = 50 * 1024 * 1024
# ... and no part bigger than _DOCX_RATIO_FROM may pack tighter than this.
_DOCX_MAX_RATIO = 100
_DOCX_RATIO_FROM = 1024 * 1024
_MB = 1024 * 1024


def read_docx(data: bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        _check_docx_sizes(data)
        document = docx.Document(io.BytesIO(data))
        lines = list(_docx_lines(document))
        title = document.core_properties.title or _docx_heading(document)
    except LoadError:
        raise
    except Exception as exc:  # a damaged zip or XML part; the ingest must go on
        raise LoadError(f"corrupt DOCX: {_reason(exc)}") from exc
    return title, "\n".join(line for line in lines if line.strip()), {"format": "docx"}


def _check_docx_sizes(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = archive.infolist()
        growth = sum(part.file_size for part in parts) - len(data)
        if growth > _DOCX_MAX_GROWTH:
            raise LoadError(
                f"DOCX would unpack to {growth // _MB} MB more than its size, over the "
                f"{_DOCX_MAX_GROWTH // _MB} MB limit (zip bomb?)"
            )
        for part in parts:
            # zipfile inflates bzip2 and LZMA in one go, however big (a 470-byte part took 600 MB).
            if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise LoadError(
                    f"DOCX part {part.filename} uses compression method {part.compress_type}, which Word never writes"
                )
            if part.file_size > _DOCX_RATIO_FROM and part.file_size > _DOCX_MAX_RATIO * part.compress_size:
                ratio = part.file_size // max(part.compress_size, 1)
                raise LoadError(
                    f"DOCX part {part.filename} is compressed {ratio}:1, over the {_DOCX_MAX_RATIO}:1 limit (zip bomb?)"
                )
            if _unpacked_size(archive, part) > part.file_size:
                raise LoadError(f"DOCX part {part.filename} unpacks to more than its declared size (zip bomb?)")


def _unpacked_size(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> int:
    """The size of part, read in bounded steps up to one byte more than it declares.

    zipfile cuts a part off at its declared size, but only after inflating what it read in
    one go, which for python-docx is the whole part: one that claims 1 KB and holds 600 MB
    would still cost 600 MB there.
    """
    probe = copy.copy(part)
    probe.file_size = part.file_size + 1
    size = 0
    with archive.open(probe) as stream:
        while chunk := stream.read(_MB):
            size += len(chunk)
    return size


def _docx_lines(container: DocxDocument | _Cell) -> Iterator[str]:
    """Paragraph and table cell texts in reading order."""
    for item in container.iter_inner_content():
        if isinstance(item, Paragraph):
            yield item.text
        elif isinstance(item, Table):
            for row in item.rows:
                seen = set()
                for cell in row.cells:
                    # A merged cell is returned once per grid column it spans.
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        yield from _docx_lines(cell)


def _docx_heading(document: DocxDocument) -> str:
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if paragraph.text.strip() and style.startswith(("Title", "Heading")):
            return paragraph.text
    return ""


# ---- JSON Lines


def _load_jsonl(file: SourceFile, data: bytes, skipped: list[tuple[str, str]]) -> list[Document]:
    """One document per record {"id", "text", optional "title", "source", "lang"}.

    A bad line (invalid JSON, missing or empty id/text, an id seen before, a lone surrogate)
    is skipped and reported in `skipped` with its line number, so one stray line does not
    throw away a whole benchmark corpus. A file with no valid record is a LoadError.
    """
    text, _ = _decode_text(data)
    documents: list[Document] = []
    seen: set[str] = set()
    bad: list[tuple[str, str]] = []  # (where, why)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = _jsonl_record(line, seen)
        except _BadRecord as exc:
            bad.append((f"{file.path}, line {number}", str(exc)))
            continue
        seen.add(record["id"])
        source = record["source"] or f"{file.path}#{record['id']}"
        title = _cut_title(record["title"]) or _text_title(record["text"]) or record["id"]
        meta = {"format": "jsonl", "line": number}
        documents.append(_document(record["id"], title, source, file, record["text"], meta, record["lang"]))
    if not documents:
        raise LoadError(f"no valid records ({bad[0][0].rpartition(', ')[2]}: {bad[0][1]})" if bad else "empty document")
    skipped.extend(bad)
    return documents


class _BadRecord(Exception):
    """A JSON Lines record that is skipped; the message says why."""


def _jsonl_record(line: str, seen: set[str]) -> dict[str, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadRecord(f"invalid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise _BadRecord("not a JSON object")
    doc_id = record.get("id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise _BadRecord("missing 'id'")
    if doc_id in seen:
        raise _BadRecord(f"duplicate id {doc_id!r}")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _BadRecord("missing or empty 'text'")
    fields = {
        "id": doc_id,
        "text": text,
        "title": _optional_str(record, "title"),
        "source": _optional_str(record, "source"),
        "lang": _optional_str(record, "lang").lower(),
    }
    for key, value in fields.items():
        if _LONE_SURROGATE.search(value):
            raise _BadRecord(f"lone surrogate in {key!r} (invalid Unicode)")
    return fields


def _optional_str(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""
