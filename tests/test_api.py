"""The REST API against a real uvicorn server on loopback, over a temporary demo index.

The server answers with the extractive backend (fast, no LLM). tests/test_browser.py
starts its own with `running_server`.
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from eval.benchmark import read_questions
from rag.answer import Answer
from rag.cli import main as cli_main
from rag.engine import Engine
from rag.settings import Settings
from ui.conversations import default_url
from ui.server import create_app

RUTTE = "What are Rutte's three priorities?"
PRIORITIES = "002_159690cec7945fb9"  # the demo article with the three priorities
ALLOWED_ORIGIN = "http://allowed.example"


@dataclass
class Server:
    url: str
    engine: Engine
    settings: Settings
    outbound: list[str] = field(default_factory=list)  # non-loopback connections the server process tried


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a free loopback port, in a background thread."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _loopback(host: object) -> bool:
    if host in ("localhost", None, b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host)).is_loopback
    except ValueError:
        return False


def _watch_outbound(record: list[str]) -> None:
    """Record connections and lookups to non-loopback hosts made off the main thread (the server's)."""

    def hook(event: str, args: tuple) -> None:
        if event not in ("socket.connect", "socket.getaddrinfo") or sys.is_finalizing():
            return  # at exit, modules the hook uses may already be gone
        if threading.current_thread() is threading.main_thread():
            return  # the tests themselves, not the server
        if event == "socket.connect" and isinstance(args[1], tuple) and not _loopback(args[1][0]):
            record.append(f"connect {args[1]}")
        elif event == "socket.getaddrinfo" and not _loopback(args[0]):
            record.append(f"lookup {args[0]!r}")

    sys.addaudithook(hook)


@contextmanager
def running_server(root: Path, **changes: Any) -> Iterator[Server]:
    """The whole app on loopback over a fresh demo index in `root`, answering extractively;
    `changes` to these settings (another vector store) go to the Settings as they are."""
    settings = Settings(
        index_dir=root / "index",  # empty: the engine indexes the demo corpus on first use
        llm_backend="extractive",
        # These tests check plumbing, not the refusal threshold: keep the demo questions answered.
        min_relevance=0.15,
        openai_base_url="http://127.0.0.1:9/v1",  # nothing listens there: the openai backend fails fast
        cors_origins=(ALLOWED_ORIGIN,),
        max_upload_mb=0.05,
        max_question_chars=300,
        feedback_path=root / "feedback.jsonl",
        **changes,
    )
    engine = Engine(settings)
    engine.documents()  # the demo corpus indexed before the first request
    outbound: list[str] = []
    _watch_outbound(outbound)
    with serving(create_app(settings, engine)) as url:
        yield Server(url, engine, settings, outbound)


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("api-server")) as server:
        yield server


@pytest.fixture(scope="module")
def client(api_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_server.url, timeout=60) as c:
        yield c


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    events, event, data = [], "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
    return events


def test_feedback_given_through_the_api_becomes_test_cases_with_their_history(
    client: httpx.Client, api_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.post("/api/ask", json={"question": RUTTE}).json()
    history = [{"role": "user", "content": RUTTE}, {"role": "assistant", "content": first["answer"]}]
    follow_up = client.post(
        "/api/ask", json={"question": "And what did he say about Ukraine?", "history": history}
    ).json()
    liked = client.post("/api/feedback", json={"answer": follow_up, "history": history, "vote": "up"}).json()
    client.post(
        "/api/feedback",
        json={"answer": follow_up, "history": history, "vote": "up", "comment": "Exactly.", **liked},
    ).raise_for_status()  # a comment on the vote already given: one answer, not two
    client.post(
        "/api/feedback", json={"answer": first, "vote": "down", "comment": "Only two of the three."}
    ).raise_for_status()
    assert client.post("/api/feedback", json={"answer": first, "vote": "meh"}).status_code == 422

    out = tmp_path / "cases.jsonl"
    monkeypatch.setenv("RAG_DATABASE_URL", default_url(api_server.settings))
    monkeypatch.setenv("RAG_FEEDBACK_PATH", str(api_server.settings.feedback_file))
    assert cli_main(["feedback", "export", "--out", str(out)]) == 0
    cases = {case.question: case for case in read_questions(out)}
    liked_case, disliked_case = cases["And what did he say about Ukraine?"], cases[RUTTE]
    assert liked_case.history == history and liked_case.extra["comment"] == "Exactly."
    assert liked_case.answers == [follow_up["short_answer"] or follow_up["answer"]]  # proposed as the reference
    assert liked_case.gold_doc_ids == sorted({c["doc_id"] for c in follow_up["citations"]})
    assert disliked_case.answers == [] and disliked_case.extra["comment"] == "Only two of the three."
    assert disliked_case.extra["given_answer"] == first["answer"] and disliked_case.extra["needs_review"]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_a_client_that_hangs_up_stops_its_answer(
    api_server: Server, client: httpx.Client, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # The real answer stream, each piece held back a little, as a model's tokens come: the
    # client leaves after the first, and the server must stop before the answer is complete.
    finished, stopped = threading.Event(), threading.Event()
    real = api_server.engine.ask_stream

    def slow_stream(*args: Any) -> Iterator[Any]:
        try:
            for item in real(*args):
                if isinstance(item, Answer):
                    finished.set()
                yield item
                time.sleep(0.8)
        finally:
            stopped.set()

    monkeypatch.setattr(api_server.engine, "ask_stream", slow_stream)
    try:
        with client.stream("POST", path, json={"question": RUTTE}, timeout=0.6) as response:
            next(response.iter_lines())  # the stream has begun: the client leaves
    except httpx.ReadTimeout:
        pass  # /api/ask sends nothing before the whole answer: the client gave up waiting
    assert stopped.wait(30) and not finished.is_set()
    monkeypatch.undo()
    assert client.post("/api/ask", json={"question": RUTTE}).status_code == 200  # and the next one is served


def test_health(client: httpx.Client) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["documents"] >= 5 and health["chunks"] > 0
    assert health["embedder"] and health["backend"] == "extractive"


def test_ask_returns_the_answer_json_with_citations_into_passages(client: httpx.Client) -> None:
    response = client.post("/api/ask", json={"question": RUTTE})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {f.name for f in fields(Answer)}  # exactly Answer.to_json()
    answer = Answer.from_json(data)
    assert not answer.refused and answer.citations and answer.backend == "extractive"
    chunks = {p.chunk_id: p for p in answer.passages}
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.answer
        passage = chunks[citation.chunk_id]
        assert passage.doc_id == citation.doc_id and passage.start <= citation.start < citation.end <= passage.end


def test_stream_sends_the_evidence_then_tokens_then_one_answer(client: httpx.Client) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": RUTTE}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["evidence", "token"] and kinds[-1] == "answer" and kinds.count("answer") == 1
    evidence = json.loads(events[0][1])
    assert evidence and {"doc_id", "start", "end", "quote"} <= set(evidence[0])
    answer = Answer.from_json(json.loads(events[-1][1]))
    assert "".join(data for kind, data in events if kind == "token").strip() == answer.answer.strip()


def test_follow_up_uses_history(client: httpx.Client) -> None:
    first = client.post("/api/ask", json={"question": RUTTE}).json()
    history = [{"role": "user", "content": RUTTE}, {"role": "assistant", "content": first["answer"]}]
    follow_up = client.post("/api/ask", json={"question": "And what is his second one?", "history": history}).json()
    assert "Rutte" in follow_up["standalone_question"] and "second" in follow_up["standalone_question"]


def test_backend_failure_is_a_503_or_an_error_event(client: httpx.Client) -> None:
    response = client.post("/api/ask", json={"question": RUTTE, "backend": "openai"})
    assert response.status_code == 503 and response.json()["detail"]
    assert response.json()["code"] == "MODEL_UNAVAILABLE"
    with client.stream("POST", "/api/ask/stream", json={"question": RUTTE, "backend": "openai"}) as response:
        events = sse_events(response)
    assert events[-1][0] == "error" and json.loads(events[-1][1])["detail"]
    assert json.loads(events[-1][1])["code"] == "MODEL_UNAVAILABLE"


def test_a_conversation_answers_one_question_at_a_time(
    api_server: Server, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api_server.engine.ask_stream

    def slow_stream(*args: Any) -> Iterator[Any]:  # the real stream, at a model's pace
        for item in real(*args):
            yield item
            time.sleep(0.5)

    monkeypatch.setattr(api_server.engine, "ask_stream", slow_stream)
    conversation = client.post("/api/conversations", json={}).json()["id"]
    asked = {"question": RUTTE, "conversation_id": conversation}
    with client.stream("POST", "/api/ask/stream", json=asked) as first:
        lines = first.iter_lines()
        while next(lines) != "event: evidence":
            pass
        second = client.post("/api/ask", json=asked)
        assert second.status_code == 409 and second.json()["code"] == "CONVERSATION_BUSY"
        assert "still answering" in second.json()["detail"]


def test_uploaded_text_is_searchable_right_away(client: httpx.Client) -> None:
    text = b"Zorblax accord\n\nThe Zorblax accord on drone airspace was signed in Vilnius by Admiral Quentin Marlowe."
    response = client.post("/api/documents", files=[("files", ("zorblax-accord.txt", text, "text/plain"))])
    assert response.status_code == 200
    [outcome] = response.json()["files"]
    assert outcome["status"] == "added" and outcome["documents"] == ["zorblax-accord"]
    answer = client.post("/api/ask", json={"question": "Who signed the Zorblax accord?"}).json()
    assert any(c["doc_id"] == "zorblax-accord" for c in answer["citations"])
    assert "zorblax-accord" in {d["doc_id"] for d in client.get("/api/documents").json()}


def test_bad_files_are_reported_per_file_and_the_server_keeps_serving(client: httpx.Client, api_server: Server) -> None:
    files = [
        ("files", ("chart.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")),
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("../../escape attempt.md", b"# Fine\n\nA perfectly good note about logistics.", "text/markdown")),
    ]
    outcomes = {o["file"]: o for o in client.post("/api/documents", files=files).json()["files"]}
    assert outcomes["chart.png"]["status"] == "skipped" and "unsupported" in outcomes["chart.png"]["reason"]
    assert outcomes["empty.txt"]["status"] == "skipped" and outcomes["empty.txt"]["reason"]
    assert outcomes["../../escape attempt.md"]["status"] == "added"
    assert (api_server.settings.index_dir.parent / "uploads" / "escape attempt.md").is_file()  # stayed inside
    assert client.get("/api/health").json()["status"] == "ok"


def test_a_failed_re_upload_keeps_the_previous_version_in_the_index_and_on_disk(
    client: httpx.Client, api_server: Server
) -> None:
    good = b"The Zorblax depot opens at six and closes at ten."
    client.post("/api/documents", files=[("files", ("depot-hours.txt", good, "text/plain"))])
    broken = client.post("/api/documents", files=[("files", ("depot-hours.txt", b"\x00\x01\x02" * 400, "text/plain"))])
    outcome = broken.json()["files"][0]
    assert outcome["status"] == "skipped" and "kept" in outcome["reason"] and outcome["documents"] == ["depot-hours"]
    stored = api_server.settings.index_dir.parent / "uploads" / "depot-hours.txt"
    assert stored.read_bytes() == good
    assert api_server.engine.snapshot().documents["depot-hours"].text == good.decode()
    assert not any((stored.parent / ".staging").iterdir())


def test_a_re_upload_with_a_bad_record_changes_nothing_and_says_which_line(client: httpx.Client) -> None:
    good = b'{"id": "quay-1", "text": "Quay one takes ferries."}\n{"id": "quay-2", "text": "Quay two takes barges."}'
    first = client.post("/api/documents", files=[("files", ("quays.jsonl", good, "application/jsonl"))]).json()
    assert first["files"][0]["status"] == "added" and first["files"][0]["reason"] == ""
    broken = good.replace(b'{"id": "quay-2"', b'{"id": "quay-2",,')
    outcome = client.post("/api/documents", files=[("files", ("quays.jsonl", broken, "application/jsonl"))]).json()[
        "files"
    ][0]
    assert (
        outcome["status"] == "skipped" and "line 2: invalid JSON" in outcome["reason"] and "kept" in outcome["reason"]
    )
    assert {"quay-1", "quay-2"} <= {d["doc_id"] for d in client.get("/api/documents").json()}
    fresh = client.post(
        "/api/documents", files=[("files", ("docks.jsonl", broken.replace(b"quay", b"dock"), "application/jsonl"))]
    ).json()["files"][0]
    assert fresh["status"] == "added" and fresh["documents"] == ["dock-1"] and "line 2: invalid JSON" in fresh["reason"]


def test_delete_document(client: httpx.Client, api_server: Server) -> None:
    client.post(
        "/api/documents", files=[("files", ("short-lived.txt", b"A note that will be removed soon.", "text/plain"))]
    )
    assert client.delete("/api/documents/short-lived").json() == {"removed": ["short-lived"]}
    assert "short-lived" not in {d["doc_id"] for d in client.get("/api/documents").json()}
    assert not (api_server.settings.index_dir.parent / "uploads" / "short-lived.txt").exists()
    missing = client.delete("/api/documents/short-lived")
    assert missing.status_code == 404 and "short-lived" in missing.json()["detail"]


def test_delete_removes_exactly_the_document_named(client: httpx.Client) -> None:
    records = b"\n".join(
        [
            b'{"id": "zorblax-summary", "source": "zorblax-minutes", "text": "The Zorblax summary lists three decisions."}',
            b'{"id": "zorblax-minutes", "text": "Minutes of the Zorblax meeting on tram timetables."}',
        ]
    )
    client.post("/api/documents", files=[("files", ("zorblax.jsonl", records, "application/jsonl"))])
    assert client.delete("/api/documents/zorblax-minutes").json() == {"removed": ["zorblax-minutes"]}
    assert "zorblax-summary" in {d["doc_id"] for d in client.get("/api/documents").json()}


READER, EDITOR = "reader-k3y-for-tests", "editor-k3y-for-tests"


@pytest.fixture(scope="module")
def keyed(api_server: Server) -> Iterator[str]:
    """The same app and index, run with a reader and an editor key."""
    settings = api_server.settings.replace(api_key=EDITOR, reader_key=READER)
    with serving(create_app(settings, api_server.engine)) as url:
        yield url


def test_with_keys_set_nothing_that_holds_data_answers_without_one(keyed: str) -> None:
    with httpx.Client(base_url=keyed) as anyone:
        for method, path in [
            ("GET", "/api/health"),
            ("GET", "/api/documents"),
            ("POST", "/api/ask"),
            ("GET", f"/sources/{PRIORITIES}"),
            ("POST", "/widget/ask/stream"),
            ("GET", "/gradio_api/info"),
            ("GET", "/config"),
            ("POST", "/gradio_api/upload"),
            ("POST", "/gradio_api/queue/join"),
            ("DELETE", f"/api/documents/{PRIORITIES}"),
        ]:
            response = anyone.request(method, path, json={"question": RUTTE})
            assert response.status_code == 401, (method, path, response.status_code)
        wrong = anyone.get("/api/health", headers={"X-API-Key": EDITOR[:-1] + "x"})
        assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
        assert wrong.json()["code"] == "KEY_NEEDED"
        browser = anyone.get("/", headers={"Accept": "text/html"})
        assert browser.status_code == 303 and browser.headers["location"] == "/login?next=%2F"
        for open_page in ("/login", "/widget.js", "/widget", "/docs"):
            assert anyone.get(open_page).status_code == 200, open_page
        assert anyone.get("/widget").headers["content-security-policy"].endswith(f"frame-ancestors {ALLOWED_ORIGIN}")


def test_a_reader_asks_and_reads_an_editor_also_changes_documents(keyed: str, api_server: Server) -> None:
    with httpx.Client(base_url=keyed, headers={"X-API-Key": READER}, timeout=60) as reader:
        assert reader.post("/api/ask", json={"question": RUTTE}).status_code == 200
        assert reader.get(f"/sources/{PRIORITIES}").status_code == 200
        note = [("files", ("reader-note.txt", b"Readers must not add this.", "text/plain"))]
        for response in (
            reader.post("/api/documents", files=note),
            reader.delete(f"/api/documents/{PRIORITIES}"),
            reader.post("/gradio_api/upload", files=note),
        ):
            assert response.status_code == 403 and "editor key" in response.json()["detail"]
            assert response.json()["code"] == "EDITOR_KEY_NEEDED"
    with httpx.Client(base_url=keyed, headers={"X-API-Key": EDITOR}, timeout=60) as editor:
        added = editor.post(
            "/api/documents", files=[("files", ("editor-note.txt", b"Editors may add notes.", "text/plain"))]
        )
        assert added.json()["files"][0]["status"] == "added"
        assert editor.delete("/api/documents/editor-note").json() == {"removed": ["editor-note"]}
    assert PRIORITIES in api_server.engine.snapshot().documents


def test_a_browser_signs_in_once_and_carries_a_session_cookie(keyed: str) -> None:
    with httpx.Client(base_url=keyed) as browser:
        refused = browser.post("/login", data={"key": "guess", "next": "/"})
        assert refused.status_code == 401 and "not valid" in refused.text
        signed_in = browser.post("/login", data={"key": READER, "next": "https://elsewhere.example/"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"  # never sent elsewhere
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get(f"/sources/{PRIORITIES}").status_code == 200
        assert browser.get("/gradio_api/info").status_code == 200
        assert browser.post("/api/documents", files=[("files", ("x.txt", b"x", "text/plain"))]).status_code == 403
        session = browser.cookies["rag_session"]
        forged = session.replace("reader.", "editor.", 1)
        browser.cookies.set("rag_session", forged)
        assert browser.get("/api/health").status_code == 401


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"question": "   "}, "empty", "QUESTION_EMPTY"),
        ({"question": "x" * 301}, "limit is 300", "QUESTION_TOO_LONG"),
        ({"question": RUTTE, "backend": "gpt-9"}, "backend", "INVALID_REQUEST"),
        ({"history": []}, "question", "INVALID_REQUEST"),
    ],
)
def test_bad_questions_get_clear_422s(client: httpx.Client, body: dict, message: str, code: str) -> None:
    for path in ("/api/ask", "/api/ask/stream"):
        response = client.post(path, json=body)
        assert response.status_code == 422
        assert message in response.json()["detail"] and response.json()["code"] == code


def test_bad_json_and_oversize_bodies(client: httpx.Client, api_server: Server) -> None:
    bad = client.post("/api/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and bad.json()["detail"] == "the request body is not valid JSON"
    assert bad.json()["code"] == "INVALID_REQUEST"

    huge_history = [{"role": "user", "content": "x" * 100_000}] * 11
    too_big = client.post("/api/ask", json={"question": RUTTE, "history": huge_history})
    assert too_big.status_code == 413 and "too large" in too_big.json()["detail"]
    assert too_big.json()["code"] == "TOO_LARGE"

    big_file = b"word " * 12_000  # 60 kB against a 0.05 MB limit
    upload = client.post("/api/documents", files=[("files", ("big.txt", big_file, "text/plain"))])
    assert upload.status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(12):
            yield b"x" * 100_000

    streamed = client.post("/api/ask", content=chunked(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert client.get("/api/health").status_code == 200


def test_cors_allows_only_listed_origins(client: httpx.Client) -> None:
    allowed = client.get("/api/health", headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    other = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/api/ask",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_viewer_escapes_and_highlights_and_404s(client: httpx.Client) -> None:
    client.post("/api/documents", files=[("files", ("tags.txt", b"Before <b>bold</b> & after.", "text/plain"))])
    page = client.get("/sources/tags", params={"start": 7, "end": 18})
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert 'Before <mark id="cited">&lt;b&gt;bold&lt;/b&gt;</mark> &amp; after.' in page.text
    missing = client.get("/sources/no-such-document")
    assert missing.status_code == 404 and "no-such-document" in missing.text


def test_a_422_is_what_the_openapi_schema_says(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    ref = spec["paths"]["/api/ask"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    for body in ({"history": []}, {"question": "   "}):
        error = client.post("/api/ask", json=body).json()
        assert set(error) <= set(schema["properties"]) and set(schema["required"]) <= set(error)
        assert isinstance(error["detail"], str)


def test_openapi_docs_are_served_locally(client: httpx.Client) -> None:
    assert "/api/ask/stream" in client.get("/openapi.json").json()["paths"]
    docs = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_widget_assets_and_demo(client: httpx.Client, api_server: Server) -> None:
    assert client.get("/widget.js").headers["content-type"].startswith("text/javascript")
    assert "frame-ancestors *" in client.get("/widget").headers["content-security-policy"]
    demo = client.get("/embed-demo").text
    tag = f'<script src="{api_server.url}/widget.js" data-title="Briefing bot" async></script>'
    shown = re.search(r'<code id="snippet">(.*?)</code>', demo)
    assert shown and "<" not in shown[1] and html.unescape(shown[1]) == tag  # shown as text, whichever entities
    assert demo.count(tag) == 1  # and live


def test_server_made_no_outbound_connections(api_server: Server) -> None:
    assert api_server.outbound == []


def test_serve_warns_when_exposed_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **_: served.update(app=app, host=host, port=port))
    assert main(["--index", str(tmp_path / "index"), "serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    warning = capsys.readouterr().err
    assert "every network interface" in warning and "RAG_API_KEY" in warning
    assert (served["host"], served["port"]) == ("0.0.0.0", 8123)
    assert served["app"].state.settings.feedback_file == tmp_path / "feedback.jsonl"

    main(["--index", str(tmp_path / "index"), "serve"])
    assert "warning" not in capsys.readouterr().err and served["host"] == "127.0.0.1"


def test_requests_generated_from_the_openapi_schema_get_documented_answers(tmp_path: Path) -> None:
    """A bounded schemathesis run over every operation, on a keyed server of its own: no 5xx, responses
    as the schema says, wrong keys refused. Requests the schema allows but the server's runtime
    limits refuse (an empty or overlong question) are exempt from the "valid data is accepted" check;
    the extractive backend answers every question."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    with running_server(tmp_path) as server:
        keyed_settings = server.settings.replace(api_key=EDITOR, reader_key=READER)
        with serving(create_app(keyed_settings, server.engine)) as url:
            schema = schemathesis.openapi.from_url(url + "/openapi.json")
            operations = [result.ok() for result in schema.get_all_operations()]
            assert {op.label for op in operations} >= {"POST /api/ask", "POST /api/documents", "GET /api/health"}
            for operation in operations:

                @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy())
                def call(case: Any) -> None:
                    if isinstance(case.body, dict) and "backend" in case.body:
                        # The quoter answers: the dead LLM server's 503 and the local model's minutes are
                        # covered by their own tests.
                        case.body["backend"] = "extractive"
                    case.call_and_validate(headers={"X-API-Key": EDITOR}, excluded_checks=[positive_data_acceptance])

                call()
