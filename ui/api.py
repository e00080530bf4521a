"""The REST API for embedding teams: ask (plain or streamed), manage documents, health.

Every answer is `Answer.to_json()`, exactly what `rag ask --json` prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import AfterValidator, BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from rag.answer import Answer, EvidenceFound
from rag.backends import choices, describe
from rag.engine import Engine, NoIndex
from rag.ingest import IndexProblem  # what ingesting raises when the index cannot be written
from rag.llms import BackendUnavailable
from rag.settings import Settings
from ui.api_deps import Client, api_key_scheme, engine_of, errors, settings_of, store_of
from ui.conversations import NoSuchConversation, new_id, saving_turn
from ui.documents import NO_DOCUMENTS, document_rows, forget_upload, ingest_uploads, save_upload
from ui.errors import ApiError, ErrorCode, error_body
from ui.feedback import append_feedback, feedback_entry

# Answering is CPU-bound: running more answers at once than there are cores only
# thrashes them, and threads woken by the engine's (unfair) locks can starve for
# a minute under load. Answers beyond this many wait in a first-come queue instead.
ANSWER_SLOTS = max(2, os.cpu_count() or 2)
DISCONNECT_POLL_SECONDS = 0.5  # how often a request waiting for a slot checks that its client is still there


class ChatMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


def _known_backend(name: str | None) -> str | None:
    if name is not None and name not in choices():
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(choices())}")
    return name


class AskRequest(BaseModel):
    question: str = Field(description="The question; at most `max_question_chars` characters.")
    history: list[ChatMessage] = Field(default_factory=list, description="Earlier turns, oldest first, for follow-ups.")
    backend: Annotated[str | None, AfterValidator(_known_backend)] = Field(
        default=None,
        description="Who answers; default: the server's `llm_backend` setting.",
        json_schema_extra={"enum": [*choices(), None]},
    )
    conversation_id: str | None = Field(
        default=None,
        max_length=64,
        description="A saved conversation (POST /api/conversations) to continue instead of sending `history`: "
        "its turns are the history, and this turn is saved to it.",
    )


@dataclasses.dataclass(frozen=True)
class Asked:
    """A checked question with the history it is asked in, and where its turn is saved (if anywhere)."""

    question: str
    history: list[dict[str, str]]
    owner: str
    conversation_id: str | None
    answer_id: str = dataclasses.field(default_factory=new_id)  # the saved turn's id, for feedback on it

    def answer_stream(
        self, request: Request, backend: str | None, stop: threading.Event
    ) -> Iterator[str | EvidenceFound | Answer]:
        stream = engine_of(request).ask_stream(self.question, self.history, backend, stop)
        if self.conversation_id is None:
            return stream
        return saving_turn(stream, store_of(request), self.owner, self.conversation_id, self.question, self.answer_id)


async def asked(body: AskRequest, request: Request, owner: str) -> Asked:
    question = checked_question(body, settings_of(request))
    if body.conversation_id is None:
        return Asked(question, _history(body), owner, None)
    if body.history:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            "send either history or conversation_id: a saved conversation has its own history",
        )
    try:
        history = await run_in_threadpool(store_of(request).history, owner, body.conversation_id)
    except NoSuchConversation as exc:
        raise ApiError(404, ErrorCode.NO_SUCH_CONVERSATION, str(exc)) from exc
    return Asked(question, history, owner, body.conversation_id)


def _answer_slots(request: Request) -> anyio.CapacityLimiter:
    # Created on first use: a limiter belongs to the running event loop.
    if getattr(request.app.state, "answer_slots", None) is None:
        request.app.state.answer_slots = anyio.CapacityLimiter(ANSWER_SLOTS)
    return request.app.state.answer_slots


router = APIRouter(prefix="/api", dependencies=[Depends(api_key_scheme)], tags=["api"], responses=errors(401))


def checked_question(body: AskRequest, settings: Settings) -> str:
    question = body.question.strip()
    if not question:
        raise ApiError(422, ErrorCode.QUESTION_EMPTY, "the question is empty")
    if len(question) > settings.max_question_chars:
        raise ApiError(
            422,
            ErrorCode.QUESTION_TOO_LONG,
            f"the question has {len(question)} characters: the limit is {settings.max_question_chars}",
        )
    return question


def _history(body: AskRequest | FeedbackRequest) -> list[dict[str, str]]:
    return [message.model_dump() for message in body.history]


@router.post(
    "/ask",
    summary="Answer a question with citations",
    response_model=Answer,
    responses=errors(404, 409, 413, 499, 503),
)
async def ask(body: AskRequest, request: Request, response: Response, owner: Client) -> dict[str, Any]:
    """With a `conversation_id`, the header `X-Answer-Id` names the saved turn (for /api/feedback)."""
    question = await asked(body, request, owner)
    if question.conversation_id is not None:
        response.headers["X-Answer-Id"] = question.answer_id
    answer = None
    try:
        async for item in _answer_items(question, body.backend, request):
            answer = item if isinstance(item, Answer) else answer
    except BackendUnavailable as exc:
        raise ApiError(503, ErrorCode.MODEL_UNAVAILABLE, str(exc)) from exc
    except NoIndex as exc:  # a server on a folder of its own, before the first upload
        raise ApiError(409, ErrorCode.NO_DOCUMENTS, NO_DOCUMENTS) from exc
    except ValueError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc
    if answer is None:
        raise ApiError(499, ErrorCode.CLIENT_CLOSED, "the client closed the request before the answer was ready")
    return answer.to_json()


async def ask_stream(body: AskRequest, request: Request, owner: Client) -> EventSourceResponse:
    """Server-sent events: `turn` (with a `conversation_id`: the id the turn is saved under, for
    /api/feedback), `evidence` (the passages found, before the model starts), `token`
    (answer text as it is checked), then one `answer` (the Answer JSON, whose text replaces the
    tokens: it adds the short answer once the model has judged it, or the notice that the
    documents don't state it); `error` (JSON with `detail`) if answering fails midway."""
    question = await asked(body, request, owner)
    saved = question.answer_id if question.conversation_id is not None else None
    return EventSourceResponse(_answer_events(_answer_items(question, body.backend, request), saved))


router.add_api_route(
    "/ask/stream",
    ask_stream,
    methods=["POST"],
    summary="Answer a question, streamed as SSE",
    responses=errors(404, 413),
    response_class=EventSourceResponse,
)


async def _answer_events(
    items: AsyncIterator[str | EvidenceFound | Answer], saved_as: str | None
) -> AsyncIterator[ServerSentEvent]:
    if saved_as is not None:
        yield ServerSentEvent(json.dumps({"answer_id": saved_as}), event="turn")
    try:
        async for item in items:
            if isinstance(item, Answer):
                yield ServerSentEvent(json.dumps(item.to_json(), ensure_ascii=False), event="answer")
            elif isinstance(item, EvidenceFound):
                evidence = [dataclasses.asdict(c) for c in item.citations]
                yield ServerSentEvent(json.dumps(evidence, ensure_ascii=False), event="evidence")
            else:
                yield ServerSentEvent(item, event="token")
    except Exception as exc:  # noqa: BLE001  (the response has started: an error can only travel as an event)
        yield ServerSentEvent(json.dumps(_failure(exc)), event="error")


def _failure(exc: Exception) -> dict[str, str]:
    """The `error` event's body: what failed, with its code."""
    if isinstance(exc, NoIndex):  # its own message names the server's folder, which visitors do not see
        return error_body(ErrorCode.NO_DOCUMENTS, NO_DOCUMENTS)
    if isinstance(exc, BackendUnavailable):
        return error_body(ErrorCode.MODEL_UNAVAILABLE, str(exc))
    return error_body(ErrorCode.ANSWER_FAILED, f"{type(exc).__name__}: {exc}")


@dataclasses.dataclass(frozen=True)
class _Failed:
    error: Exception


async def _answer_items(
    question: Asked, backend: str | None, request: Request
) -> AsyncIterator[str | EvidenceFound | Answer]:
    """The answer's items, for as long as the client is there; a saved conversation answers one
    question at a time (a second one is refused with 409, never interleaved)."""
    answering = _answering(request)
    if question.conversation_id in answering:
        raise ApiError(
            409,
            ErrorCode.CONVERSATION_BUSY,
            "this conversation is still answering its last question: wait for it, or stop it",
        )
    if question.conversation_id is not None:
        answering.add(question.conversation_id)  # no await since the check: no other request came between
    try:
        async for item in _answer_in_a_slot(question, backend, request):
            yield item
    finally:
        answering.discard(question.conversation_id)


def _answering(request: Request) -> set[str | None]:
    """The saved conversations with a question being answered: one at a time each, never interleaved."""
    if getattr(request.app.state, "answering", None) is None:
        request.app.state.answering = set()
    return request.app.state.answering


async def _answer_in_a_slot(
    question: Asked, backend: str | None, request: Request
) -> AsyncIterator[str | EvidenceFound | Answer]:
    """The answer runs in a thread of its own, holding an answer slot; a client that hangs up
    (while waiting for a slot, or midway) stops the model at its next token, and its slot is
    free within about a second."""
    slots = _answer_slots(request)
    # The slot is held for the whole answer, not per token: the local model's lock is held
    # across tokens, so a stream waiting for a slot mid-answer could deadlock with it.
    borrower = object()
    while True:
        with anyio.move_on_after(DISCONNECT_POLL_SECONDS):
            await slots.acquire_on_behalf_of(borrower)
            break
        if await request.is_disconnected():
            return
    stop = threading.Event()
    stream = question.answer_stream(request, backend, stop)
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()
    done = object()

    def deliver(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop closed: the server is shutting down
            loop.call_soon_threadsafe(items.put_nowait, item)

    def produce() -> None:
        # This thread alone runs and closes the stream: a generator cannot be closed while
        # another thread is inside it.
        try:
            for item in stream:
                deliver(item)
                if stop.is_set():
                    break
        except Exception as exc:  # noqa: BLE001  (handed to the request, which reports it)
            deliver(_Failed(exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            deliver(done)

    worker = threading.Thread(target=produce, name="answer", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(items.get(), DISCONNECT_POLL_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                continue
            if item is done or await request.is_disconnected():
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]  # the stream's own items
    finally:
        stop.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(worker.join)
        slots.release_on_behalf_of(borrower)


@router.get("/documents", summary="The documents in the index")
async def list_documents(request: Request) -> list[dict[str, Any]]:
    return await run_in_threadpool(document_rows, engine_of(request))


@router.post(
    "/documents",
    summary="Upload files into the index (txt, md, html, pdf, docx, jsonl)",
    responses=errors(403, 413, 503),
)
async def upload_documents(request: Request, files: Annotated[list[UploadFile], File()]) -> dict[str, Any]:
    engine = engine_of(request)
    saved = [
        (f.filename or "upload", await run_in_threadpool(save_upload, settings_of(request), f.filename or "", f.file))
        for f in files
    ]
    try:
        outcomes = await run_in_threadpool(ingest_uploads, engine, saved)
    except IndexProblem as exc:  # a full disk, a read-only folder: nothing changed, and the message says so
        raise ApiError(503, ErrorCode.INDEX_UNAVAILABLE, str(exc)) from exc
    return {"files": [outcome.to_json() for outcome in outcomes]}


@router.delete("/documents/{doc_id:path}", summary="Remove a document from the index", responses=errors(403, 404))
async def delete_document(doc_id: str, request: Request) -> dict[str, Any]:
    engine = engine_of(request)
    document = (await run_in_threadpool(engine.documents)).get(doc_id)
    if document is None:
        raise ApiError(404, ErrorCode.NO_SUCH_DOCUMENT, f"no document with id {doc_id!r}")
    removed = await run_in_threadpool(engine.remove, [doc_id])
    await run_in_threadpool(forget_upload, engine, settings_of(request), document.origin)
    return {"removed": removed}


class GivenAnswer(BaseModel):
    """The parts of the Answer JSON (as /api/ask returned it) that feedback keeps."""

    question: str
    answer: str
    short_answer: str = ""
    citations: list[dict[str, Any]] = Field(default_factory=list)
    refused: bool = False
    backend: str = ""


class FeedbackRequest(BaseModel):
    answer: GivenAnswer = Field(description="The answer as /api/ask or the `answer` event gave it.")
    history: list[ChatMessage] = Field(default_factory=list, description="The turns before the question.")
    vote: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)
    answer_id: str | None = Field(
        default=None, max_length=64, description="Send the id a first vote returned to add a comment to it."
    )


@router.post("/feedback", summary="Thumbs up or down on an answer, with an optional comment")
async def give_feedback(body: FeedbackRequest, request: Request, owner: Client) -> dict[str, str]:
    """An `answer_id` of a saved turn (X-Answer-Id, the `turn` event) also keeps the vote with it."""
    answer_id = body.answer_id or new_id()
    entry = feedback_entry(body.answer.model_dump(), answer_id, body.vote, body.comment, _history(body))
    await run_in_threadpool(append_feedback, store_of(request), owner, entry)
    return {"answer_id": answer_id}


@router.get(
    "/health",
    summary="Is the server up, what does it serve, and can it reach its index and database",
    responses={503: {"description": "The index or the conversation database cannot be reached (the body says why)."}},
)
async def health(request: Request, response: Response) -> dict[str, Any]:
    """Answered while the index or the database is down: `status` is then "degraded" (HTTP 503, so a
    load balancer sends questions to another replica) and the part that is down says why."""
    engine, conversations = engine_of(request), store_of(request)
    index, database = await asyncio.gather(
        run_in_threadpool(_index_health, engine), run_in_threadpool(conversations.problem)
    )
    index_problem = index.pop("problem", None)
    if index_problem or database:
        response.status_code = 503
    return {
        "status": "degraded" if index_problem or database else "ok",
        **index,
        "backend": describe(engine.settings),
        "vector_store": _part(engine.settings.vector_store, index_problem),
        "database": _part(conversations.kind, database),
    }


def _index_health(engine: Engine) -> dict[str, Any]:
    """What the index holds, or why it cannot be read; an index nothing was written to yet holds nothing."""
    try:
        stats = engine.stats()
    except NoIndex:
        return {"documents": 0, "chunks": 0, "embedder": None}
    except IndexProblem as exc:
        return {"documents": None, "chunks": None, "embedder": None, "problem": str(exc)}
    return {"documents": stats.documents, "chunks": stats.chunks, "embedder": stats.embedder}


def _part(kind: str, problem: str | None) -> dict[str, Any]:
    return {"kind": kind, "reachable": problem is None, "problem": problem}
