"""Counting the SQL statements a piece of work sends (SQLAlchemy's cursor
events), for the statement budgets: a query added to a hot path fails a test
before it shows in a benchmark."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import CacheStats


class Sent(list[str]):
    """The statements sent, in order (an executemany is one)."""

    def inserts_into(self, table: str) -> int:
        return sum(
            1 for sql in self if sql.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ")
        )


@contextmanager
def sql_statements(engine: Engine) -> Iterator[Sent]:
    """The statements this thread sent through `engine` inside the block (a
    job worker running in a thread of the test sends its own)."""
    sent = Sent()
    this_thread = threading.get_ident()

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if threading.get_ident() == this_thread:
            sent.append(statement)

    with _listening(engine, record):
        yield sent


@contextmanager
def statements(app: Flask) -> Iterator[Sent]:
    """The statements this thread sent through the app's engine inside the block."""
    with sql_statements(app.extensions["db_engine"]) as sent:
        yield sent


@contextmanager
def compiled_statements(engine: Engine) -> Iterator[list[tuple[str, str]]]:
    """(thread name, statement) of each statement sent through `engine` inside
    the block, from any thread, that SQLAlchemy had to compile: it was not in
    the engine's cache of compiled statements."""
    compiled: list[tuple[str, str]] = []

    def record(_conn, _cursor, statement, _parameters, context, _many) -> None:  # type: ignore[no-untyped-def]
        if context.cache_hit is CacheStats.CACHE_MISS:
            compiled.append((threading.current_thread().name, statement))

    with _listening(engine, record):
        yield compiled


@contextmanager
def _listening(engine: Engine, record: Callable[..., None]) -> Iterator[None]:
    """`record` hears every statement sent through `engine` inside the block."""
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", record)
