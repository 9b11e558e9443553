"""Counting the SQL statements a piece of work sends (SQLAlchemy's cursor
events), for the statement budgets: a query added to a hot path fails a test
before it shows in a benchmark."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements this thread sent through the app's engine inside the
    block (a job worker running in a thread of the test sends its own)."""
    sent: list[str] = []
    this_thread = threading.get_ident()

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if threading.get_ident() == this_thread:
            sent.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
