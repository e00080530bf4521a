"""Everything the UI turns into HTML goes through here.

Document text, titles, sources, questions and answers are all untrusted: a document
may hold `<script>` or `<img onerror=…>`, and the LLM may quote it. Every value is
escaped with `esc()` before it meets markup, and markup is only ever built here, so
there is one place to get escaping right.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse

from rag.answer import Answer, Citation, EvidenceFound
from rag.citations import citation_for
from rag.confidence import in_words
from rag.language import detect_language
from rag.sources import display_source
from ui.documents import FileOutcome

SNIPPET_CHARS = 280
_MARK = re.compile(r"\[(\d+)\]")


def esc(value: object) -> str:
    """Text made safe for HTML element content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def source_href(doc_id: str, start: int, end: int) -> str:
    """The source viewer's URL for a span; `#cited` lets the browser scroll there even without script."""
    return f"/sources/{quote(doc_id, safe='')}?start={int(start)}&end={int(end)}#cited"


def snippet(text: str, width: int = SNIPPET_CHARS) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder=" …")


def cited_cards(answer: Answer) -> list[Citation]:
    """The cited spans, one card per [n], in the order the answer first cites them."""
    first: dict[int, Citation] = {}
    for citation in answer.citations:
        first.setdefault(citation.n, citation)
    return sorted(first.values(), key=lambda c: c.n)


def passage_cards(answer: Answer) -> list[Citation]:
    """Every retrieved passage as a card (what a refusal shows as the nearest passages)."""
    return [citation_for(n, p) for n, p in enumerate(answer.passages, start=1)]


def linked_text(text: str, answer: Answer) -> str:
    """Answer text with each [n] that has a citation turned into a link to the cited span."""
    cited = {card.n: card for card in cited_cards(answer)}
    out: list[str] = []
    last = 0
    for match in _MARK.finditer(text):
        card = cited.get(int(match.group(1)))
        if card is None:
            continue
        out.append(esc(text[last : match.start()]))
        out.append(
            f'<a class="rag-cite" href="{esc(source_href(card.doc_id, card.start, card.end))}" target="_blank" '
            f'rel="noopener" title="{esc(card.title)}">[{card.n}]</a>'
        )
        last = match.end()
    out.append(esc(text[last:]))
    return "".join(out)


def footer_text(answer: Answer) -> str:
    """The small line under an answer naming who answered, how fast, from how much."""
    seconds = answer.timings.get("total")
    parts = [f"answered by {answer.backend}"]
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    if answer.refused:
        parts.append("not in the documents")
    else:
        count = len(cited_cards(answer))
        parts.append(f"{count} source{'' if count == 1 else 's'}")
        # Calibrated: the share of such answers that were right on the dev sets (rag/confidence.py).
        parts.append(f"{in_words(answer.confidence, detect_language(answer.question))} ({answer.confidence:.0%})")
    if answer.removed_claims:
        count = len(answer.removed_claims)
        parts.append(f"{count} unsupported statement{'' if count == 1 else 's'} removed")
    return " · ".join(parts)


def answer_html(answer: Answer) -> str:
    """A finished answer as the chat shows it: cited text (or a refusal notice) and the footer."""
    if answer.refused:
        body = (
            '<div class="rag-refusal" role="note"><strong>Not in the documents</strong>'
            f"<p>{linked_text(answer.answer, answer)}</p></div>"
        )
    else:
        body = f'<div class="rag-answer">{answer_body(answer)}</div>'
    return f'{body}<div class="rag-footer">{esc(footer_text(answer))}</div>'


def answer_body(answer: Answer) -> str:
    """The answer text, its opening short answer (when there is one) in bold."""
    first, newline, rest = answer.answer.partition("\n")
    if answer.short_answer and newline:
        return f'<strong class="rag-short">{linked_text(first, answer)}</strong>\n{linked_text(rest, answer)}'
    return linked_text(answer.answer, answer)


def streaming_html(partial: str) -> str:
    """Answer text still arriving; citations are linked once the final answer is checked."""
    return f'<div class="rag-answer rag-streaming">{esc(partial)}</div>'


def user_html(question: str) -> str:
    return f'<div class="rag-question">{esc(question)}</div>'


def error_html(message: str, heading: str = "Could not answer") -> str:
    return f'<div class="rag-error" role="alert"><strong>{esc(heading)}</strong><p>{esc(message)}</p></div>'


def _card_html(card: Citation, answer: Answer | None = None) -> str:
    langs = {p.chunk_id: p.lang for p in answer.passages} if answer else {}
    shown = display_source(card.source, card.doc_id)
    meta = " · ".join(esc(part) for part in (shown, langs.get(card.chunk_id, "")) if part)
    return (
        '<li class="rag-source">'
        f'<a class="rag-source-title" href="{esc(source_href(card.doc_id, card.start, card.end))}" target="_blank" '
        f'rel="noopener"><span class="rag-badge">{card.n}</span>{esc(card.title)}</a>'
        f'<div class="rag-source-meta">{meta}</div>'
        f'<blockquote class="rag-snippet">{esc(snippet(card.quote))}</blockquote></li>'
    )


def evidence_html(found: EvidenceFound) -> str:
    """The sources panel while the answer is written: the evidence it will be written from."""
    items = "".join(_card_html(card) for card in found.citations) or '<li class="rag-muted">no evidence</li>'
    return f'<div class="rag-panel rag-sources"><h3>Evidence found (answer on its way)</h3><ol>{items}</ol></div>'


def sources_html(answer: Answer | None) -> str:
    """The sources panel: the cited passages, or for a refusal the nearest passages found."""
    if answer is None:
        return f'<div class="rag-panel"><h3>Sources</h3>{muted_html("Ask a question: the passages an answer cites appear here.")}</div>'
    if answer.refused and not answer.citations:
        cards, heading = passage_cards(answer), "Nearest passages (none answers the question)"
    elif answer.refused:
        cards, heading = cited_cards(answer), "Nearest evidence (it does not state the answer clearly)"
    else:
        cards, heading = cited_cards(answer), "Sources cited"
    items = "".join(_card_html(card, answer) for card in cards) or '<li class="rag-muted">no passages</li>'
    return f'<div class="rag-panel rag-sources"><h3>{esc(heading)}</h3><ol>{items}</ol></div>'


def muted_html(text: str) -> str:
    return f'<p class="rag-muted">{esc(text)}</p>'


def table_html(headers: Iterable[str], rows: Iterable[Iterable[object]], empty: str) -> str:
    """A plain table of escaped cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return muted_html(empty)
    return f'<table class="rag-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def documents_html(rows: Iterable[dict[str, Any]]) -> str:
    table = table_html(
        ("Title", "Source", "Language", "Chunks", "Id"),
        [(d["title"], d["source"], d["language"], d["chunks"], d["doc_id"]) for d in rows],
        "The index holds no documents yet.",
    )
    return f'<div class="rag-panel"><h3>Documents in the index</h3>{table}</div>'


def upload_report_html(outcomes: Iterable[FileOutcome]) -> str:
    table = table_html(
        ("File", "Result", "Documents", "Problem"),
        [(o.file, o.status, ", ".join(o.documents), o.reason) for o in outcomes],
        "No files.",
    )
    return f'<div class="rag-panel"><h3>Upload</h3>{table}</div>'


def page_html(title: str, body: str, styles: Iterable[str] = ("page.css",), scripts: Iterable[str] = ()) -> str:
    """A whole standalone page (viewer, widget, demo) around already-escaped `body` markup."""
    links = "".join(f'<link rel="stylesheet" href="/ui-assets/{esc(name)}">' for name in styles)
    tags = "".join(f'<script src="/ui-assets/{esc(name)}" defer></script>' for name in scripts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>{links}{tags}</head><body>{body}</body></html>"
    )


def page_response(
    page: str, status: int = 200, frame_ancestors: str = "'none'", form_action: str = "'none'"
) -> HTMLResponse:
    """A page of ours with a policy that lets nothing but our own files run or load,
    so even a mistake in escaping could not execute a document's script."""
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"frame-src 'self'; base-uri 'none'; form-action {form_action}; frame-ancestors {frame_ancestors}"
    )
    return HTMLResponse(
        page,
        status,
        headers={
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
