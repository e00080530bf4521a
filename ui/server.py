"""One FastAPI app: REST API, source viewer, widget, offline API docs, and the Gradio chat at `/`.

Routes are registered before Gradio is mounted at `/`, which would otherwise
catch every path.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import fastapi_offline
import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.responses import HTMLResponse, JSONResponse

from rag.engine import Engine
from rag.ingest import IndexProblem  # what the index raises when it cannot be read or written
from rag.settings import Settings
from ui import access, api, conversation_api, viewer, widget
from ui.access import Access, AccessGuard
from ui.chat import ASSETS, build_chat, theme
from ui.conversations import ConversationStore
from ui.errors import ApiError, ErrorCode, api_error, error_body
from ui.limits import JSON_BODY_LIMIT, BodyLimit

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"

API_DESCRIPTION = """Cited answers from your own documents.

When the server runs with keys (`RAG_READER_KEY`, `RAG_API_KEY` for editors), every request
needs the header `X-API-Key`; uploading and deleting need the editor key. Answers are the
same JSON that `rag ask --json` prints."""


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    app = FastAPI(title="Briefing bot", description=API_DESCRIPTION, version="1", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine or Engine(settings)
    app.state.conversations = ConversationStore.of(settings)

    upload_limit = int(settings.max_upload_mb * 1_000_000)

    def body_limit(path: str) -> int | None:
        if path.startswith("/api/documents"):
            return upload_limit
        if path.startswith("/api/") or path == "/widget/ask/stream":
            return JSON_BODY_LIMIT
        return None

    app.add_middleware(BodyLimit, limit_for=body_limit)
    app.add_middleware(AccessGuard, access=Access.of(settings))  # inside CORS: preflights need no key
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Content-Type", "X-API-Key", "X-Client-Id"],
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(IndexProblem, _index_problem)
    app.add_exception_handler(DBAPIError, _database_problem)
    app.openapi = partial(_openapi, app)  # type: ignore[method-assign]

    app.include_router(access.router)
    app.include_router(api.router)
    app.include_router(conversation_api.router)
    app.include_router(viewer.router)
    app.include_router(widget.router)
    app.mount("/ui-assets", StaticFiles(directory=ASSETS), name="ui-assets")
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # FastAPI's stock page loads Swagger UI from a CDN; these files ship with fastapi-offline.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Briefing bot API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # else Swagger UI sends the spec to validator.swagger.io
        )

    return gr.mount_gradio_app(
        app,
        build_chat(app.state.engine, settings, app.state.conversations),
        path="/",
        theme=theme(),
        css_paths=[ASSETS / "chat.css"],
        js=(ASSETS / "chat.js").read_text(encoding="utf-8"),
        footer_links=[],
        run_history=False,
        mcp_server=False,
        ssr_mode=False,
        pwa=False,
        max_file_size=upload_limit,
        show_error=True,
    )


async def _index_problem(request: Request, exc: Any) -> JSONResponse:
    """503 with the store's own line (Milvus down, another embedder's collection), not a traceback."""
    return JSONResponse(error_body(ErrorCode.STORE_UNREACHABLE, str(exc)), status_code=503)


async def _database_problem(request: Request, exc: Any) -> JSONResponse:
    """503 with what to fix when the conversation database fails mid-request; /api/health says when it is back."""
    detail = request.app.state.conversations.unreachable(exc)
    return JSONResponse(error_body(ErrorCode.DATABASE_UNREACHABLE, detail), status_code=503)


async def _validation_error(request: Request, exc: Any) -> JSONResponse:
    """422 with a sentence a person can act on, plus FastAPI's details for programs."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        message = "the request body is not valid JSON"
    else:
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in errors
        )
    return JSONResponse({**error_body(ErrorCode.INVALID_REQUEST, message), "errors": _plain(errors)}, status_code=422)


# What `_validation_error` sends, in place of FastAPI's stock schema (whose `detail` is the list).
VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, in a sentence a person can act on."},
        "code": {
            "type": "string",
            "enum": [ErrorCode.INVALID_REQUEST, ErrorCode.QUESTION_EMPTY, ErrorCode.QUESTION_TOO_LONG],
            "description": "What is wrong, for programs.",
        },
        "errors": {
            "type": "array",
            "description": "Each problem, for programs (absent for a question's own checks).",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["HTTPValidationError"] = VALIDATION_ERROR
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
    return app.openapi_schema


def _plain(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The raw errors may hold the offending bytes or exception objects, which JSON cannot carry.
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))} for e in errors]
