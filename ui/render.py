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

from markdown_it import MarkdownIt
from starlette.responses import HTMLResponse

from rag.answer import Answer, Citation, EvidenceFound
from rag.citations import citation_for
from rag.confidence import in_words
from rag.language import detect_language
from rag.sources import display_source
from ui.documents import FileOutcome
from ui.i18n import answer_language, language_label, say

SNIPPET_CHARS = 280
PREVIEW_CHARS = 200  # the cited sentence shown when the pointer rests on [n]
_MARK = re.compile(r"\[(\d+)\]")
# CommonMark without raw HTML (it stays text) and without images (nothing is fetched); links
# to javascript: and other unsafe schemes are refused by markdown-it's own link check.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).disable("image")


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
    """Plain answer text, escaped, with each [n] that has a citation linked to the cited span."""
    return _linked_marks(esc(text), answer)


def rich_text(text: str, answer: Answer) -> str:
    """Answer text as safe Markdown (paragraphs, lists, emphasis, links) with [n] linked."""
    return _linked_marks(_MARKDOWN.render(text), answer)


def _linked_marks(markup: str, answer: Answer) -> str:
    """Each [n] in escaped markup that has a citation becomes a link to its span, whose hover
    shows the cited sentence; a mark that points nowhere stays text."""
    cited = {card.n: card for card in cited_cards(answer)}

    def link(match: re.Match[str]) -> str:
        card = cited.get(int(match.group(1)))
        if card is None:
            return match.group(0)
        preview = f"{card.title}: “{snippet(card.quote, PREVIEW_CHARS)}”"
        return (
            f'<a class="rag-cite" href="{esc(source_href(card.doc_id, card.start, card.end))}" target="_blank" '
            f'rel="noopener" title="{esc(preview)}">[{card.n}]</a>'
        )

    return _MARK.sub(link, markup)


def footer_text(answer: Answer) -> str:
    """The small line under an answer naming who answered, how fast, from how much, in the
    answer's language."""
    lang = answer_language(detect_language(answer.question))
    seconds = answer.timings.get("total")
    parts = [say("answered_by", lang, backend=answer.backend)]
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    if answer.refused:
        parts.append(say("refused_footer", lang))
    else:
        count = len(cited_cards(answer))
        parts.append(say("source_count", lang) if count == 1 else say("sources_count", lang, count=count))
        # Calibrated: the share of such answers that were right on the dev sets (rag/confidence.py).
        parts.append(f"{in_words(answer.confidence, lang)} ({answer.confidence:.0%})")
    if answer.removed_claims:
        count = len(answer.removed_claims)
        parts.append(say("removed_one", lang) if count == 1 else say("removed", lang, count=count))
    return " · ".join(parts)


def answer_html(answer: Answer) -> str:
    """A finished answer as the chat shows it: cited text (or a refusal notice), the footer with
    a copy button, and its sources folded underneath (shown on small screens, where the sources
    panel is far below)."""
    lang = answer_language(detect_language(answer.question))
    if answer.refused:
        body = (
            f'<div class="rag-refusal" role="note"><strong>{esc(say("not_in_documents", lang))}</strong>'
            f"{rich_text(answer.answer, answer)}</div>"
        )
    else:
        body = f'<div class="rag-answer">{answer_body(answer)}</div>'
    copy = f'<button type="button" class="rag-copy">{esc(say("copy", lang))}</button>'  # ui/assets/chat.js
    cards = cited_cards(answer) or passage_cards(answer)
    folded = ""
    if cards:
        items = "".join(_card_html(card, answer) for card in cards)
        folded = (
            f'<details class="rag-inline-sources"><summary>{esc(say("sources", lang))} ({len(cards)})</summary>'
            f"<ol>{items}</ol></details>"
        )
    return f'{body}<div class="rag-footer">{esc(footer_text(answer))} {copy}</div>{folded}'


def answer_body(answer: Answer) -> str:
    """The answer text, its opening short answer (when there is one) in bold."""
    first, newline, rest = answer.answer.partition("\n")
    if answer.short_answer and newline:
        return f'<strong class="rag-short">{linked_text(first, answer)}</strong>{rich_text(rest, answer)}'
    return rich_text(answer.answer, answer)


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


def evidence_html(found: EvidenceFound, lang: str = "en") -> str:
    """The sources panel while the answer is written: the evidence it will be written from."""
    items = (
        "".join(_card_html(card) for card in found.citations)
        or f'<li class="rag-muted">{esc(say("no_evidence", lang))}</li>'
    )
    return f'<div class="rag-panel rag-sources"><h3>{esc(say("evidence_found", lang))}</h3><ol>{items}</ol></div>'


def sources_html(answer: Answer | None, lang: str = "en") -> str:
    """The sources panel: the cited passages, or for a refusal the nearest passages found; in the
    answer's language (`lang` before there is an answer)."""
    if answer is None:
        hint = muted_html(say("sources_hint", lang))
        return f'<div class="rag-panel"><h3>{esc(say("sources", lang))}</h3>{hint}</div>'
    lang = answer_language(detect_language(answer.question))
    if answer.refused and not answer.citations:
        cards, heading = passage_cards(answer), say("nearest_passages", lang)
    elif answer.refused:
        cards, heading = cited_cards(answer), say("nearest_evidence", lang)
    else:
        cards, heading = cited_cards(answer), say("sources_cited", lang)
    items = (
        "".join(_card_html(card, answer) for card in cards)
        or f'<li class="rag-muted">{esc(say("no_passages", lang))}</li>'
    )
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


def documents_html(rows: Iterable[dict[str, Any]], lang: str = "en") -> str:
    table = table_html(
        say("library_columns", lang).split("|"),
        [
            (d["title"], d["source"], language_label(d["language"], lang), _day(d["added"]), d["chunks"], d["doc_id"])
            for d in rows
        ],
        say("no_documents", lang),
    )
    return f'<div class="rag-panel"><h3>{esc(say("documents_in_index", lang))}</h3>{table}</div>'


def _day(added: str | None) -> str:
    """The day a document was added (UTC, as the index records it), or a dash when it is not known."""
    return added[:10] if added else "–"


def upload_report_html(outcomes: Iterable[FileOutcome], lang: str = "en") -> str:
    table = table_html(
        say("upload_columns", lang).split("|"),
        [(o.file, o.status, ", ".join(o.documents), o.reason) for o in outcomes],
        say("no_files", lang),
    )
    return f'<div class="rag-panel"><h3>{esc(say("upload", lang))}</h3>{table}</div>'


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
