"""Settlements: the netted commissions of one partnership, charged once."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field

from referral.money import MAX_JOB_CENTS, MAX_SETTLEMENT_CENTS
from referral.tables import TableBase, utc_column


# open: built, about to be charged; waiting: cannot be charged yet (see
# waiting_reason); processing: a charge attempt was sent; retry_scheduled: the
# last attempt was declined; paid; netted: nothing to charge (the two
# directions cancelled out); failed: every retry declined, the operator decides;
# disputed: the charge is disputed; reversed: refunded or lost to a dispute.
class SettlementStatus(StrEnum):
    """A settlement's stage; the values are stored, so they never change."""

    OPEN = "open"
    WAITING = "waiting"
    PROCESSING = "processing"
    RETRY_SCHEDULED = "retry_scheduled"
    PAID = "paid"
    NETTED = "netted"
    FAILED = "failed"
    DISPUTED = "disputed"
    REVERSED = "reversed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


STATUSES = tuple(SettlementStatus)
UNFINISHED = (
    SettlementStatus.OPEN,
    SettlementStatus.WAITING,
    SettlementStatus.PROCESSING,
    SettlementStatus.RETRY_SCHEDULED,
)
# Whose lines count as settled (a netted one moved no money but settled).
SETTLED = (SettlementStatus.PAID, SettlementStatus.NETTED, SettlementStatus.DISPUTED)
# Charged at some point: money moved (and may have moved back).
CHARGED = (SettlementStatus.PAID, SettlementStatus.DISPUTED, SettlementStatus.REVERSED)
# Being charged now: the worker or Stripe answers within seconds.
IN_FLIGHT = (SettlementStatus.OPEN, SettlementStatus.PROCESSING)
WAITING_REASONS = {
    "creditor_not_onboarded": "the business to be paid has not finished Stripe onboarding",
    "debtor_no_payment_method": "the paying business has no saved card",
    "debtor_authentication": "the paying business's bank asks it to confirm the payment",
    "below_minimum": "the net amount is below the minimum charge",
}


class Settlement(TableBase, table=True):
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("net_cents >= 0", name="net_sign"),
        CheckConstraint("platform_fee_cents >= 0 AND platform_fee_cents <= net_cents", name="fee"),
        CheckConstraint(
            f"net_cents <= {MAX_SETTLEMENT_CENTS}"
            f" AND debtor_owed_cents BETWEEN -{MAX_SETTLEMENT_CENTS} AND {MAX_SETTLEMENT_CENTS}"
            f" AND creditor_owed_cents BETWEEN -{MAX_SETTLEMENT_CENTS} AND {MAX_SETTLEMENT_CENTS}"
            f" AND refunded_cents >= 0 AND refunded_cents <= {MAX_SETTLEMENT_CENTS}",
            name="amounts_range",
        ),
        Index("ix_settlement_partnership_status", "partnership_id", "status"),
    )
    partnership_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partnership.id"), nullable=False)
    )
    debtor_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    creditor_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    # What the debtor owed the creditor and what the creditor owed the debtor,
    # before netting; net_cents = their difference, the amount charged.
    debtor_owed_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    creditor_owed_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform_fee_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    waiting_reason: str = Field(
        default="", sa_column=Column(String(32), nullable=False, default="")
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    next_attempt_at: dt.datetime | None = utc_column(default=None)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    payment_intent_id: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, index=True)
    )
    charge_id: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, index=True)
    )
    transfer_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    refunded_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    paid_at: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)


class SettlementLine(TableBase, table=True):
    """One commission's outstanding amount, fixed when the settlement was built."""

    __tablename__ = "settlement_line"
    __table_args__ = (
        # A commission's lines with what the dashboard needs of them (how much
        # of it settled, referral/analytics/partners.py), read from the index.
        Index("ix_settlement_line_commission_id", "commission_id", "settlement_id", "amount_cents"),
        CheckConstraint(
            f"amount_cents BETWEEN -{MAX_JOB_CENTS} AND {MAX_JOB_CENTS}", name="amount_range"
        ),
    )
    settlement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("settlement.id"), nullable=False, index=True)
    )
    commission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commission.id"), nullable=False)
    )
    payer_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    # Negative for a clawback carried from an earlier settlement.
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))


class ReconciliationRun(TableBase, table=True):
    """One comparison of the ledger with Stripe, and every mismatch it found;
    and one check of the money invariants, with every violation
    (settlements.invariants)."""

    __tablename__ = "reconciliation_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status_known"),
    )
    status: str = Field(default="running", sa_column=Column(String(16), nullable=False))
    checked: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    mismatches: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    violations: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    finished_at: dt.datetime | None = utc_column(default=None)


class SettlementFailure(TableBase, table=True):
    """A partnership whose settlement could not be built (bad data, a bug, an
    error from Stripe): kept with its reason while it keeps failing, retried by
    every run, and resolved by the first run that settles it. The others settle
    regardless (services.build_settlements)."""

    __tablename__ = "settlement_failure"
    __table_args__ = (
        # At most one open failure per partnership.
        Index(
            "uq_settlement_failure_open",
            "partnership_id",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )
    partnership_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partnership.id"), nullable=False)
    )
    error: str = Field(sa_column=Column(Text, nullable=False))
    failures: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    last_failed_at: dt.datetime = utc_column(nullable=False)
    resolved_at: dt.datetime | None = utc_column(default=None)
