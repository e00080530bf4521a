"""Request body limits for the REST API, enforced before a handler reads the body.

A declared Content-Length over the limit is refused at once; a body sent without
one (chunked) is counted as it arrives and refused when it crosses the limit, so a
client cannot make the server buffer an arbitrarily large request.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.errors import ErrorCode, error_body

JSON_BODY_LIMIT = 1_000_000  # bytes for a JSON request: a question and its chat history


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse /api request bodies larger than `limit_for(path)` bytes with 413."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return

        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer now: the framework would turn any error raised here into its own 400.
                    refused = True
                    await _refuse(scope, receive, send, limit)
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # our 413 already went out; drop the framework's error response
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            pass


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await JSONResponse(
        error_body(ErrorCode.TOO_LARGE, f"request body too large: the limit is {limit / 1e6:.1f} MB"),
        status_code=413,
        headers={"connection": "close"},
    )(scope, receive, send)
