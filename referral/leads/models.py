"""Leads for sale: a customer's need, offered to nearby businesses of another
trade with the customer's consent, and the purchases of it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field

from referral.tables import TableBase, foreign_key, utc_column


class LeadStatus(StrEnum):
    """A lead's stage; the values are stored, so they never change."""

    AWAITING_CONSENT = "awaiting_consent"  # the customer has not answered yet
    LIVE = "live"  # consent given: buyers see it
    SOLD_OUT = "sold_out"  # every place sold
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # by the seller
    DECLINED_BY_CUSTOMER = "declined_by_customer"
    REMOVED = "removed"  # the customer withdrew consent

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class PurchaseStatus(StrEnum):
    """A lead purchase's stage; the values are stored, so they never change."""

    RESERVED = "reserved"  # a buyer is paying; holds a place for 15 minutes
    PAID = "paid"  # payment confirmed by Stripe: contact details visible
    EXPIRED = "expired"  # the reservation lapsed unpaid
    FAILED = "failed"  # the charge was declined
    REFUNDED = "refunded"  # paid after losing its place, or a dispute upheld

    @property
    def label(self) -> str:
        return self.value.capitalize()


LEAD_STATUSES = tuple(LeadStatus)
PURCHASE_STATUSES = tuple(PurchaseStatus)
# Purchases that take a place.
HOLDING = (PurchaseStatus.RESERVED, PurchaseStatus.PAID)
# Purchases that were paid for (some refunded since).
PAID_FOR = (PurchaseStatus.PAID, PurchaseStatus.REFUNDED)
MAX_SHARED_BUYERS = 5
MIN_PRICE_CENTS, MAX_PRICE_CENTS = 100, 100_000_00


class Lead(TableBase, table=True):
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in LEAD_STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("price_cents > 0", name="price_positive"),
        CheckConstraint(
            f"price_cents >= {MIN_PRICE_CENTS} AND price_cents <= {MAX_PRICE_CENTS}",
            name="price_range",
        ),
        CheckConstraint(
            f"max_buyers >= 1 AND max_buyers <= {MAX_SHARED_BUYERS}", name="max_buyers_range"
        ),
        CheckConstraint("exclusive = (max_buyers = 1)", name="exclusive_means_one"),
        CheckConstraint("places_held >= 0 AND places_held <= max_buyers", name="places_range"),
        Index("ix_lead_market", "status", "trade_id", "expires_at"),
    )
    seller_id: int = foreign_key("business.id", index=True)
    customer_id: int = foreign_key("customer.id", index=True)
    created_by_user_id: int = foreign_key("user_account.id")
    trade_id: int = foreign_key("trade.id")  # the trade the customer needs
    need: str = Field(sa_column=Column(Text, nullable=False))
    urgency: str = Field(sa_column=Column(String(16), nullable=False))
    zip_code: str = Field(sa_column=Column(String(5), nullable=False))
    latitude: float = Field(sa_column=Column(Float, nullable=False))
    longitude: float = Field(sa_column=Column(Float, nullable=False))
    price_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
    exclusive: bool = Field(sa_column=Column(Boolean, nullable=False))
    max_buyers: int = Field(sa_column=Column(Integer, nullable=False))
    # Places taken by purchases reserved or paid. Taken and given back only by
    # conditional UPDATEs (see marketplace.reserve_place), so two buyers racing for the
    # last place cannot both get it, on either database.
    places_held: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    consent_method: str = Field(sa_column=Column(String(24), nullable=False))
    status: str = Field(sa_column=Column(String(24), nullable=False))
    expires_at: dt.datetime = utc_column(nullable=False)
    live_at: dt.datetime | None = utc_column(default=None)
    closed_at: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)


class LeadPurchase(TableBase, table=True):
    __tablename__ = "lead_purchase"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in PURCHASE_STATUSES) + ")",
            name="status_known",
        ),
        # A buyer holds at most one place in a lead.
        Index(
            "uq_lead_purchase_holding",
            "lead_id",
            "buyer_id",
            unique=True,
            sqlite_where=text("status IN ('reserved', 'paid')"),
            postgresql_where=text("status IN ('reserved', 'paid')"),
        ),
        Index("ix_lead_purchase_buyer", "buyer_id", "status"),
        CheckConstraint(
            f"price_cents >= 0 AND price_cents <= {MAX_PRICE_CENTS}"
            " AND platform_fee_cents >= 0 AND platform_fee_cents <= price_cents",
            name="amounts_range",
        ),
    )
    lead_id: int = foreign_key("lead.id", index=True)
    buyer_id: int = foreign_key("business.id")
    buyer_user_id: int = foreign_key("user_account.id")
    price_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform_fee_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
    method: str = Field(sa_column=Column(String(16), nullable=False))  # saved_card | checkout
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reserved_until: dt.datetime = utc_column(nullable=False)
    payment_intent_id: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, index=True)
    )
    checkout_session_id: str | None = Field(
        default=None, sa_column=Column(String(255), nullable=True)
    )
    charge_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    paid_at: dt.datetime | None = utc_column(default=None)
    # What the buyer reports after working the lead (for the seller's quality score).
    outcome: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: dt.datetime | None = utc_column(default=None)


DISPUTE_REASONS = {
    "wrong_contact": "The contact details are wrong",
    "dead_contact": "The customer cannot be reached",
    "outside_area": "The job is outside my service area",
    "duplicate": "I already had this customer's request",
    "customer_denies": "The customer denies asking",
}
# Reasons the platform can check from its own data, and credit at once.
AUTOMATIC_REASONS = ("outside_area", "duplicate")


class DisputeStatus(StrEnum):
    """A lead dispute's stage; the values are stored, so they never change."""

    WITH_SELLER = "with_seller"
    WITH_OPERATOR = "with_operator"
    UPHELD = "upheld"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


DISPUTE_STATUSES = tuple(DisputeStatus)
OUTCOMES = ("contacted", "won", "lost", "no_answer")


class LeadDispute(TableBase, table=True):
    """A buyer's claim that a lead was bad, and who decided it how."""

    __tablename__ = "lead_dispute"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in DISPUTE_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint(
            "reason IN (" + ", ".join(f"'{r}'" for r in DISPUTE_REASONS) + ")",
            name="reason_known",
        ),
    )
    purchase_id: int = Field(
        sa_column=Column(Integer, ForeignKey("lead_purchase.id"), nullable=False, unique=True)
    )
    lead_id: int = foreign_key("lead.id", index=True)
    seller_id: int = foreign_key("business.id", index=True)
    buyer_id: int = foreign_key("business.id")
    reason: str = Field(sa_column=Column(String(24), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    decided_by: str = Field(default="", sa_column=Column(String(16), nullable=False, default=""))
    decision_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    decided_at: dt.datetime | None = utc_column(default=None)


class SellerSuspension(TableBase, table=True):
    """A seller whose dispute rate passed the threshold lists no more leads
    until the operator has reviewed it."""

    __tablename__ = "seller_suspension"
    business_id: int = foreign_key("business.id", index=True)
    dispute_rate_bps: int = Field(sa_column=Column(Integer, nullable=False))
    reviewed_at: dt.datetime | None = utc_column(default=None)
    reviewed_by_user_id: int | None = foreign_key("user_account.id", nullable=True)
    review_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
