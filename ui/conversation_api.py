"""/api/conversations: saved conversations for REST clients and the widget.

A client names itself with an opaque `X-Client-Id` (the widget keeps a random one in the
browser's storage); it sees and changes only its own conversations. `POST /api/ask` with a
`conversation_id` answers from that conversation's history and saves the turn.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ui.api_deps import Client, api_key_scheme, errors, store_of
from ui.conversations import NoSuchConversation
from ui.errors import ApiError, ErrorCode

router = APIRouter(
    prefix="/api/conversations",
    dependencies=[Depends(api_key_scheme)],
    tags=["conversations"],
    responses=errors(401, 404),
)


class NewConversation(BaseModel):
    title: str = Field(default="", max_length=500, description="Default: the first question.")


class Rename(BaseModel):
    title: str = Field(min_length=1, max_length=500)


@router.post("", summary="Start a conversation", status_code=201)
async def create(body: NewConversation, request: Request, owner: Client) -> dict[str, Any]:
    conversation = await run_in_threadpool(store_of(request).create, owner, body.title)
    return conversation.to_json()


@router.get("", summary="Your conversations, most recent first")
async def list_conversations(request: Request, owner: Client, search: str = "") -> list[dict[str, Any]]:
    found = await run_in_threadpool(store_of(request).find, owner, search)
    return [{k: v for k, v in c.to_json().items() if k != "turns"} for c in found]


@router.get("/{conversation_id}", summary="A conversation with every turn and its whole answer")
async def get(conversation_id: str, request: Request, owner: Client) -> dict[str, Any]:
    return (await _call(store_of(request).get, owner, conversation_id)).to_json()


@router.get(
    "/{conversation_id}/markdown",
    summary="A conversation as Markdown, with the sources each answer cites",
    response_model=None,
    # Declared here rather than by response_class, which would also re-label the JSON error bodies.
    responses={200: {"description": "The conversation as a Markdown file.", "content": {"text/markdown": {}}}},
)
async def markdown(conversation_id: str, request: Request, owner: Client) -> Response:
    conversation = await _call(store_of(request).get, owner, conversation_id)
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", conversation.title).strip("-")[:60] or "conversation"
    return Response(
        conversation.markdown(),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
    )


@router.patch("/{conversation_id}", summary="Rename a conversation")
async def rename(conversation_id: str, body: Rename, request: Request, owner: Client) -> dict[str, Any]:
    return (await _call(store_of(request).rename, owner, conversation_id, body.title)).to_json()


@router.delete("/{conversation_id}", summary="Delete a conversation and its turns")
async def delete(conversation_id: str, request: Request, owner: Client) -> dict[str, str]:
    await _call(store_of(request).delete, owner, conversation_id)
    return {"deleted": conversation_id}


async def _call(method: Any, *args: Any) -> Any:
    try:
        return await run_in_threadpool(method, *args)
    except NoSuchConversation as exc:
        raise ApiError(404, ErrorCode.NO_SUCH_CONVERSATION, str(exc)) from exc
