"""The schema is built only by Alembic, and the migrations agree with the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from referral import migrate
from referral.db import make_engine
from referral.domains import load_all_models
from tests.support.app import PG_URL

SCHEMA = "migration_check"


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a PostgreSQL schema of its own
    (so it cannot disturb the schema the other tests share)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set TEST_DATABASE_URL to run these tests")
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_to_head_creates_every_table_of_the_models(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "head")

    model_tables = set(load_all_models().tables)
    assert model_tables <= table_names(empty_database_url)


def test_downgrade_to_base_leaves_only_alembics_own_table(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "head")
    migrate.downgrade(empty_database_url, "base")

    assert table_names(empty_database_url) <= {"alembic_version"}


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "head")

    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, load_all_models())
    engine.dispose()

    assert differences == [], "run `referral db revision -m ...` and read the result"


def test_migrations_make_consent_records_and_the_ledger_append_only(
    empty_database_url: str,
) -> None:
    migrate.upgrade(empty_database_url, "head")
    engine = make_engine(empty_database_url)
    query = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with engine.connect() as connection:
        triggers = set(connection.execute(text(query)).scalars())
    engine.dispose()

    for table in ("consent_record", "consent_withdrawal", "ledger_transaction", "ledger_entry"):
        assert any(name.startswith(table) for name in triggers), triggers


def test_upgrading_a_database_with_money_in_it_keeps_every_row_and_the_append_only_rule(
    empty_database_url: str,
) -> None:
    """The marketplace migration rebuilds the ledger and consent tables on SQLite;
    their rows, and the triggers that guard them, must survive."""
    migrate.upgrade(empty_database_url, "3f8b6f27ceb9")  # before the lead marketplace
    engine = make_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ledger_transaction (created_at, kind, currency, memo)"
                " VALUES (CURRENT_TIMESTAMP, 'accrual', 'USD', 'kept')"
            )
        )
        for account, cents in (("stripe_balance", 5), ("platform_fees", -5)):
            connection.execute(
                text(
                    "INSERT INTO ledger_entry (created_at, transaction_id, account,"
                    " amount_cents, currency) VALUES (CURRENT_TIMESTAMP, 1, :a, :c, 'USD')"
                ),
                {"a": account, "c": cents},
            )

    migrate.upgrade(empty_database_url, "head")

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_entry")).scalar() == 2
        with pytest.raises(Exception, match="append-only"):
            connection.execute(text("UPDATE ledger_transaction SET memo = 'changed'"))
    engine.dispose()


def test_the_money_bounds_migration_names_the_rows_out_of_range_and_refuses_to_run(
    empty_database_url: str,
) -> None:
    migrate.upgrade(empty_database_url, "e1a6c0a5e916")  # before the money bounds
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        # A job of 2^63-1 cents, stored before there was a bound (its parents
        # do not matter here, so the foreign keys are not checked).
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA foreign_keys = OFF"))
        else:
            connection.execute(text("SET session_replication_role = replica"))
        connection.execute(
            text(
                "INSERT INTO customer_job (created_at, business_id, customer_id, job_date,"
                " description, amount_cents, currency)"
                " VALUES (CURRENT_TIMESTAMP, 1, 1, '2026-11-20', 'x', :cents, 'USD')"
            ),
            {"cents": 2**63 - 1},
        )
        connection.commit()

    with pytest.raises(RuntimeError, match=r"customer_job: 1 row\(s\) break amount_range"):
        migrate.upgrade(empty_database_url, "head")

    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM customer_job")).scalar() == 1
        connection.execute(text("UPDATE customer_job SET amount_cents = 100"))
    migrate.upgrade(empty_database_url, "head")
    with engine.begin() as connection, pytest.raises(Exception, match="amount_range"):
        connection.execute(text("UPDATE customer_job SET amount_cents = 10000000001"))
    engine.dispose()
