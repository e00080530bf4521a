"""Conversations and feedback in a real PostgreSQL: a throwaway server of the machine's
PostgreSQL (Debian's `postgresql` package), started once per test run and listening only on a
unix socket in a temporary folder. tests/test_conversations.py runs the store's behaviour
tests on it too (its `url` fixture); here, what only several servers on one database show.

PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE

import httpx
import psycopg
import pytest
from sqlalchemy import text
from test_api import RUTTE, running_server  # tests/ is on sys.path under pytest

from ui import conversations
from ui.conversations import ConversationStore, NoSuchConversation, StoreError, new_id
from ui.feedback import append_feedback, feedback_entry

INSTALL = "PostgreSQL is not installed: apt-get install postgresql (Debian, Ubuntu), then run the tests again"
SUPERUSER = "rag"
_SERVER = pytest.StashKey["PostgreSQL"]()
PROJECT = Path(__file__).parent.parent


@dataclass(frozen=True)
class PostgreSQL:
    socket_dir: Path
    pg_ctl: tuple[str, ...]  # the server's pg_ctl, run as the server's user, on its data folder
    options: str

    def start(self) -> None:
        _run([*self.pg_ctl, "-l", str(self.socket_dir / "log"), "-o", self.options, "start"])

    def stop(self) -> None:
        _run([*self.pg_ctl, "-m", "immediate", "stop"])

    def new_database(self) -> str:
        """An empty database of its own, as a SQLAlchemy URL."""
        name = f"test_{new_id()}"
        with psycopg.connect(host=str(self.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{SUPERUSER}@/{name}?host={self.socket_dir}"


def _binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on the PATH, or where Debian installs them (not on the PATH)."""
    found = shutil.which("initdb") or max(glob.glob("/usr/lib/postgresql/*/bin/initdb"), default=None)
    return Path(found).resolve().parent if found else None


@contextlib.contextmanager
def running_postgresql() -> Iterator[PostgreSQL]:
    binaries = _binaries()
    if binaries is None:
        pytest.skip(INSTALL)
    as_user: list[str] = []
    # Not pytest's tmp_path: its folders are private to root, and the server cannot enter them.
    folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    try:
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip(f"PostgreSQL refuses to run as root and there is no postgres user. {INSTALL}")
            os.chown(folder, user.pw_uid, user.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data = folder / "data"
        run = [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust"]
        _run([*run, "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"])
        # A time zone other than UTC, so that a time read back in the server's zone shows.
        options = f"-c listen_addresses='' -k {folder} -c fsync=off -c full_page_writes=off -c TimeZone=Asia/Kolkata"
        server = PostgreSQL(folder, (*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-w"), options)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgresql(request: pytest.FixtureRequest) -> PostgreSQL:
    """The test run's PostgreSQL server. tests/test_conversations.py imports this fixture, and pytest
    then holds one per module: the config's stash keeps it to one server per run."""
    if _SERVER not in request.config.stash:
        started = contextlib.ExitStack()
        request.config.stash[_SERVER] = started.enter_context(running_postgresql())
        request.config.add_cleanup(started.close)
    return request.config.stash[_SERVER]


@pytest.fixture()
def url(postgresql: PostgreSQL) -> str:
    return postgresql.new_database()


def test_two_servers_on_one_database_share_conversations_and_feedback(url: str) -> None:
    # `postgresql://` as people write it works too: the store picks psycopg 3 for it.
    one, other = ConversationStore(url), ConversationStore(url.replace("postgresql+psycopg://", "postgresql://"))
    me = "api:replica-test"
    started = one.create(me, "Started on one")
    assert [c.id for c in other.find(me)] == [started.id]
    other.add_turn(me, started.id, RUTTE, None, "failed", "the model's server is down", answer_id="a" * 32)
    assert [t.question for t in one.get(me, started.id).turns] == [RUTTE]

    given = {"question": RUTTE, "answer": "Three.", "citations": [], "refused": False, "backend": "extractive"}
    append_feedback(one, me, feedback_entry(given, "a" * 32, "down"))
    append_feedback(other, me, feedback_entry(given, "a" * 32, "down", "Names none of them."))
    assert [(e["vote"], e["comment"]) for e in one.read_feedback()] == [("down", "Names none of them.")]
    assert one.get(me, started.id).turns[0].comment == "Names none of them."

    other.delete(me, started.id)
    with pytest.raises(NoSuchConversation):
        one.get(me, started.id)
    assert len(other.read_feedback()) == 1  # feedback outlives its conversation


def test_servers_starting_at_once_on_an_empty_database_create_the_tables_once(url: str) -> None:
    # Each process loads the program and connects, says so, and upgrades the schema when told: all at once.
    connected = "import sys; from sqlalchemy import create_engine; from ui.conversations import upgrade; "
    connected += "engine = create_engine(sys.argv[1]); engine.connect().close(); print(flush=True); input(); "
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", connected + "upgrade(engine, 'the test database')", url],
            cwd=PROJECT,
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in starts:
        process.stdout.readline()
    for process in starts:
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [process.communicate(timeout=120)[1] for process in starts]
    assert [process.returncode for process in starts] == [0] * len(starts), errors
    with ConversationStore(url).engine.connect() as db:
        assert db.execute(text("SELECT version_num FROM alembic_version")).all() == [("0002",)]


def test_an_unreachable_server_is_named_with_what_to_do_and_without_the_password() -> None:
    with pytest.raises(StoreError) as refused:
        ConversationStore("postgresql+psycopg://rag:s3cret-pw@127.0.0.1:1/chat")
    message = str(refused.value)
    assert "cannot be reached" in message and "RAG_DATABASE_URL" in message and "start the database server" in message
    assert "s3cret-pw" not in message and "rag:***@127.0.0.1:1/chat" in message


def test_a_missing_driver_is_named_with_how_to_install_it() -> None:
    with pytest.raises(StoreError) as refused:
        ConversationStore("postgresql+pg8000://rag:s3cret-pw@db.example/chat")  # pg8000 is not installed
    message = str(refused.value)
    assert "driver pg8000, which is not installed" in message and "pip install 'psycopg[binary]'" in message
    assert "RAG_DATABASE_URL" in message and "s3cret-pw" not in message


def test_two_rag_servers_on_one_postgresql_serve_the_same_conversations(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # running_server (tests/test_api.py) takes no settings: both servers' stores open this database instead.
    monkeypatch.setattr(conversations, "default_url", lambda settings: url)
    me = {"X-Client-Id": "client-" + new_id()}
    with (
        running_server(tmp_path) as one,
        running_server(tmp_path) as other,
        httpx.Client(base_url=one.url, headers=me, timeout=60) as api_one,
        httpx.Client(base_url=other.url, headers=me, timeout=60) as api_other,
    ):
        conversation_id = api_one.post("/api/conversations", json={}).json()["id"]
        asked = api_other.post("/api/ask", json={"question": RUTTE, "conversation_id": conversation_id})
        assert asked.status_code == 200
        turns = api_one.get(f"/api/conversations/{conversation_id}").json()["turns"]
        assert [t["question"] for t in turns] == [RUTTE]
        answer_id = asked.headers["X-Answer-Id"]
        voted = api_one.post("/api/feedback", json={"answer": asked.json(), "vote": "up", "answer_id": answer_id})
        assert voted.json() == {"answer_id": answer_id}
        assert api_other.get(f"/api/conversations/{conversation_id}").json()["turns"][0]["vote"] == "up"


def test_a_server_whose_database_goes_away_says_so_and_recovers_when_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PostgreSQL of this test's own: the run's shared one must stay up for the other tests.
    with running_postgresql() as database:
        url = database.new_database()
        monkeypatch.setattr(conversations, "default_url", lambda settings: url)
        me = {"X-Client-Id": "client-" + new_id()}
        with running_server(tmp_path) as server, httpx.Client(base_url=server.url, headers=me, timeout=60) as api:
            conversation_id = api.post("/api/conversations", json={}).json()["id"]
            assert api.get("/api/health").json()["database"] == {
                "kind": "postgresql",
                "reachable": True,
                "problem": None,
            }

            database.stop()
            health = api.get("/api/health")
            assert health.status_code == 503 and health.json()["status"] == "degraded"
            problem = health.json()["database"]["problem"]
            assert "cannot be reached" in problem and "start the database server" in problem and "\n" not in problem
            assert health.json()["vector_store"]["reachable"] and health.json()["documents"] >= 5
            continued = api.post("/api/ask", json={"question": RUTTE, "conversation_id": conversation_id})
            assert continued.status_code == 503 and continued.json()["detail"] == problem
            assert continued.json()["code"] == "DATABASE_UNREACHABLE"
            assert api.post("/api/ask", json={"question": RUTTE}).status_code == 200  # no conversation: no database

            database.start()
            assert api.get("/api/health").json()["status"] == "ok"
            continued = api.post("/api/ask", json={"question": RUTTE, "conversation_id": conversation_id})
            assert continued.status_code == 200 and continued.json()["citations"]
