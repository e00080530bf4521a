"""The embeddable widget: its loader script, the small chat page it frames, and a demo page.

The loader (`/widget.js`) puts a button and a panel on the host page inside a Shadow
DOM, so neither page's styles leak into the other; the panel frames `/widget`, a chat
page served from here, so the widget needs no CORS and works from any origin.

`/widget/ask/stream` is `/api/ask/stream` for the widget. The frame keeps a random client id
and its open conversation's id in its own origin's storage and calls `/api/conversations`
and `/api/feedback` like any REST client (`X-Client-Id`): a reader key may do both, so the
widget needs no routes of its own for them. When the server asks for keys (`ui/access.py`),
the snippet carries a reader key (`data-key`), which the frame sends with each request, and
only the origins in `cors_origins` may frame the widget.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse

from ui.access import Access
from ui.api import ask_stream
from ui.examples import EXAMPLE_QUESTIONS
from ui.render import page_html, page_response

ASSETS = Path(__file__).parent / "assets"
router = APIRouter(include_in_schema=False)
router.add_api_route("/widget/ask/stream", ask_stream, methods=["POST"])


@router.get("/widget.js")
async def loader() -> FileResponse:
    return FileResponse(ASSETS / "widget.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/widget")
async def widget_page(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    page = page_html("widget.html", examples=json.dumps(EXAMPLE_QUESTIONS), limit=settings.max_question_chars)
    # Framing is the point of this page. With keys, the snippet carries a reader key, so only the
    # allowed origins (`cors_origins`) may frame it; without keys, any page may.
    origins = " ".join(settings.cors_origins) if Access.of(settings).enabled and settings.cors_origins else "*"
    return page_response(page, frame_ancestors=origins)


@router.get("/embed-demo")
async def embed_demo(request: Request) -> HTMLResponse:
    return page_response(page_html("embed_demo.html", base_url=str(request.base_url).rstrip("/")))
