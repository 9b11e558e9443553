"""Consent requests, records and withdrawals. Records and withdrawals are
append-only: the database refuses to change or delete them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlmodel import Field

from referral.append_only import make_append_only
from referral.tables import TableBase, foreign_key, utc_column


class ConsentMethod(StrEnum):
    """How a customer's consent was given; the values are stored, so they never change."""

    EMAIL_LINK = "email_link"
    ATTESTED_PHONE = "attested_phone"
    ATTESTED_IN_PERSON = "attested_in_person"
    ATTESTED_WRITING = "attested_writing"
    # The customer's "Yes" on the landing page of a partner's offer in an email.
    CAMPAIGN_CLICK = "campaign_click"

    @property
    def label(self) -> str:
        """How it was given, on the consent receipt."""
        return _METHOD_LABELS[self]

    @property
    def choice(self) -> str:
        """The option on the send form."""
        return _METHOD_CHOICES[self]


_METHOD_LABELS = {
    ConsentMethod.EMAIL_LINK: "By the emailed link",
    ConsentMethod.ATTESTED_PHONE: "By phone",
    ConsentMethod.ATTESTED_IN_PERSON: "In person",
    ConsentMethod.ATTESTED_WRITING: "In writing",
    ConsentMethod.CAMPAIGN_CLICK: "By a yes to an offer in an email",
}
_METHOD_CHOICES = {
    ConsentMethod.EMAIL_LINK: "Ask the customer by email (recommended)",
    ConsentMethod.ATTESTED_PHONE: "The customer already agreed by phone",
    ConsentMethod.ATTESTED_IN_PERSON: "The customer already agreed in person",
    ConsentMethod.ATTESTED_WRITING: "The customer already agreed in writing",
    ConsentMethod.CAMPAIGN_CLICK: "The customer said yes to an offer in an email",
}
# Staff record these for a customer who agreed to them, not through our link.
ATTESTED_METHODS = (
    ConsentMethod.ATTESTED_PHONE,
    ConsentMethod.ATTESTED_IN_PERSON,
    ConsentMethod.ATTESTED_WRITING,
)
# What a sender chooses on the send form or in the API (a campaign click is
# recorded only by the customer's own yes on an offer's page).
SENDER_METHODS = (ConsentMethod.EMAIL_LINK, *ATTESTED_METHODS)


def _one_subject() -> CheckConstraint:
    """A consent is about exactly one referral or one lead."""
    return CheckConstraint("(referral_id IS NULL) <> (lead_id IS NULL)", name="one_subject")


class ConsentRequest(TableBase, table=True):
    """The emailed single-use link that asks a customer."""

    __tablename__ = "consent_request"
    __table_args__ = (_one_subject(),)
    # What is asked about: a referral to a named business, or a lead for sale.
    referral_id: int | None = foreign_key("referral.id", nullable=True, index=True)
    lead_id: int | None = foreign_key("lead.id", nullable=True, index=True)
    customer_id: int = foreign_key("customer.id")
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    sent_to: str = Field(sa_column=Column(String(254), nullable=False))
    expires_at: dt.datetime = utc_column(nullable=False)
    used_at: dt.datetime | None = utc_column(default=None)


class ConsentRecord(TableBase, table=True):
    __tablename__ = "consent_record"
    __table_args__ = (
        CheckConstraint("decision IN ('given', 'refused')", name="decision_known"),
        CheckConstraint(
            "method IN (" + ", ".join(f"'{m}'" for m in ConsentMethod) + ")", name="method_known"
        ),
        _one_subject(),
    )
    customer_id: int = foreign_key("customer.id", index=True)
    referral_id: int | None = foreign_key("referral.id", nullable=True, index=True)
    lead_id: int | None = foreign_key("lead.id", nullable=True, index=True)
    referring_business_id: int = foreign_key("business.id")
    # None for a lead: the buyers are not known when the customer agrees; the
    # text names the marketplace, their trade, the area and how many at most.
    receiving_business_id: int | None = foreign_key("business.id", nullable=True)
    data_categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    text_version: str = Field(sa_column=Column(String(16), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))  # exactly as shown
    text_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    method: str = Field(sa_column=Column(String(24), nullable=False))
    decision: str = Field(sa_column=Column(String(8), nullable=False))
    ip: str = Field(default="", sa_column=Column(String(45), nullable=False, default=""))
    user_agent: str = Field(default="", sa_column=Column(String(255), nullable=False, default=""))
    attested_by_user_id: int | None = foreign_key("user_account.id", nullable=True)
    attested_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    evidence_sha256: str = Field(
        default="", sa_column=Column(String(64), nullable=False, default="")
    )
    evidence_content_type: str = Field(
        default="", sa_column=Column(String(64), nullable=False, default="")
    )
    # Kept when erasure deletes the form itself: proof that a form existed.
    evidence_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    evidence_uploaded_at: dt.datetime | None = utc_column(default=None)
    # What carried the link the customer said yes on ("campaign:12",
    # "follow_up:3"); empty for every other method.
    source: str = Field(
        default="", sa_column=Column(String(40), nullable=False, default="", server_default="")
    )


class ConsentWithdrawal(TableBase, table=True):
    __tablename__ = "consent_withdrawal"
    consent_record_id: int = Field(
        sa_column=Column(Integer, ForeignKey("consent_record.id"), nullable=False, unique=True)
    )
    customer_id: int = foreign_key("customer.id", index=True)
    method: str = Field(sa_column=Column(String(24), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


for _model in (ConsentRecord, ConsentWithdrawal):
    make_append_only(_model.__table__)
