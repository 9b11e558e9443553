"""Alembic environment on SQLModel.metadata."""

from __future__ import annotations

from typing import Any

from alembic import context

from referral.db import UTCDateTime, make_engine
from referral.domains import load_all_models

config = context.config
target_metadata = load_all_models()


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations spell the project's UTC type as the plain column type it wraps.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        try:  # a migration that refuses to run must not leave a connection open
            with engine.connect() as connection:
                _run(connection)
        finally:
            engine.dispose()
    else:
        _run(connectable)


def _run(connection: Any) -> None:
    if connection.dialect.name == "sqlite":
        # SQLite alters a table by copying it and dropping the old one; with
        # foreign keys on, dropping a table that others reference would fail.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the implicit transaction, so Alembic runs its own
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
