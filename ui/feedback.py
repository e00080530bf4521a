"""Thumbs up/down (and an optional comment) on answers, kept in the conversation store's
database (ui/conversations.py), and turned into test cases for the evaluator (`rag feedback export`).

Each vote or comment appends one record; a comment sent after a vote repeats the vote
with the same `answer_id`, so the last record per answer_id is the reader's truth and
nothing is ever rewritten in place.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any, Literal

from ui.conversations import ConversationStore, NoSuchConversation

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


def append_feedback(store: ConversationStore, owner: str, entry: dict[str, Any]) -> None:
    """Keep a feedback record; a vote on one of the owner's saved answers is kept with its turn too."""
    store.add_feedback(entry)
    with contextlib.suppress(NoSuchConversation):  # an answer not saved, or its conversation deleted since
        store.set_feedback(owner, entry["answer_id"], entry["vote"], entry["comment"])


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
