"""dispute funds in the ledger, closed commissions

What Stripe withdraws from the platform's balance for a dispute (the amount,
then given back if the dispute is won) and its dispute fee are booked from the
dispute's balance transactions: two accounts (stripe_disputed, dispute_fees)
and three kinds of ledger transaction. A commission refunded to nothing with
nothing outstanding is `closed`. A reconciliation run keeps the violations of
the money invariants it found (docs/money.md).

Revision ID: e7a1c5d92b40
Revises: e19a7c3d5b21
Create Date: 2026-12-02 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7a1c5d92b40"
down_revision: str | None = "e19a7c3d5b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "accrual",
    "adjustment",
    "approval",
    "netting",
    "settlement_charge",
    "platform_fee",
    "transfer",
    "refund",
    "transfer_reversal",
    "fee_refund",
    "clawback",
    "write_off",
    "lead_sale",
    "lead_refund",
)
DISPUTE_KINDS = ("dispute_withdrawal", "dispute_reinstatement", "dispute_fee")
ACCOUNTS = (
    "pending_receivable",
    "pending_payable",
    "receivable",
    "payable",
    "stripe_balance",
    "platform_fees",
    "written_off",
)
DISPUTE_ACCOUNTS = ("stripe_disputed", "dispute_fees")
STATUSES = ("pending", "approved", "settling", "paid", "held", "reversed")
# SQLite rebuilds a table to change it, and its triggers go with the old table.
APPEND_ONLY = ("ledger_transaction", "ledger_entry")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _restore_append_only_triggers() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL alters the tables in place and keeps their triggers
    for table in APPEND_ONLY:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
            op.execute(
                f"CREATE TRIGGER {table}_no_{event} BEFORE {event.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _checks(kinds: tuple[str, ...], accounts: tuple[str, ...], statuses: tuple[str, ...]) -> None:
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_ledger_transaction_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", _in("kind", kinds))
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_ledger_entry_account_known"), type_="check")
        batch_op.create_check_constraint("account_known", _in("account", accounts))
    with op.batch_alter_table("commission", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_commission_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", _in("status", statuses))
    _restore_append_only_triggers()


def upgrade() -> None:
    _checks(KINDS + DISPUTE_KINDS, ACCOUNTS + DISPUTE_ACCOUNTS, STATUSES + ("closed",))
    with op.batch_alter_table("reconciliation_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("violations", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_run", schema=None) as batch_op:
        batch_op.drop_column("violations")
    _checks(KINDS, ACCOUNTS, STATUSES)
