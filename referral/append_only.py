"""Tables the database itself refuses to change: UPDATE and DELETE raise.

Used for consent records and the money ledger. The triggers are created by the
migrations and, for `create_all` in tests, by an `after_create` DDL event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, Table, event

REFUSE_CHANGE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
)


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """The statements that make `table` append-only on `dialect`."""
    if dialect == "postgresql":
        return [
            REFUSE_CHANGE_FUNCTION,
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def drop_append_only_ddl(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
    ]


def _install_triggers(target: Table, connection: Any, **_: Any) -> None:
    for statement in append_only_ddl(target.name, connection.dialect.name):
        # DDL() formats its text with %, so a literal % is written %%.
        connection.execute(DDL(statement.replace("%", "%%")))


def make_append_only(table: Table) -> None:
    """Install the triggers whenever `create_all` creates `table`."""
    event.listen(table, "after_create", _install_triggers)
