"""A fingerprint of every table's rows: how many, and a hash of them all.

Two fingerprints differ when any row of any table was added, removed or
changed, except for the columns a caller says its own requests may touch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import SQLModel


@dataclass(frozen=True)
class Touch:
    """A column of some rows that a request may legitimately change: left out
    of the fingerprint for the rows `applies` says yes to."""

    table: str
    column: str
    applies: Callable[[Mapping[str, Any]], bool]
    why: str


Fingerprint = dict[str, tuple[int, str]]


def fingerprint(engine: Engine, touches: tuple[Touch, ...] = ()) -> Fingerprint:
    """{table: (row count, SHA-256 of its rows in primary-key order)}."""
    found: Fingerprint = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            mine = [t for t in touches if t.table == table.name]
            digest = hashlib.sha256()
            count = 0
            query = select(table).order_by(*table.primary_key.columns)
            for row in connection.execute(query).mappings():
                values = dict(row)
                for touch in mine:
                    if touch.applies(values):
                        values[touch.column] = "(may change)"
                digest.update(repr(sorted(values.items())).encode())
                count += 1
            found[table.name] = (count, digest.hexdigest())
    return found


def changed_tables(before: Fingerprint, after: Fingerprint) -> list[str]:
    """What differs, table by table."""
    return [
        f"{name}: {before[name][0]} rows -> {after[name][0]}"
        if before[name][0] != after[name][0]
        else f"{name}: rows changed"
        for name in before
        if before[name] != after[name]
    ]
