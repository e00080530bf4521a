"""The source viewer: a document's whole text with the cited span highlighted."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from rag.engine import NoIndex
from ui.render import page_html, page_response

router = APIRouter(include_in_schema=False)


@router.get("/sources/{doc_id:path}")
async def view_source(doc_id: str, request: Request, start: int | None = None, end: int | None = None) -> HTMLResponse:
    try:
        document = await run_in_threadpool(request.app.state.engine.document, doc_id)
    except NoIndex:  # a server on a folder of its own that nothing was added to yet
        document = None
    if document is None:
        return page_response(page_html("viewer_not_found.html", doc_id=doc_id), status=404)

    text = document.text
    span = None
    if start is not None and end is not None:
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        span = (start, end) if start < end else None
    before, cited, after = (text[: span[0]], text[span[0] : span[1]], text[span[1] :]) if span else (text, "", "")
    page = page_html("viewer.html", document=document, span=span, before=before, cited=cited, after=after)
    return page_response(page)
