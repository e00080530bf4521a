"""Saved conversations and the readers' feedback in a SQL database: a SQLite file beside the
index by default, any SQLAlchemy URL by the `database_url` setting (PostgreSQL when several
servers share them; `postgresql://` uses psycopg 3, the driver this project installs).

Every conversation belongs to one owner, an opaque id its client keeps (a browser's, the
widget's, or an API client's `X-Client-Id`), and every operation names both: an id that
does not exist and one that belongs to someone else are the same "no such conversation".
Each turn keeps the question, the whole `Answer` as JSON, and how the turn ended
(answered, stopped by the reader, or failed with its error).

Feedback records (ui/feedback.py makes them) are appended, never rewritten: a comment sent
after a vote repeats the vote, so the last record per answer_id is the reader's truth. The
feedback file an older version appended to is moved into the database on the first start.

The schema is versioned by Alembic (ui/migrations): opening a store upgrades an older
database in place and refuses one written by a newer version rather than guess at it. On
PostgreSQL an advisory lock lets one of several servers starting at once upgrade, the others wait.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from rag.answer import Answer, EvidenceFound
from rag.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE_CHARS = 120
SQLITE_BUSY_SECONDS = 10.0  # how long a write waits for another process's lock before saying so
CONNECT_SECONDS = 10  # how long a database server may take to answer before it counts as unreachable
# Any fixed number: it names the lock every server of this program takes to upgrade the schema.
UPGRADE_LOCK = 0x7261675F736368  # "rag_sch"
HISTORY_TURNS = 20  # the turns a follow-up is condensed with; older ones stay saved, unread
Status = Literal["answered", "stopped", "failed"]
# A feedback record's fields besides its time (ui.feedback.feedback_entry), each a column of FeedbackRow.
FEEDBACK_FIELDS = (
    "answer_id",
    "vote",
    "comment",
    "question",
    "history",
    "answer",
    "short_answer",
    "citations",
    "refused",
    "backend",
)
# What a record of an older version lacks (history and short answers came later), as today's would say it.
FEEDBACK_DEFAULTS: dict[str, Any] = {"history": [], "short_answer": ""}

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The database cannot be used; the message says which and how to fix it."""


class NoSuchConversation(LookupError):
    pass


class Base(DeclarativeBase):
    pass


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_CHARS), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="TurnRow.position"
    )


class TurnRow(Base):
    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    answer_id: Mapped[str] = mapped_column(String(32), unique=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="answered")
    error: Mapped[str] = mapped_column(Text, default="")
    vote: Mapped[str | None] = mapped_column(String(8), nullable=True)  # up | down, from the reader
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    conversation: Mapped[ConversationRow] = relationship(back_populates="turns")


class FeedbackRow(Base):
    """One vote or comment on an answer, saved in a conversation or not (the API's answers need not be)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # the order they came in
    answer_id: Mapped[str] = mapped_column(String(64), index=True)
    vote: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    history: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # the turns before the question
    # The given answer's fields, as the reader saw them.
    answer: Mapped[str] = mapped_column(Text)
    short_answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    refused: Mapped[bool] = mapped_column(Boolean)
    backend: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class SavedTurn:
    answer_id: str  # feedback on this answer names it
    question: str
    answer: Answer | None  # None when the turn failed before an answer existed
    status: Status
    error: str
    created_at: datetime
    vote: str | None = None
    comment: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "answer_id": self.answer_id,
            "question": self.question,
            "answer": self.answer.to_json() if self.answer else None,
            "status": self.status,
            "error": self.error,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "vote": self.vote,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: list[SavedTurn] = field(default_factory=list)  # empty in listings

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "updated_at": self.updated_at.isoformat(timespec="seconds"),
            "turns": [t.to_json() for t in self.turns],
        }

    def history(self) -> list[dict[str, str]]:
        return as_history(self.turns)

    def markdown(self) -> str:
        """The conversation as Markdown: each question, its answer, and the sources it cites."""
        out = [f"# {self.title or 'Conversation'}", f"_{self.created_at:%Y-%m-%d %H:%M} UTC_"]
        for turn in self.turns:
            out.append(f"## {turn.question}")
            if turn.answer is None:
                out.append(f"_Not answered: {turn.error or 'failed'}_")
                continue
            out.append(turn.answer.answer + ("\n\n_(stopped before the end)_" if turn.status == "stopped" else ""))
            if turn.answer.citations:
                out.append(
                    "Sources:\n\n"
                    + "\n".join(f"{c.n}. {c.title}: “{' '.join(c.quote.split())}”" for c in turn.answer.citations)
                )
        return "\n\n".join(out) + "\n"


def as_history(turns: list[SavedTurn]) -> list[dict[str, str]]:
    """Turns as chat messages for a follow-up: the answered and stopped ones among the last few."""
    messages = []
    for turn in turns[-HISTORY_TURNS:]:
        if turn.answer is not None:
            messages += [
                {"role": "user", "content": turn.question},
                {"role": "assistant", "content": turn.answer.answer},
            ]
    return messages


def new_id() -> str:
    """An opaque, unguessable id (128 bits) for a conversation or an answer."""
    return secrets.token_hex(16)


def default_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{settings.index_dir.parent / 'conversations.db'}"


class ConversationStore:
    def __init__(self, url: str) -> None:
        self.engine = _engine(url)
        self.shown = _shown(self.engine.url)  # for messages
        upgrade(self.engine, self.shown)

    def problem(self) -> str | None:
        """Why the database cannot be used now, in one line; None when it answers. A connection that
        the server dropped is replaced (pool_pre_ping), so this turns None again once it is back."""
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except DBAPIError as exc:
            return self.unreachable(exc)
        return None

    def unreachable(self, exc: DBAPIError) -> str:
        """A failed statement as a one-line message that says what to fix."""
        return _cannot_open(self.engine, self.shown, exc)

    @property
    def kind(self) -> str:
        return self.engine.dialect.name

    @classmethod
    def of(cls, settings: Settings) -> ConversationStore:
        """The server's store, with the feedback file of an older version moved into it."""
        store = cls(default_url(settings))
        store.import_feedback(settings.feedback_file)
        return store

    def create(self, owner: str, title: str = "") -> Conversation:
        now = _now()
        row = ConversationRow(id=new_id(), owner=owner, title=_title(title), created_at=now, updated_at=now)
        with self._session() as session, session.begin():
            session.add(row)
        return _conversation(row, turns=False)

    def find(self, owner: str, search: str = "", limit: int = 200) -> list[Conversation]:
        """The owner's conversations, the most recently used first; `search` matches titles."""
        query = select(ConversationRow).where(ConversationRow.owner == owner)
        if search.strip():
            query = query.where(func.lower(ConversationRow.title).contains(search.strip().lower(), autoescape=True))
        query = query.order_by(ConversationRow.updated_at.desc()).limit(limit)
        with self._session() as session:
            return [_conversation(row, turns=False) for row in session.scalars(query)]

    def get(self, owner: str, conversation_id: str) -> Conversation:
        with self._session() as session:
            return _conversation(self._row(session, owner, conversation_id), turns=True)

    def rename(self, owner: str, conversation_id: str, title: str) -> Conversation:
        with self._session() as session, session.begin():
            row = self._row(session, owner, conversation_id)
            row.title = _title(title)
        return _conversation(row, turns=False)

    def delete(self, owner: str, conversation_id: str) -> None:
        with self._session() as session, session.begin():
            row = self._row(session, owner, conversation_id)
            session.execute(delete(TurnRow).where(TurnRow.conversation_id == row.id))
            session.delete(row)

    def add_turn(
        self,
        owner: str,
        conversation_id: str,
        question: str,
        answer: Answer | None,
        status: Status = "answered",
        error: str = "",
        answer_id: str | None = None,
    ) -> SavedTurn:
        """Append a turn; a conversation without a title is named after its first question."""
        now = _now()
        with self._session() as session, session.begin():
            row = self._row(session, owner, conversation_id, lock=True)
            position = session.scalar(
                select(func.coalesce(func.max(TurnRow.position), -1)).where(TurnRow.conversation_id == row.id)
            )
            turn = TurnRow(
                conversation_id=row.id,
                position=(position if position is not None else -1) + 1,
                answer_id=answer_id or new_id(),
                question=question,
                answer=answer.to_json() if answer else None,
                status=status,
                error=error,
                created_at=now,
            )
            session.add(turn)
            row.updated_at = now
            if not row.title:
                row.title = _title(question)
        return _turn(turn)

    def set_feedback(self, owner: str, answer_id: str, vote: str, comment: str = "") -> None:
        """Keep the reader's vote (and comment) on one of their saved answers."""
        with self._session() as session, session.begin():
            turn = session.scalar(select(TurnRow).where(TurnRow.answer_id == answer_id))
            if turn is None or turn.conversation.owner != owner:
                raise NoSuchConversation(f"no saved answer with id {answer_id!r}")
            turn.vote, turn.comment = vote, comment.strip() or turn.comment

    def add_feedback(self, entry: dict[str, Any]) -> None:
        """Keep one feedback record as `ui.feedback.feedback_entry` makes it."""
        with self._session() as session, session.begin():
            session.add(_feedback_row(entry))

    def read_feedback(self) -> list[dict[str, Any]]:
        """The last record per answer (a comment repeats its vote), in the order they were last given."""
        last = select(func.max(FeedbackRow.id)).group_by(FeedbackRow.answer_id)
        with self._session() as session:
            rows = session.scalars(select(FeedbackRow).where(FeedbackRow.id.in_(last)).order_by(FeedbackRow.id))
            return [_feedback_entry(row) for row in rows]

    def import_feedback(self, path: Path) -> int:
        """Move the records of a feedback file (JSON lines, as older versions kept feedback) into
        the database; the file is then renamed, never deleted. Returns how many records came in."""
        try:
            rows, unreadable = _feedback_rows(path)
        except FileNotFoundError:
            return 0
        with self._session() as session, session.begin():
            session.add_all(rows)
        kept = _aside(path)
        # Servers starting at once may each import the file: the last record per answer is the same.
        with contextlib.suppress(FileNotFoundError):
            path.rename(kept)
        if unreadable:
            log.warning("%d unreadable lines of %s were not imported; the file is kept as %s", unreadable, path, kept)
        return len(rows)

    def history(self, owner: str, conversation_id: str) -> list[dict[str, str]]:
        """The last turns as chat messages, read without loading a long conversation whole."""
        return as_history(self.recent(owner, conversation_id, HISTORY_TURNS))

    def recent(self, owner: str, conversation_id: str, count: int) -> list[SavedTurn]:
        """The last `count` turns, oldest first, without loading the rest."""
        with self._session() as session:
            row = self._row(session, owner, conversation_id)
            last = session.scalars(
                select(TurnRow).where(TurnRow.conversation_id == row.id).order_by(TurnRow.position.desc()).limit(count)
            ).all()
            return [_turn(t) for t in reversed(last)]

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @staticmethod
    def _row(session: Session, owner: str, conversation_id: str, lock: bool = False) -> ConversationRow:
        # Locked while a turn is added (on PostgreSQL; SQLite locks the whole file): two servers
        # adding to one conversation at once then number their turns one after the other.
        row = session.get(ConversationRow, conversation_id, with_for_update=lock)
        if row is None or row.owner != owner:
            raise NoSuchConversation(f"no conversation with id {conversation_id!r}")
        return row


def saving_turn(
    stream: Iterator[str | EvidenceFound | Answer],
    store: ConversationStore,
    owner: str,
    conversation_id: str,
    question: str,
    answer_id: str | None = None,
) -> Iterator[str | EvidenceFound | Answer]:
    """The answer stream, passed through, saving its turn once it ends: the Answer; or, when
    the reader stops it (the stream ends early or is closed), the text shown so far marked as
    stopped; or the error that ended it."""
    shown, evidence = "", None

    def save_stopped() -> None:
        store.add_turn(
            owner, conversation_id, question, stopped_answer(question, shown, evidence), "stopped", "", answer_id
        )

    try:
        for item in stream:
            if isinstance(item, Answer):
                store.add_turn(owner, conversation_id, question, item, answer_id=answer_id)
                yield item
                return
            if isinstance(item, EvidenceFound):
                evidence = item
            else:
                shown += item
            yield item
    except GeneratorExit:
        save_stopped()
        raise
    except Exception as exc:
        store.add_turn(owner, conversation_id, question, None, "failed", str(exc) or type(exc).__name__, answer_id)
        raise
    save_stopped()


def stopped_answer(question: str, shown: str, evidence: EvidenceFound | None) -> Answer:
    """What a stopped answer leaves: the checked text shown so far, with the evidence it cites."""
    cited = [c for c in (evidence.citations if evidence else []) if f"[{c.n}]" in shown]
    return Answer(question, shown.strip(), cited, [], refused=False, confidence=0.0, backend="")


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: it may hold a password.
        raise StoreError(
            "RAG_DATABASE_URL (the database_url setting) is not a database URL: use e.g. "
            "postgresql://user:password@host:5432/dbname, or leave it empty for the SQLite file beside the index"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # SQLAlchemy would pick psycopg2, not installed
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, **_engine_options(parsed))
    except NoSuchModuleError:
        raise StoreError(
            f"RAG_DATABASE_URL {_shown(parsed)} names a kind of database this program does not know: use "
            "postgresql://user:password@host:5432/dbname, or sqlite:///path/to/file.db"
        ) from None
    except ImportError as exc:
        raise StoreError(
            f"RAG_DATABASE_URL {_shown(parsed)} needs the database driver {exc.name}, which is not installed: "
            "install it into this program's environment (PostgreSQL: pip install 'psycopg[binary]' and use "
            "postgresql+psycopg://), or set RAG_DATABASE_URL to another database"
        ) from exc
    if sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            # Deleting a conversation deletes its turns; WAL lets readers go on while one writes.
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")

    return engine


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}}
    if url.get_backend_name() == "postgresql":
        # A server that went away (restarted, failed over) costs a reconnect, not a failed request.
        return {"connect_args": {"connect_timeout": CONNECT_SECONDS}, "pool_pre_ping": True}
    return {}


def upgrade(engine: Engine, shown: str) -> None:
    """Bring the schema to this version's head; refuse a newer or damaged database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Held to the end of this transaction: servers starting at once upgrade one after the other.
                connection.execute(select(func.pg_advisory_xact_lock(UPGRADE_LOCK)))
            current = MigrationContext.configure(connection).get_current_revision()
            if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
                raise StoreError(
                    f"the conversation database {shown} was written by a newer version of this program "
                    f"(schema {current}): upgrade the program, or set RAG_DATABASE_URL to another database"
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(_cannot_open(engine, shown, exc)) from exc
    except DatabaseError as exc:
        raise StoreError(_cannot_upgrade(engine, shown, exc)) from exc


def _cannot_open(engine: Engine, shown: str, exc: DBAPIError) -> str:
    reason = _reason(engine, exc)
    if engine.dialect.name != "sqlite":
        return (
            f"the conversation database {shown} cannot be reached ({reason}): start the database server, or "
            "correct the host, port, user, password or database name in RAG_DATABASE_URL"
        )
    if "locked" in reason:
        return f"the conversation database {shown} is locked by another program: close it and start again"
    return (
        f"the conversation database {shown} cannot be opened ({reason}): check that its folder can be written, "
        "or set RAG_DATABASE_URL to another database"
    )


def _cannot_upgrade(engine: Engine, shown: str, exc: DBAPIError) -> str:
    reason = _reason(engine, exc)
    if engine.dialect.name != "sqlite":
        return (
            f"the conversation database {shown} refused to set up its tables ({reason}): the user in "
            "RAG_DATABASE_URL needs the right to create tables there (PostgreSQL 15 and later: make it the "
            "database's owner)"
        )
    return (
        f"the conversation database {shown} is damaged ({reason}): move it aside and start again "
        "(a new, empty one is created), or set RAG_DATABASE_URL to another database"
    )


def _reason(engine: Engine, exc: DBAPIError) -> str:
    """The driver's own words on one line, without the password should a driver repeat it."""
    reason = " ".join(str(exc.orig).split())
    password = engine.url.password
    return reason.replace(str(password), "***") if password else reason


def _shown(url: URL) -> str:
    """The URL without its password, for messages and logs."""
    return url.render_as_string(hide_password=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes, written in UTC; PostgreSQL hands them back in its own time zone.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _turn(row: TurnRow) -> SavedTurn:
    answer = Answer.from_json(row.answer) if row.answer else None
    return SavedTurn(
        row.answer_id,
        row.question,
        answer,
        row.status,  # type: ignore[arg-type]  # written from Status only
        row.error,
        _aware(row.created_at),
        row.vote,
        row.comment,
    )


def _conversation(row: ConversationRow, turns: bool) -> Conversation:
    return Conversation(
        row.id,
        row.title,
        _aware(row.created_at),
        _aware(row.updated_at),
        [_turn(t) for t in row.turns] if turns else [],
    )


def _feedback_row(entry: dict[str, Any]) -> FeedbackRow:
    values = {**FEEDBACK_DEFAULTS, **entry}
    return FeedbackRow(
        **{name: values[name] for name in FEEDBACK_FIELDS}, created_at=datetime.fromisoformat(entry["timestamp"])
    )


def _feedback_entry(row: FeedbackRow) -> dict[str, Any]:
    return {
        "timestamp": _aware(row.created_at).isoformat(timespec="seconds"),
        **{name: getattr(row, name) for name in FEEDBACK_FIELDS},
    }


def _feedback_rows(path: Path) -> tuple[list[FeedbackRow], int]:
    """The records of a feedback file as rows, and how many lines could not be read (a line cut
    short by a crash, say): those stay in the file, which is kept."""
    rows, unreadable = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(_feedback_row(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    return rows, unreadable


def _aside(path: Path) -> Path:
    """Where an imported file is kept: `<name>.imported`, numbered if an earlier import is there."""
    kept, n = path.with_name(path.name + ".imported"), 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.imported.{n}")
    return kept
