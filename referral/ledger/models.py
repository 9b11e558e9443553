"""The money ledger: append-only double entry in integer cents.

Every money event is one `LedgerTransaction` whose entries sum to zero
(debits positive, credits negative). Balances are sums of entries, never
stored counters, and the database refuses to change or delete a row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field

from referral.append_only import make_append_only
from referral.tables import TableBase

# The platform's view of the money. Per-business accounts carry business_id.
ACCOUNTS = {
    # what a business owes as a payer of commissions, still within the hold period
    "pending_receivable": "Commissions accruing (in hold), owed by the business",
    # what the platform owes a referrer, still within the hold period
    "pending_payable": "Commissions accruing (in hold), owed to the business",
    "receivable": "Approved commissions owed by the business",
    "payable": "Approved commissions owed to the business",
    "stripe_balance": "The platform's Stripe balance",
    "stripe_disputed": "Charges Stripe withdrew from the platform's balance for an open dispute",
    "dispute_fees": "Stripe's dispute fees, borne by the platform",
    "platform_fees": "Platform fee revenue",
    "written_off": "Commissions the platform gave up collecting",
}
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
    "dispute_withdrawal",
    "dispute_reinstatement",
    "dispute_fee",
)


class LedgerTransaction(TableBase, table=True):
    __tablename__ = "ledger_transaction"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name="kind_known"),
    )
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    memo: str = Field(default="", sa_column=Column(String(200), nullable=False, default=""))
    commission_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("commission.id"), nullable=True, index=True),
    )
    settlement_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("settlement.id"), nullable=True, index=True),
    )
    # The Stripe object this money event came from (pi_, ch_, tr_, re_, dp_...)
    stripe_object_id: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, index=True)
    )


class LedgerEntry(TableBase, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="not_zero"),
        CheckConstraint(
            "account IN (" + ", ".join(f"'{a}'" for a in ACCOUNTS) + ")", name="account_known"
        ),
        Index("ix_ledger_entry_balance", "account", "business_id", "partnership_id"),
    )
    transaction_id: int = Field(
        sa_column=Column(Integer, ForeignKey("ledger_transaction.id"), nullable=False, index=True)
    )
    account: str = Field(sa_column=Column(String(24), nullable=False))
    business_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("business.id"), nullable=True)
    )
    partnership_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("partnership.id"), nullable=True)
    )
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))


for _model in (LedgerTransaction, LedgerEntry):
    make_append_only(_model.__table__)
