"""What the API's routes depend on: the engine, the settings, the conversation store, the
caller's client id, the key scheme the OpenAPI schema declares, and the error bodies."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from rag.engine import Engine
from rag.settings import Settings
from ui.conversations import ConversationStore
from ui.errors import ApiError, ErrorCode

CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A reader or editor key, when the server runs with keys set."
)


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def settings_of(request: Request) -> Settings:
    """The server's settings (key, limits); the engine answers with its own."""
    return request.app.state.settings


def store_of(request: Request) -> ConversationStore:
    return request.app.state.conversations


def client_of(
    x_client_id: Annotated[
        str | None,
        Header(
            description="Your client's opaque id (letters, digits, `_.:-`; at most 100): conversations are kept "
            "per id, so use a random one per user."
        ),
    ] = None,
) -> str:
    if x_client_id is not None and not CLIENT_ID.fullmatch(x_client_id):
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "X-Client-Id: use at most 100 letters, digits and _ . : -")
    return f"api:{x_client_id or 'default'}"


Client = Annotated[str, Depends(client_of)]


def api_key_scheme(key: str | None = Security(_api_key_header)) -> None:
    """Declares X-API-Key in the OpenAPI schema; `ui.access.AccessGuard` checks it, on every route."""


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, in a sentence a person can act on.")
    code: ErrorCode | None = Field(
        default=None, description="What went wrong, for programs: a client may say it in its own words."
    )


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    why = {
        401: "No key, or a wrong one (when the server runs with keys).",
        403: "A reader key, where an editor key is needed.",
        404: "No such document or conversation (a conversation of another client counts as none).",
        409: "The conversation is still answering its previous question, or the index holds no documents yet.",
        413: "The request body is over the limit.",
        499: "The client hung up before the answer was ready.",
        503: "The answering model's server is down, or the index or the conversation database cannot be reached "
        "or written.",
    }
    return {code: {"model": ErrorBody, "description": why[code]} for code in codes}
