"""Thumbs up/down (and an optional comment) on answers, kept as JSON lines on disk, and
turned into test cases for the evaluator (`rag feedback export`).

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


def feedback_entry(
    answer: dict[str, Any],
    answer_id: str,
    vote: Vote,
    comment: str = "",
    history: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One feedback record from an answer as `Answer.to_json()` gives it, with the turns before it."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "answer_id": answer_id,
        "vote": vote,
        "comment": comment.strip(),
        "question": answer["question"],
        "history": history or [],
        "answer": answer["answer"],
        "short_answer": answer.get("short_answer", ""),
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


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """The last record per answer (a comment repeats its vote), in the order they were last given."""
    latest: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                latest.pop(entry["answer_id"], None)  # re-inserted: dicts keep the last insertion order
                latest[entry["answer_id"]] = entry
    return list(latest.values())


def as_test_case(entry: dict[str, Any]) -> dict[str, Any]:
    """A feedback record as a question of the benchmark format (`rag eval --questions`).

    A thumbs-up proposes the answer given (its short answer, else its text) and the documents
    it cited as the reference; a thumbs-down leaves both empty. Either way the evaluator
    reviews `answers` and `gold_doc_ids` before the file becomes a regression set: until
    then an empty `gold_doc_ids` reads as "the documents do not answer this".
    """
    liked = entry["vote"] == "up" and not entry["refused"]
    return {
        "id": f"feedback-{entry['answer_id'][:12]}",
        "question": entry["question"],
        "history": entry.get("history", []),
        "answers": [entry.get("short_answer") or entry["answer"]] if liked else [],
        "gold_doc_ids": sorted({c["doc_id"] for c in entry["citations"]}) if liked else [],
        "type": "feedback",
        "needs_review": True,
        "vote": entry["vote"],
        "comment": entry["comment"],
        "given_answer": entry["answer"],
        "given_refused": entry["refused"],
        "given_backend": entry["backend"],
        "asked_at": entry["timestamp"],
    }
