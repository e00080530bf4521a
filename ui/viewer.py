"""The source viewer: a document's whole text with the cited span highlighted."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from rag.engine import NoIndex
from rag.sources import display_source
from ui.render import esc, page_html, page_response

router = APIRouter(include_in_schema=False)


@router.get("/sources/{doc_id:path}")
async def view_source(doc_id: str, request: Request, start: int | None = None, end: int | None = None) -> HTMLResponse:
    try:
        document = await run_in_threadpool(request.app.state.engine.document, doc_id)
    except NoIndex:  # a server on a folder of its own that nothing was added to yet
        document = None
    if document is None:
        body = (
            '<main class="page narrow"><p class="eyebrow">Source viewer</p><h1>Document not found</h1>'
            f"<p>The index holds no document with the id <code>{esc(doc_id)}</code>. "
            'It may have been removed since the answer was given.</p><p><a href="/">Back to the chat</a></p></main>'
        )
        return page_response(page_html("Document not found", body), status=404)

    text = document.text
    span = None
    if start is not None and end is not None:
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        span = (start, end) if start < end else None
    if span:
        article = f'{esc(text[: span[0]])}<mark id="cited">{esc(text[span[0] : span[1]])}</mark>{esc(text[span[1] :])}'
        cited = f"<dt>Cited passage</dt><dd>characters {span[0]:,}–{span[1]:,}</dd>"
        jump = '<a href="#cited">Cited passage</a>'
    else:
        article, cited, jump = esc(text), "", ""
    body = (
        f'<nav class="doc-bar"><span class="doc-bar-title">{esc(document.title)}</span>{jump}</nav>'
        '<main class="page"><header class="doc-head"><p class="eyebrow">Source viewer</p>'
        f'<h1>{esc(document.title)}</h1><dl class="doc-meta">'
        f"<dt>Document</dt><dd><code>{esc(document.doc_id)}</code></dd>"
        f"<dt>Source</dt><dd>{esc(display_source(document.source, document.doc_id))}</dd>"
        f"<dt>Language</dt><dd>{esc(document.lang)}</dd>{cited}</dl></header>"
        f'<article class="doc-text">{article}</article></main>'
    )
    return page_response(page_html(f"{document.title} — source", body, scripts=("viewer.js",)))
