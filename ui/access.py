"""Who may do what: reader and editor keys, checked on every route of the server.

With no key configured the server is open (loopback use). With any key configured,
every request that reads or changes data needs one: programs send `X-API-Key`,
browsers sign in once at `/login` and carry an HttpOnly, SameSite session cookie.

- **reader** (`reader_key`): ask, read the documents list and the sources.
- **editor** (`api_key`): everything a reader may, plus upload and delete documents.

The guard is one ASGI middleware around the whole app, so Gradio's own API under
`/gradio_api`, the source viewer and the widget's endpoint are covered like `/api`.
Pages that hold no data (the sign-in page, the widget's empty shell and its scripts,
the API docs) stay open.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.settings import Settings
from ui.errors import ErrorCode, error_body
from ui.render import page_html, page_response

Role = Literal["reader", "editor"]
COOKIE = "rag_session"
SESSION_SECONDS = 12 * 3600
OPEN_PATHS = (
    "/login",
    "/logout",
    "/ui-assets/",
    "/docs",
    "/docs-assets/",
    "/openapi.json",
    "/widget.js",
    "/favicon.ico",
)
OPEN_EXACT = ("/widget", "/embed-demo")  # shells without data: what they show comes through guarded calls


@dataclass(frozen=True)
class Access:
    editor_key: str
    reader_key: str

    @classmethod
    def of(cls, settings: Settings) -> Access:
        return cls(settings.api_key, settings.reader_key)

    @property
    def enabled(self) -> bool:
        return bool(self.editor_key or self.reader_key)

    def role_of_key(self, key: str) -> Role | None:
        # compare_digest: the time taken must not tell an attacker how much of a guess was right.
        if self.editor_key and hmac.compare_digest(key.encode(), self.editor_key.encode()):
            return "editor"
        if self.reader_key and hmac.compare_digest(key.encode(), self.reader_key.encode()):
            return "reader"
        return None

    def role_of(self, headers: Mapping[str, str]) -> Role | None:
        """The role a request's key or session cookie gives (header names in lower case)."""
        if key := headers.get("x-api-key", ""):
            return self.role_of_key(key)
        try:
            cookies = SimpleCookie(headers.get("cookie", ""))
        except CookieError:
            return None
        return self.role_of_session(cookies[COOKIE].value) if COOKIE in cookies else None

    def session(self, role: Role, now: float | None = None) -> str:
        """A cookie value that names the role until it expires, signed with the keys: changing a
        key ends every session signed with it."""
        expires = int((now or time.time()) + SESSION_SECONDS)
        claim = f"{role}.{expires}"
        return f"{claim}.{self._sign(claim)}"

    def role_of_session(self, value: str, now: float | None = None) -> Role | None:
        claim, _, signature = value.rpartition(".")
        role, _, expires = claim.partition(".")
        if role not in ("reader", "editor") or not expires.isdigit():
            return None
        if not hmac.compare_digest(signature, self._sign(claim)) or int(expires) < (now or time.time()):
            return None
        return role  # type: ignore[return-value]

    def _sign(self, claim: str) -> str:
        secret = hashlib.sha256(f"{self.editor_key}\0{self.reader_key}".encode()).digest()
        return hmac.new(secret, claim.encode(), hashlib.sha256).hexdigest()


def needed_role(method: str, path: str) -> Role | None:
    """The role a request needs; None for the open pages."""
    if path in OPEN_EXACT or path.startswith(OPEN_PATHS):
        return None
    if path.startswith("/api/documents") and method in ("POST", "PUT", "DELETE"):
        return "editor"
    if path.startswith("/gradio_api/upload"):  # the chat's file upload: Gradio's first step of adding files
        return "editor"
    return "reader"


class AccessGuard:
    """Refuse requests without the role they need: 401 for programs, the sign-in page for browsers."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.access.enabled:
            await self.app(scope, receive, send)
            return
        need = needed_role(scope.get("method", "GET"), scope["path"])
        role = self._role(scope)
        if need is None or role == "editor" or role == need:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if role is None and scope.get("method") == "GET" and _wants_html(scope):
            target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
            await RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)(scope, receive, send)
            return
        status, code, detail = (
            (401, ErrorCode.KEY_NEEDED, "missing or wrong X-API-Key header, or no signed-in session")
            if role is None
            else (
                403,
                ErrorCode.EDITOR_KEY_NEEDED,
                "this key may ask and read, not change documents: an editor key is needed",
            )
        )
        await JSONResponse(error_body(code, detail), status_code=status)(scope, receive, send)

    def _role(self, scope: Scope) -> Role | None:
        return self.access.role_of({k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])})


def _wants_html(scope: Scope) -> bool:
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return b"text/html" in accept


router = APIRouter(include_in_schema=False)


@router.get("/login")
async def sign_in_page(request: Request, next: str = "/", failed: bool = False) -> HTMLResponse:
    return _sign_in(next, failed)


@router.post("/login")
async def sign_in(request: Request, key: str = Form(""), next: str = Form("/")) -> Response:
    access = Access.of(request.app.state.settings)
    role = access.role_of_key(key) if access.enabled else None
    if role is None:
        return _sign_in(next, failed=True, status=401)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE,
        access.session(role),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
async def sign_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _sign_in(next: str, failed: bool, status: int = 200) -> HTMLResponse:
    page = page_html("sign_in.html", next=_local(next), failed=failed)
    return page_response(page, status=status, form_action="'self'")


def _local(target: str) -> str:
    """Only a path of this server: a sign-in must not send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"
