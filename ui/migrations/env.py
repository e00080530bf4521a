"""Alembic's entry point for ui/conversations.py, which hands it an open connection.

To add a migration after changing the tables there:
    .venv/bin/alembic -x url=sqlite:///scratch.db -c ui/migrations/alembic.ini revision --autogenerate -m "what changed"
then read the generated file in versions/ and keep it with the change.
"""

from alembic import context
from sqlalchemy import create_engine

from ui.conversations import Base

config = context.config
connection = config.attributes.get("connection")


def run(connection) -> None:  # type: ignore[no-untyped-def]
    # Batch mode: SQLite cannot ALTER most things in place; Alembic copies the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # the alembic command line, for writing new migrations
    with create_engine(context.get_x_argument(as_dictionary=True)["url"]).connect() as opened:
        run(opened)
        opened.commit()
