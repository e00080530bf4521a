"""The API's errors: a sentence for people (`detail`) and a stable code for programs (`code`).

The widget says each code in its reader's language, and shows the server's sentence for a
code it does not know; so a code, once published, keeps its meaning.
"""

from __future__ import annotations

from enum import StrEnum

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse


class ErrorCode(StrEnum):
    KEY_NEEDED = "KEY_NEEDED"  # 401: no key, or a wrong one
    EDITOR_KEY_NEEDED = "EDITOR_KEY_NEEDED"  # 403: a reader key where an editor key is needed
    NO_SUCH_CONVERSATION = "NO_SUCH_CONVERSATION"  # 404
    NO_SUCH_DOCUMENT = "NO_SUCH_DOCUMENT"  # 404
    CONVERSATION_BUSY = "CONVERSATION_BUSY"  # 409: still answering its previous question
    NO_DOCUMENTS = "NO_DOCUMENTS"  # 409: the index holds no documents yet
    TOO_LARGE = "TOO_LARGE"  # 413: the request body is over the limit
    INVALID_REQUEST = "INVALID_REQUEST"  # 422: the body or a header is malformed
    QUESTION_EMPTY = "QUESTION_EMPTY"  # 422
    QUESTION_TOO_LONG = "QUESTION_TOO_LONG"  # 422
    CLIENT_CLOSED = "CLIENT_CLOSED"  # 499: the client hung up before the answer was ready
    MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE"  # 503: the answering model's server is down
    INDEX_UNAVAILABLE = "INDEX_UNAVAILABLE"  # 503: the index cannot be written
    STORE_UNREACHABLE = "STORE_UNREACHABLE"  # 503: the vector store (Milvus) cannot be reached or opened
    DATABASE_UNREACHABLE = "DATABASE_UNREACHABLE"  # 503: the conversation database cannot be reached
    ANSWER_FAILED = "ANSWER_FAILED"  # an answer failed midway (the stream's `error` event)


class ApiError(HTTPException):
    """An HTTP error whose body carries its code beside the sentence."""

    def __init__(self, status: int, code: ErrorCode, detail: str) -> None:
        super().__init__(status, detail)
        self.code = code


def error_body(code: ErrorCode, detail: str) -> dict[str, str]:
    return {"detail": detail, "code": code.value}


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)
