"""Stripe-side state of each business, and every webhook event received."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlmodel import Field

from referral.tables import TableBase, utc_column


def _business() -> Any:
    return Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False, unique=True))


class ConnectedAccount(TableBase, table=True):
    """A business's Stripe Express account, where its commissions are paid."""

    __tablename__ = "connected_account"
    business_id: int = _business()
    stripe_account_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    details_submitted: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    charges_enabled: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    payouts_enabled: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    requirements_due: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    disabled_reason: str = Field(default="", sa_column=Column(String(120), nullable=False))
    # The Stripe time of the newest state applied, so an older event never wins.
    state_as_of: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)


class BillingProfile(TableBase, table=True):
    """A business as a Stripe customer, with the card its settlements are charged to."""

    __tablename__ = "billing_profile"
    business_id: int = _business()
    stripe_customer_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    payment_method_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    card_brand: str = Field(default="", sa_column=Column(String(24), nullable=False, default=""))
    card_last4: str = Field(default="", sa_column=Column(String(4), nullable=False, default=""))
    card_exp_month: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    card_exp_year: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    card_saved_at: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)


# refused: rendered in an API version the app does not speak; kept, never applied.
EVENT_STATUSES = ("received", "applied", "ignored", "refused")


class StripeEvent(TableBase, table=True):
    """A verified webhook event, stored under Stripe's id before anything acts on it:
    the unique id makes a duplicate delivery a no-op."""

    __tablename__ = "stripe_event"
    __table_args__ = (
        CheckConstraint(
            "status IN ('received', 'applied', 'ignored', 'refused')", name="status_known"
        ),
        Index("ix_stripe_event_status", "status", "created_at"),
    )
    stripe_event_id: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    account: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    object_id: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    event_created: dt.datetime = utc_column(nullable=False)
    # None once housekeeping pruned an applied event older than 400 days: its
    # id, type, object, status and time applied are what is kept.
    payload: dict[str, Any] | None = Field(sa_column=Column(JSON, nullable=True))
    status: str = Field(default="received", sa_column=Column(String(16), nullable=False))
    job_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("job.id"), nullable=True)
    )
    applied_at: dt.datetime | None = utc_column(default=None)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
