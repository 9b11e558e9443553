"""Referrals and their history."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field

from referral.money import MAX_JOB_CENTS
from referral.tables import TableBase, foreign_key, utc_column


class ReferralStatus(StrEnum):
    """Where a referral stands; the values are stored, so they never change."""

    AWAITING_CONSENT = "awaiting_consent"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DECLINED_BY_CUSTOMER = "declined_by_customer"
    EXPIRED = "expired"
    WON = "won"
    LOST = "lost"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


STATUSES = tuple(ReferralStatus)
URGENCIES = {
    "emergency": "Emergency (today)",
    "this_week": "This week",
    "this_month": "This month",
    "flexible": "Flexible",
}


class Referral(TableBase, table=True):
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("sender_id <> receiver_id", name="two_sides"),
        CheckConstraint("job_value_cents IS NULL OR job_value_cents >= 0", name="value_sign"),
        CheckConstraint(
            f"job_value_cents IS NULL OR job_value_cents <= {MAX_JOB_CENTS}", name="value_range"
        ),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= coalesce(job_value_cents, 0)",
            name="refund_range",
        ),
        UniqueConstraint("sender_id", "idempotency_key", name="uq_referral_idempotency"),
        # Each side's referrals by status (the inbox and outbox), and enough of
        # each row for the dashboard to read its won jobs from the index alone:
        # revenue from the receiver's side, customer lifetime value from the
        # sender's (referral/analytics; bench/dashboard.py measures it).
        Index(
            "ix_referral_receiver_status",
            "receiver_id",
            "status",
            "created_at",
            "closed_at",
            "sender_id",
            "job_value_cents",
            "id",
        ),
        Index(
            "ix_referral_sender_status",
            "sender_id",
            "status",
            "created_at",
            "customer_id",
            "job_date",
            "closed_at",
            "job_value_cents",
            "receiver_id",
            "id",
            "refunded_cents",
        ),
        # The receiver's won jobs by the day they closed: revenue per month and
        # per partner in a period, one index range each (referral/analytics).
        Index(
            "ix_referral_receiver_closed",
            "receiver_id",
            "status",
            "closed_at",
            "sender_id",
            "job_value_cents",
            "id",
            "refunded_cents",
        ),
        # Each side's referrals in a period, whatever their status, with the
        # stages of the funnel: the dashboard's funnels, medians and trends.
        Index(
            "ix_referral_sender_period",
            "sender_id",
            "created_at",
            "receiver_id",
            "status",
            "sent_at",
            "accepted_at",
            "closed_at",
        ),
        Index(
            "ix_referral_receiver_period",
            "receiver_id",
            "created_at",
            "sender_id",
            "status",
            "sent_at",
            "accepted_at",
            "closed_at",
        ),
        Index("ix_referral_customer_receiver", "customer_id", "receiver_id", "created_at"),
    )
    sender_id: int = foreign_key("business.id")
    receiver_id: int = foreign_key("business.id")
    partnership_id: int = foreign_key("partnership.id", index=True)
    terms_version_id: int = foreign_key("terms_version.id")
    customer_id: int = foreign_key("customer.id")
    created_by_user_id: int = foreign_key("user_account.id")
    need: str = Field(sa_column=Column(Text, nullable=False))
    urgency: str = Field(sa_column=Column(String(16), nullable=False))
    preferred_contact_time: str = Field(
        default="", sa_column=Column(String(120), nullable=False, default="")
    )
    consent_method: str = Field(sa_column=Column(String(24), nullable=False))
    status: str = Field(sa_column=Column(String(24), nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))
    sent_at: dt.datetime | None = utc_column(default=None)
    respond_by: dt.datetime | None = utc_column(default=None)
    accepted_at: dt.datetime | None = utc_column(default=None)
    closed_at: dt.datetime | None = utc_column(default=None)
    decline_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    job_value_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # What the receiver refunded its customer of the won job (report_refund):
    # revenue is the job value less this, with or without a commission.
    refunded_cents: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
    job_date: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    updated_at: dt.datetime | None = utc_column(default=None)


class ReferralEvent(TableBase, table=True):
    """Every transition: who (business, person) moved the referral from what to what."""

    __tablename__ = "referral_event"
    referral_id: int = foreign_key("referral.id", index=True)
    business_id: int | None = foreign_key("business.id", nullable=True)
    user_id: int | None = foreign_key("user_account.id", nullable=True)
    action: str = Field(sa_column=Column(String(32), nullable=False))
    from_status: str = Field(default="", sa_column=Column(String(24), nullable=False, default=""))
    to_status: str = Field(sa_column=Column(String(24), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
