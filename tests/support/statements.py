"""Counting the SQL a block of code sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event


class Sent(list[str]):
    """The statements sent, in order."""

    def inserts_into(self, table: str) -> int:
        return sum(
            1 for sql in self if sql.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ")
        )


@contextmanager
def sql_statements(engine: Engine) -> Iterator[Sent]:
    """The SQL statements sent through `engine` inside the block (an
    executemany is one)."""
    sent = Sent()

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
