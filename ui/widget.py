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
from ui.render import esc, page_html, page_response

ASSETS = Path(__file__).parent / "assets"
router = APIRouter(include_in_schema=False)
router.add_api_route("/widget/ask/stream", ask_stream, methods=["POST"])


def snippet(base_url: str, title: str = "Briefing bot") -> str:
    return f'<script src="{esc(base_url)}/widget.js" data-title="{esc(title)}" async></script>'


@router.get("/widget.js")
async def loader() -> FileResponse:
    return FileResponse(ASSETS / "widget.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/widget")
async def widget_page(request: Request) -> HTMLResponse:
    limit = request.app.state.settings.max_question_chars
    # The labels are filled in by widget-chat.js, in the reader's language (English or German).
    body = (
        '<div class="w-app"><div class="w-bar"><button type="button" id="w-new"></button>'
        '<div class="w-langs" id="w-langs" role="group">'
        '<button type="button" data-lang="en" lang="en" aria-label="English">EN</button>'
        '<button type="button" data-lang="de" lang="de" aria-label="Deutsch">DE</button></div></div>'
        f'<ol class="w-log" id="w-log" aria-live="polite" data-examples="{esc(json.dumps(EXAMPLE_QUESTIONS))}"></ol>'
        '<form class="w-form" id="w-form"><label class="w-sr" for="w-question" id="w-label"></label>'
        f'<textarea id="w-question" rows="1" maxlength="{limit}" required></textarea>'
        '<button type="submit" id="w-send" disabled></button></form></div>'
    )
    # Framing is the point of this page. With keys, the snippet carries a reader key, so only the
    # allowed origins (`cors_origins`) may frame it; without keys, any page may.
    settings = request.app.state.settings
    origins = " ".join(settings.cors_origins) if Access.of(settings).enabled and settings.cors_origins else "*"
    return page_response(
        page_html("Briefing bot", body, styles=("widget.css",), scripts=("widget-chat.js",)), frame_ancestors=origins
    )


@router.get("/embed-demo")
async def embed_demo(request: Request) -> HTMLResponse:
    base = str(request.base_url).rstrip("/")
    code = snippet(base)
    body = (
        '<main class="page narrow"><p class="eyebrow">Embeddable widget</p><h1>Put the chat on your page</h1>'
        "<p>Paste this one line anywhere in your page's HTML. It adds a chat button in the lower right corner; "
        "the panel it opens runs on this server, so your page's styles and scripts are untouched.</p>"
        f'<div class="snippet"><pre><code id="snippet">{esc(code)}</code></pre>'
        '<button type="button" id="copy-snippet">Copy</button></div>'
        "<p><code>data-title</code> sets the panel's heading. The widget asks through "
        '<code>/widget/ask/stream</code>; programs use the REST API described at <a href="/docs">/docs</a>.</p>'
        "<p>Each browser keeps one conversation, saved on this server: the widget's local storage (on this "
        "server's origin, not your page's) holds only a random client id, the open conversation's id and the "
        "chosen language. The widget speaks English or German, after the browser's language, follows the "
        "system's dark mode, and fills the screen of a phone.</p>"
        "<p>This page includes the snippet itself: try the button in the corner.</p></main>"
        f"{code}"
    )
    return page_response(page_html("Embed the briefing bot", body, scripts=("embed-demo.js",)))
