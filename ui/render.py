"""Everything the UI turns into HTML goes through here.

Document text, titles, sources, questions and answers are all untrusted: a document
may hold `<script>` or `<img onerror=…>`, and the LLM may quote it. The markup lives in
Jinja2 templates (ui/templates/) rendered with autoescape, so every value is escaped
unless it is Markup made here: an answer's Markdown, rendered without raw HTML. The
standalone pages (viewer, sign-in, widget) are templates of their own that extend page.html.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
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


def source_href(card: Citation) -> str:
    """The source viewer's URL for a cited span; `#cited` lets the browser scroll there even without script."""
    return f"/sources/{quote(card.doc_id, safe='')}?start={int(card.start)}&end={int(card.end)}#cited"


def snippet(text: str, width: int = SNIPPET_CHARS) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder=" …")


_TEMPLATES = Environment(
    loader=PackageLoader("ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters["snippet"] = snippet
_TEMPLATES.globals.update(say=say, source_href=source_href, display_source=display_source, PREVIEW_CHARS=PREVIEW_CHARS)
# The macros of fragments.html, called like functions; each returns Markup.
_FRAGMENTS: Any = _TEMPLATES.get_template("fragments.html").module


def cited_cards(answer: Answer) -> list[Citation]:
    """The cited spans, one card per [n], in the order the answer first cites them."""
    first: dict[int, Citation] = {}
    for citation in answer.citations:
        first.setdefault(citation.n, citation)
    return sorted(first.values(), key=lambda c: c.n)


def passage_cards(answer: Answer) -> list[Citation]:
    """Every retrieved passage as a card (what a refusal shows as the nearest passages)."""
    return [citation_for(n, p) for n, p in enumerate(answer.passages, start=1)]


def linked_text(text: str, answer: Answer) -> Markup:
    """Plain answer text, escaped, with each [n] that has a citation linked to the cited span."""
    return _linked_marks(escape(text), answer)


def rich_text(text: str, answer: Answer) -> Markup:
    """Answer text as safe Markdown (paragraphs, lists, emphasis, links) with [n] linked."""
    return _linked_marks(Markup(_MARKDOWN.render(text)), answer)


def _linked_marks(markup: Markup, answer: Answer) -> Markup:
    """Each [n] in escaped markup that has a citation becomes a link to its span, whose hover
    shows the cited sentence; a mark that points nowhere stays text."""
    cited = {card.n: card for card in cited_cards(answer)}

    def link(match: re.Match[str]) -> str:
        card = cited.get(int(match.group(1)))
        return match.group(0) if card is None else _FRAGMENTS.cite(card)

    return Markup(_MARK.sub(link, markup))


def footer_text(answer: Answer) -> str:
    """The small line under an answer naming who answered, how fast, from how much, in the
    answer's language."""
    lang = answer_language(detect_language(answer.question))
    seconds = answer.timings.get("total")
    parts = [say("answered_by", lang, backend=answer.backend)]
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    if answer.refused:
        # A refusal that quotes evidence ("the closest evidence: …") is not "not in the documents".
        parts.append(say("quoted_footer" if answer.citations else "refused_footer", lang))
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
    """A finished answer as the chat shows it: cited text (or a refusal notice) with its opening
    short answer (when there is one) in bold, the footer with a copy button, and its sources folded
    underneath (shown on small screens, where the sources panel is far below)."""
    first, newline, rest = answer.answer.partition("\n")
    if answer.short_answer and newline and not answer.refused:
        short, text = linked_text(first, answer), rich_text(rest, answer)
    else:
        short, text = Markup(), rich_text(answer.answer, answer)
    return str(
        _FRAGMENTS.answer(
            refused=answer.refused,
            quoted=bool(answer.citations),
            short=short,
            text=text,
            footer=footer_text(answer),
            cards=cited_cards(answer) or passage_cards(answer),
            langs=_passage_langs(answer),
            lang=answer_language(detect_language(answer.question)),
        )
    )


def _passage_langs(answer: Answer) -> dict[str, str]:
    return {p.chunk_id: p.lang for p in answer.passages}


def streaming_html(partial: str) -> str:
    """Answer text still arriving; citations are linked once the final answer is checked."""
    return str(_FRAGMENTS.streaming(partial))


def user_html(question: str) -> str:
    return str(_FRAGMENTS.question(question))


def error_html(message: str, heading: str = "Could not answer") -> str:
    return str(_FRAGMENTS.error(heading, message))


def muted_html(text: str) -> str:
    return str(_FRAGMENTS.muted(text))


def header_html(lang: str) -> str:
    """The chat's title bar, with links to the API docs and the widget."""
    return str(_FRAGMENTS.header(lang))


def evidence_html(found: EvidenceFound, lang: str = "en") -> str:
    """The sources panel while the answer is written: the evidence it will be written from."""
    return str(_FRAGMENTS.sources_panel(say("evidence_found", lang), found.citations, say("no_evidence", lang)))


def sources_html(answer: Answer | None, lang: str = "en") -> str:
    """The sources panel: the cited passages, or for a refusal the nearest passages found; in the
    answer's language (`lang` before there is an answer)."""
    if answer is None:
        return str(_FRAGMENTS.hint_panel(say("sources", lang), say("sources_hint", lang)))
    lang = answer_language(detect_language(answer.question))
    if answer.refused and not answer.citations:
        cards, heading = passage_cards(answer), say("nearest_passages", lang)
    elif answer.refused:
        cards, heading = cited_cards(answer), say("nearest_evidence", lang)
    else:
        cards, heading = cited_cards(answer), say("sources_cited", lang)
    return str(_FRAGMENTS.sources_panel(heading, cards, say("no_passages", lang), _passage_langs(answer)))


def documents_html(rows: Iterable[dict[str, Any]], lang: str = "en") -> str:
    return str(
        _FRAGMENTS.table_panel(
            say("documents_in_index", lang),
            say("library_columns", lang).split("|"),
            [
                (
                    d["title"],
                    d["source"],
                    language_label(d["language"], lang),
                    _day(d["added"]),
                    d["chunks"],
                    d["doc_id"],
                )
                for d in rows
            ],
            say("no_documents", lang),
        )
    )


def _day(added: str | None) -> str:
    """The day a document was added (UTC, as the index records it), or a dash when it is not known."""
    return added[:10] if added else "–"


def upload_report_html(outcomes: Iterable[FileOutcome], lang: str = "en") -> str:
    return str(
        _FRAGMENTS.table_panel(
            say("upload", lang),
            say("upload_columns", lang).split("|"),
            [(o.file, o.status, ", ".join(o.documents), o.reason) for o in outcomes],
            say("no_files", lang),
        )
    )


def page_html(template: str, **values: Any) -> str:
    """A whole standalone page (viewer, sign-in, widget, demo): one of ui/templates/ that extends page.html."""
    return _TEMPLATES.get_template(template).render(**values)


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
