"""`referral backup` / `referral restore`: a backup taken while the app runs
restores the ledger exactly as it was (SQLite: the online backup API;
PostgreSQL: pg_dump and pg_restore)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, func, select

from referral.ledger.models import LedgerTransaction
from referral.ledger.services import balance, pair, post, transaction_sums

pytestmark = pytest.mark.usefixtures("app_context")
ACCOUNTS = ("stripe_balance", "platform_fees")


def ledger(db: Session) -> dict[str, int]:
    return {account: balance(db, account) for account in ACCOUNTS}


def test_a_restored_backup_reconciles_with_the_ledger_at_backup_time(
    app: Flask, db: Session, tmp_path: Path, backend: str
) -> None:
    post(db, "accrual", pair(1_250, debit="stripe_balance", credit="platform_fees"), currency="USD")
    post(db, "accrual", pair(-50, debit="stripe_balance", credit="platform_fees"), currency="USD")
    db.commit()
    at_backup = ledger(db)
    cli = app.test_cli_runner()
    target = tmp_path / "referral.backup"

    backed_up = cli.invoke(args=["backup", str(target)])
    assert backed_up.exit_code == 0, backed_up.output
    post(db, "accrual", pair(99, debit="stripe_balance", credit="platform_fees"), currency="USD")
    db.commit()
    assert ledger(db) != at_backup
    db.close()
    app.extensions["db_engine"].dispose()

    restored = cli.invoke(args=["restore", "--yes", str(target)])

    assert restored.exit_code == 0, restored.output
    assert ledger(db) == at_backup == {"stripe_balance": 1_200, "platform_fees": -1_200}
    assert set(transaction_sums(db).values()) == {0}
    assert db.exec(select(func.count()).select_from(LedgerTransaction)).one() == 2


# The file checks come before any database work, so one database shows them.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_backup_never_overwrites_a_file_and_restore_refuses_what_is_not_a_backup(
    app: Flask, tmp_path: Path, backend: str
) -> None:
    cli = app.test_cli_runner()
    existing = tmp_path / "existing.db"
    existing.write_text("keep me")
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello " * 200)

    refused = cli.invoke(args=["backup", str(existing)])
    assert refused.exit_code == 1 and "already exists" in refused.output
    assert existing.read_text() == "keep me"
    refused = cli.invoke(args=["restore", "--yes", str(not_a_backup)])
    assert refused.exit_code == 1 and "is not a SQLite database" in refused.output
