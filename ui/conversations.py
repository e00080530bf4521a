"""Saved conversations in a SQL database: a SQLite file beside the index by default, any
SQLAlchemy URL by the `database_url` setting (PostgreSQL when several servers share them).

Every conversation belongs to one owner, an opaque id its client keeps (a browser's, the
widget's, or an API client's `X-Client-Id`), and every operation names both: an id that
does not exist and one that belongs to someone else are the same "no such conversation".
Each turn keeps the question, the whole `Answer` as JSON, and how the turn ended
(answered, stopped by the reader, or failed with its error).

The schema is versioned by Alembic (ui/migrations): opening a store upgrades an older
database in place and refuses one written by a newer version rather than guess at it.
"""

from __future__ import annotations

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
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, create_engine, delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from rag.answer import Answer, EvidenceFound
from rag.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
TITLE_CHARS = 120
SQLITE_BUSY_SECONDS = 10.0  # how long a write waits for another process's lock before saying so
HISTORY_TURNS = 20  # the turns a follow-up is condensed with; older ones stay saved, unread
Status = Literal["answered", "stopped", "failed"]


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
        self.url = url
        self.engine = _engine(url)
        upgrade(self.engine, url)

    @classmethod
    def of(cls, settings: Settings) -> ConversationStore:
        return cls(default_url(settings))

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
            row = self._row(session, owner, conversation_id)
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

    def history(self, owner: str, conversation_id: str) -> list[dict[str, str]]:
        """The last turns as chat messages, read without loading a long conversation whole."""
        with self._session() as session:
            row = self._row(session, owner, conversation_id)
            recent = session.scalars(
                select(TurnRow)
                .where(TurnRow.conversation_id == row.id)
                .order_by(TurnRow.position.desc())
                .limit(HISTORY_TURNS)
            ).all()
            turns = [_turn(t) for t in reversed(recent)]
        return as_history(turns)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @staticmethod
    def _row(session: Session, owner: str, conversation_id: str) -> ConversationRow:
        row = session.get(ConversationRow, conversation_id)
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
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS} if url.startswith("sqlite") else {})
    except ImportError as exc:  # e.g. postgresql:// without a driver
        raise StoreError(f"database_url {_shown(url)} needs a driver that is not installed: {exc}") from exc
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            # Deleting a conversation deletes its turns; WAL lets readers go on while one writes.
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")

    return engine


def upgrade(engine: Engine, url: str) -> None:
    """Bring the schema to this version's head; refuse a newer or damaged database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    try:
        with engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
                raise StoreError(
                    f"the conversation database {_shown(url)} was written by a newer version of this program "
                    f"(schema {current}): upgrade the program, or set RAG_DATABASE_URL to another database"
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        if "locked" in str(exc):
            raise StoreError(
                f"the conversation database {_shown(url)} is locked by another program: close it and start again"
            ) from exc
        raise StoreError(f"the conversation database {_shown(url)} cannot be opened: {exc.orig}") from exc
    except DatabaseError as exc:
        raise StoreError(
            f"the conversation database {_shown(url)} is damaged ({exc.orig}): move it aside and start again "
            "(a new, empty one is created), or set RAG_DATABASE_URL to another database"
        ) from exc


def _shown(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
