"""Offers, the opportunities a customer's "yes" to an own offer opens, and the
referrals a "yes" to a partner's offer made."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field

from referral.db import UTCDateTime
from referral.money import MAX_JOB_CENTS
from referral.tables import TableBase, foreign_key


class OfferKind(StrEnum):
    """Who the offer is for; the values are stored, so they never change."""

    PARTNER = "partner"  # published to the partners' customers
    OWN = "own"  # the business's own back end: a service plan, an add-on, an upgrade

    @property
    def label(self) -> str:
        return "For partners' customers" if self is OfferKind.PARTNER else "Own offer"


class SourceKind(StrEnum):
    """What carried the offer link: a campaign or a follow-up (their ids are opaque here)."""

    CAMPAIGN = "campaign"
    FOLLOW_UP = "follow_up"


class OpportunityStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"

    @property
    def label(self) -> str:
        return self.value.capitalize()


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Offer(TableBase, table=True):
    __tablename__ = "offer"
    __table_args__ = (
        CheckConstraint(_in("kind", OfferKind), name="kind_known"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="valid_dates"),
        CheckConstraint(
            "radius_miles IS NULL OR (radius_miles >= 1 AND radius_miles <= 500)",
            name="radius_range",
        ),
    )
    business_id: int = foreign_key("business.id", index=True)
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    title: str = Field(sa_column=Column(String(120), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # What the customer gets: "10% off a first drain cleaning".
    benefit: str = Field(sa_column=Column(String(200), nullable=False))
    valid_from: dt.date = Field(sa_column=Column(Date, nullable=False))
    valid_until: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    # Service area limits: customers in these ZIP codes, and/or within this
    # many miles of the business's centre. None and [] mean no limit.
    zip_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    radius_miles: int | None = Field(default=None, nullable=True)
    created_by_user_id: int = foreign_key("user_account.id")
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class OfferReferral(TableBase, table=True):
    """A customer's "yes" to a partner's offer: the referral it made (one per
    offer and customer, however often they click)."""

    __tablename__ = "offer_referral"
    __table_args__ = (
        UniqueConstraint("offer_id", "customer_id", name="uq_offer_referral_once"),
        CheckConstraint(_in("source_kind", SourceKind), name="source_kind_known"),
    )
    offer_id: int = foreign_key("offer.id", index=True)
    customer_id: int = foreign_key("customer.id", index=True)
    referral_id: int = foreign_key("referral.id", index=True)
    source_kind: str = Field(sa_column=Column(String(16), nullable=False))
    source_id: int = Field(nullable=False)


class Opportunity(TableBase, table=True):
    """A customer's "yes" to the business's own offer, in its pipeline; won, it
    is a job for that customer (sale #2, #3...)."""

    __tablename__ = "opportunity"
    __table_args__ = (
        UniqueConstraint("offer_id", "customer_id", name="uq_opportunity_once"),
        CheckConstraint(_in("status", OpportunityStatus), name="status_known"),
        CheckConstraint(_in("source_kind", SourceKind), name="source_kind_known"),
        CheckConstraint(
            f"amount_cents IS NULL OR (amount_cents >= 0 AND amount_cents <= {MAX_JOB_CENTS})",
            name="amount_range",
        ),
    )
    business_id: int = foreign_key("business.id", index=True)
    offer_id: int = foreign_key("offer.id", index=True)
    customer_id: int = foreign_key("customer.id", index=True)
    source_kind: str = Field(sa_column=Column(String(16), nullable=False))
    source_id: int = Field(nullable=False)
    status: str = Field(default=OpportunityStatus.OPEN, sa_column=Column(String(8), nullable=False))
    amount_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
    won_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    lost_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    customer_job_id: int | None = foreign_key("customer_job.id", nullable=True)
    closed_by_user_id: int | None = foreign_key("user_account.id", nullable=True)
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
