"""Thumbs up/down (and an optional comment) on answers, kept as JSON lines on disk.

Each vote or comment appends one line; a comment sent after a vote repeats the vote
with the same `answer_id`, so the last line per answer_id is the reader's truth and
nothing is ever rewritten in place.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Vote = Literal["up", "down"]


def feedback_entry(answer: dict[str, Any], answer_id: str, vote: Vote, comment: str = "") -> dict[str, Any]:
    """One feedback record from an answer as `Answer.to_json()` gives it."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "answer_id": answer_id,
        "vote": vote,
        "comment": comment.strip(),
        "question": answer["question"],
        "answer": answer["answer"],
        "citations": answer["citations"],
        "refused": answer["refused"],
        "backend": answer["backend"],
    }


def append_feedback(path: Path, entry: dict[str, Any]) -> None:
    """Append one line durably: it is on disk when this returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    # One write() on an O_APPEND descriptor: concurrent writers (threads or server
    # processes) cannot interleave inside a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
