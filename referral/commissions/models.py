"""Commissions: what a payer owes a referrer for one referral, under locked terms."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    or_,
)
from sqlalchemy.sql import ColumnElement
from sqlmodel import Field

from referral.money import MAX_JOB_CENTS
from referral.tables import TableBase, foreign_key, utc_column


# pending: in the hold period; approved: owed, waiting for a settlement;
# settling: in a settlement being charged; paid: settled in full;
# held: its settlement charge is disputed; reversed: void (its settlement was
# refunded or lost to a dispute); closed: refunded to nothing, nothing outstanding
# (a correction that raises the job value opens it again).
class CommissionStatus(StrEnum):
    """A commission's stage; the values are stored, so they never change."""

    PENDING = "pending"
    APPROVED = "approved"
    SETTLING = "settling"
    PAID = "paid"
    HELD = "held"
    REVERSED = "reversed"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


STATUSES = tuple(CommissionStatus)
TRIGGERS = ("won", "accepted")


class Commission(TableBase, table=True):
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("trigger IN ('won', 'accepted')", name="trigger_known"),
        CheckConstraint("payer_id <> referrer_id", name="two_sides"),
        CheckConstraint("amount_cents >= 0", name="amount_sign"),
        CheckConstraint(f"amount_cents <= {MAX_JOB_CENTS}", name="amount_range"),
        CheckConstraint(f"base_cents >= 0 AND base_cents <= {MAX_JOB_CENTS}", name="base_range"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= base_cents", name="refund_range"
        ),
        UniqueConstraint("referral_id", "trigger", name="uq_commission_referral_trigger"),
        Index("ix_commission_partnership_status", "partnership_id", "status"),
        # A business's commissions by status, covering what the dashboard sums
        # per partner and per month and the refunds it takes off won jobs
        # (referral/analytics).
        Index(
            "ix_commission_referrer",
            "referrer_id",
            "status",
            "created_at",
            "payer_id",
            "amount_cents",
            "id",
            "trigger",
            "referral_id",
            "refunded_cents",
            "settled_cents",
        ),
        Index(
            "ix_commission_payer",
            "payer_id",
            "status",
            "created_at",
            "referrer_id",
            "amount_cents",
            "id",
            "trigger",
            "referral_id",
            "refunded_cents",
            "settled_cents",
        ),
    )
    referral_id: int = foreign_key("referral.id")
    partnership_id: int = foreign_key("partnership.id")
    terms_version_id: int = foreign_key("terms_version.id")
    referrer_id: int = foreign_key("business.id")
    payer_id: int = foreign_key("business.id")
    trigger: str = Field(sa_column=Column(String(16), nullable=False))
    basis: str = Field(sa_column=Column(String(24), nullable=False))
    rate_bps: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    flat_fee_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    cap_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # The job value the commission is computed on, and how much of it was refunded.
    base_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    refunded_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # What is owed now: recomputed from the terms, base and refunds, never incremented.
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    # What settlements have moved for it: the sum of its settlement lines whose
    # settlement is paid, netted or disputed (settlements.models.SETTLED). Kept
    # as a settlement enters or leaves those states (settlements.services.count_settlement), so
    # pages and the dashboard read it instead of summing lines per commission.
    settled_cents: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    hold_until: dt.datetime = utc_column(nullable=False)
    approved_at: dt.datetime | None = utc_column(default=None)
    settlement_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("settlement.id"), nullable=True, index=True),
    )
    updated_at: dt.datetime | None = utc_column(default=None)


def either_side_is(business_id: int) -> ColumnElement[bool]:
    """The commissions `business_id` earns or pays."""
    return or_(Commission.referrer_id == business_id, Commission.payer_id == business_id)
