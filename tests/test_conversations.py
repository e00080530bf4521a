"""Saved conversations and feedback: what a briefer and an API client rely on across reloads,
restarts and upgrades, in a real SQLite database and a real PostgreSQL (tests/test_postgres.py
starts it; without PostgreSQL installed those runs are skipped), and tests/test_api.py's real
server for the REST API."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, text
from test_api import RUTTE, running_server  # tests/ is on sys.path under pytest
from test_postgres import postgresql  # noqa: F401  # a fixture: the `url` fixture asks for it by name

from rag.answer import Answer, Citation
from rag.settings import Settings
from ui import conversations
from ui.conversations import ConversationStore, NoSuchConversation, StoreError, TurnRow, new_id
from ui.feedback import append_feedback, as_test_case, feedback_entry

BRIEFER, OTHER = "browser:briefer", "browser:someone-else"


def answer(question: str, text: str = "He named three priorities [1].") -> Answer:
    cited = Citation(1, "002_x", "Rutte's priorities", "demo/002.txt", 0, 40, "Rutte named three priorities.")
    return Answer(question, text, [cited], [], refused=False, confidence=0.8, backend="extractive")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the store is used with."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conversations.db'}"
    return request.getfixturevalue("postgresql").new_database()


@pytest.fixture()
def store(url: str) -> ConversationStore:
    return ConversationStore(url)


def test_a_conversation_keeps_its_turns_and_is_named_after_its_first_question(store):
    conversation = store.create(BRIEFER)
    store.add_turn(BRIEFER, conversation.id, RUTTE, answer(RUTTE))
    store.add_turn(BRIEFER, conversation.id, "And China?", None, "failed", "the model's server is down")
    saved = store.get(BRIEFER, conversation.id)
    assert saved.title == RUTTE
    assert [(t.question, t.status) for t in saved.turns] == [(RUTTE, "answered"), ("And China?", "failed")]
    assert saved.turns[0].answer == answer(RUTTE)  # the whole Answer, citations included
    assert saved.turns[1].error == "the model's server is down"
    # A follow-up is asked with the answered turns, not the failed one.
    assert store.history(BRIEFER, conversation.id) == [
        {"role": "user", "content": RUTTE},
        {"role": "assistant", "content": "He named three priorities [1]."},
    ]


def test_conversations_are_listed_newest_first_searched_renamed_and_deleted(store):
    first, second = store.create(BRIEFER, "Budget questions"), store.create(BRIEFER)
    store.add_turn(BRIEFER, second.id, "Who leads NATO?", answer("Who leads NATO?"))
    store.create(OTHER, "Budget of someone else")
    assert [c.id for c in store.find(BRIEFER)] == [second.id, first.id]
    assert [c.title for c in store.find(BRIEFER, "budget")] == ["Budget questions"]
    store.rename(BRIEFER, second.id, "NATO leadership")
    assert [c.title for c in store.find(BRIEFER, "nato")] == ["NATO leadership"]
    assert [c.title for c in store.find(BRIEFER, "100%_")] == []  # wildcards are plain characters
    store.delete(BRIEFER, second.id)
    assert [c.id for c in store.find(BRIEFER)] == [first.id]
    with pytest.raises(NoSuchConversation):
        store.get(BRIEFER, second.id)


def test_another_owners_conversation_is_no_conversation(store):
    mine = store.create(BRIEFER)
    for attempt in (
        lambda: store.get(OTHER, mine.id),
        lambda: store.rename(OTHER, mine.id, "taken"),
        lambda: store.delete(OTHER, mine.id),
        lambda: store.add_turn(OTHER, mine.id, "q", None),
        lambda: store.get(BRIEFER, new_id()),
    ):
        with pytest.raises(NoSuchConversation, match="no conversation with id"):
            attempt()
    assert store.get(BRIEFER, mine.id).title == ""


def test_a_conversation_exports_as_markdown_with_its_sources(store):
    conversation = store.create(BRIEFER)
    store.add_turn(BRIEFER, conversation.id, RUTTE, answer(RUTTE))
    text = store.get(BRIEFER, conversation.id).markdown()
    assert text.startswith(f"# {RUTTE}\n")
    assert f"## {RUTTE}\n\nHe named three priorities [1]." in text
    assert "Sources:\n\n1. Rutte's priorities: “Rutte named three priorities.”" in text


def test_a_ten_thousand_turn_conversation_answers_follow_ups_from_its_last_turns(store):
    conversation = store.create(BRIEFER)
    now = datetime.now(UTC)
    rows = [
        {
            "conversation_id": conversation.id,
            "position": i,
            "answer_id": new_id(),
            "question": f"question {i}",
            "answer": answer(f"question {i}", f"answer {i}").to_json(),
            "status": "answered",
            "error": "",
            "comment": "",
            "created_at": now,
        }
        for i in range(10_000)
    ]
    with store.engine.begin() as connection:
        connection.execute(insert(TurnRow), rows)
    history = store.history(BRIEFER, conversation.id)
    assert len(history) == 2 * conversations.HISTORY_TURNS
    assert history[-1] == {"role": "assistant", "content": "answer 9999"}
    store.add_turn(BRIEFER, conversation.id, "one more", answer("one more"))
    assert len(store.get(BRIEFER, conversation.id).turns) == 10_001


def test_times_are_given_in_utc_whatever_the_database_keeps(store):
    conversation = store.create(BRIEFER)
    store.add_turn(BRIEFER, conversation.id, RUTTE, answer(RUTTE))
    saved = store.get(BRIEFER, conversation.id)
    assert {moment.utcoffset() for moment in (saved.created_at, saved.updated_at, saved.turns[0].created_at)} == {
        UTC.utcoffset(None)
    }


def test_reopening_the_database_keeps_everything(url):
    conversation = ConversationStore(url).create(BRIEFER, "kept")
    assert ConversationStore(url).get(BRIEFER, conversation.id).title == "kept"


def test_a_database_from_a_newer_version_is_refused_untouched(url):
    store = ConversationStore(url)
    store.create(BRIEFER, "kept")
    with store.engine.begin() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(StoreError, match="newer version of this program.*RAG_DATABASE_URL"):
        ConversationStore(url)
    with store.engine.connect() as db:
        assert db.execute(text("SELECT title FROM conversations")).all() == [("kept",)]


def test_a_damaged_database_file_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(StoreError, match="damaged.*move it aside"):
        ConversationStore(f"sqlite:///{path}")
    assert path.read_bytes().startswith(b"this is not a database")


def test_a_setting_that_is_no_database_url_is_named_without_repeating_it():
    with pytest.raises(StoreError, match="RAG_DATABASE_URL .* is not a database URL") as refused:
        ConversationStore("host=db password=s3cret-pw")  # a libpq keyword string, not a URL
    assert "s3cret-pw" not in str(refused.value)


def test_a_database_locked_by_another_program_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(conversations, "SQLITE_BUSY_SECONDS", 0.2)
    path = tmp_path / "c.db"
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another program"):
            ConversationStore(f"sqlite:///{path}")
    finally:
        holder.rollback()
        holder.close()


# --------------------------------------------------------------------------- feedback


def given(question: str) -> dict:
    return answer(question).to_json()


def test_feedback_keeps_the_last_record_per_answer_in_the_order_last_given(store):
    conversation = store.create(BRIEFER)
    turn = store.add_turn(BRIEFER, conversation.id, RUTTE, answer(RUTTE))
    history = [{"role": "user", "content": "Who leads NATO?"}, {"role": "assistant", "content": "Rutte."}]
    append_feedback(store, BRIEFER, feedback_entry(given(RUTTE), turn.answer_id, "up", "", history))
    append_feedback(store, OTHER, feedback_entry(given("Unsaved?"), "unsaved", "down", "Wrong."))
    append_feedback(store, BRIEFER, feedback_entry(given(RUTTE), turn.answer_id, "up", "  Exactly.  ", history))
    entries = store.read_feedback()
    assert [(e["answer_id"], e["comment"]) for e in entries] == [("unsaved", "Wrong."), (turn.answer_id, "Exactly.")]
    assert entries[1]["history"] == history and entries[1]["citations"] == given(RUTTE)["citations"]
    case = as_test_case(entries[1])
    assert case["answers"] == [answer(RUTTE).answer] and case["gold_doc_ids"] == ["002_x"]
    assert case["asked_at"].endswith("+00:00")
    saved = store.get(BRIEFER, conversation.id).turns[0]
    assert (saved.vote, saved.comment) == ("up", "Exactly.")  # kept with the saved turn too


def test_an_older_versions_feedback_file_is_imported_once_and_kept(url, tmp_path):
    file = tmp_path / "feedback.jsonl"
    voted = feedback_entry(given(RUTTE), "a1", "down")
    older = {k: v for k, v in feedback_entry(given("Who?"), "b2", "up").items() if k not in ("history", "short_answer")}
    lines = [voted, older, {**voted, "comment": "Only one of three."}]
    file.write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"answer_id": "cut short', encoding="utf-8")
    written = file.read_bytes()
    settings = Settings(index_dir=tmp_path / "index", feedback_path=file, database_url=url)

    store = ConversationStore.of(settings)
    assert [(e["answer_id"], e["comment"]) for e in store.read_feedback()] == [("b2", ""), ("a1", "Only one of three.")]
    assert store.read_feedback()[0]["history"] == []
    assert not file.exists() and (tmp_path / "feedback.jsonl.imported").read_bytes() == written
    assert len(ConversationStore.of(settings).read_feedback()) == 2  # not imported again


# --------------------------------------------------------------------------- REST API


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("conversations-server")) as server:
        yield server


def test_an_api_client_continues_a_saved_conversation_by_its_id(server):
    me = {"X-Client-Id": "client-" + new_id()}
    with httpx.Client(base_url=server.url, timeout=60, headers=me) as api:
        created = api.post("/api/conversations", json={})
        assert created.status_code == 201
        conversation_id = created.json()["id"]
        first = api.post("/api/ask", json={"question": RUTTE, "conversation_id": conversation_id})
        assert first.status_code == 200 and not first.json()["refused"]
        follow_up = api.post(
            "/api/ask/stream", json={"question": "And what did he say about China?", "conversation_id": conversation_id}
        )
        assert follow_up.status_code == 200 and "event: answer" in follow_up.text
        saved = api.get(f"/api/conversations/{conversation_id}").json()
        assert saved["title"] == RUTTE
        assert [t["question"] for t in saved["turns"]] == [RUTTE, "And what did he say about China?"]
        assert saved["turns"][0]["answer"] == first.json()
        # The follow-up was asked with the saved turn before it.
        assert "rutte" in saved["turns"][1]["answer"]["standalone_question"].lower()
        assert [c["id"] for c in api.get("/api/conversations").json()] == [conversation_id]
        exported = api.get(f"/api/conversations/{conversation_id}/markdown")
        assert exported.headers["content-type"].startswith("text/markdown") and f"## {RUTTE}" in exported.text
        assert api.patch(f"/api/conversations/{conversation_id}", json={"title": "Rutte"}).json()["title"] == "Rutte"
        assert api.delete(f"/api/conversations/{conversation_id}").status_code == 200
        assert api.get(f"/api/conversations/{conversation_id}").status_code == 404


def test_a_conversation_is_visible_only_to_its_client(server):
    with httpx.Client(base_url=server.url, timeout=60) as api:
        mine = api.post("/api/conversations", json={"title": "mine"}, headers={"X-Client-Id": "alice"}).json()["id"]
        other = {"X-Client-Id": "mallory"}
        assert api.get(f"/api/conversations/{mine}", headers=other).status_code == 404
        assert api.delete(f"/api/conversations/{mine}", headers=other).status_code == 404
        asked = api.post("/api/ask", json={"question": RUTTE, "conversation_id": mine}, headers=other)
        assert asked.status_code == 404 and "no conversation with id" in asked.json()["detail"]
        assert mine not in [c["id"] for c in api.get("/api/conversations", headers=other).json()]
        assert api.get("/api/conversations", headers={"X-Client-Id": "bad id!"}).status_code == 422


def test_history_and_a_conversation_id_together_are_refused(server):
    with httpx.Client(base_url=server.url, timeout=60) as api:
        conversation_id = api.post("/api/conversations", json={}).json()["id"]
        both = {"question": RUTTE, "conversation_id": conversation_id, "history": [{"role": "user", "content": "hi"}]}
        refused = api.post("/api/ask", json=both)
        assert refused.status_code == 422 and "either history or conversation_id" in refused.json()["detail"]


def test_a_restarted_server_still_has_the_conversations(tmp_path):
    with running_server(tmp_path) as first, httpx.Client(base_url=first.url, timeout=60) as api:
        conversation_id = api.post("/api/conversations", json={}).json()["id"]
        api.post("/api/ask", json={"question": RUTTE, "conversation_id": conversation_id})
    with running_server(tmp_path) as second, httpx.Client(base_url=second.url, timeout=60) as api:
        turns = api.get(f"/api/conversations/{conversation_id}").json()["turns"]
        assert [t["question"] for t in turns] == [RUTTE]
