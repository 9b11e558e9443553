"""A campaign: one message to a segment of a business's customers, and one
row per recipient (queued, then sent, failed, skipped or cancelled)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field

from referral.db import UTCDateTime
from referral.tables import TableBase


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# What each action may start from (the campaign's state machine).
TRANSITIONS: dict[str, tuple[CampaignStatus, ...]] = {
    "send": (CampaignStatus.DRAFT,),
    "pause": (CampaignStatus.SENDING, CampaignStatus.SCHEDULED),
    "resume": (CampaignStatus.PAUSED,),
    "cancel": (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED),
}
OPEN_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)


class RecipientStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # the rule refused it when its turn came (unsubscribed, erased...)
    CANCELLED = "cancelled"


class Campaign(TableBase, table=True):
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')",
            name="status",
        ),
        Index("ix_campaign_business_id_id", "business_id", "id"),
    )
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    name: str = Field(sa_column=Column(String(120), nullable=False))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    # Who receives it: trades, last job dates, lifetime value, ZIP and radius.
    segment: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The offers each email carries as personal links (its own and its partners').
    offer_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    status: str = Field(default=CampaignStatus.DRAFT, sa_column=Column(String(12), nullable=False))
    created_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True)
    )
    scheduled_for: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Each send writes it first: the write that makes a send and a cancel take turns.
    last_sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    recipients_total: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class CampaignRecipient(TableBase, table=True):
    __tablename__ = "campaign_recipient"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'skipped', 'cancelled')", name="status"
        ),
        Index("uq_campaign_recipient_customer", "campaign_id", "customer_id", unique=True),
        Index("ix_campaign_recipient_campaign_status", "campaign_id", "status", "id"),
        Index("ix_campaign_recipient_customer_id", "customer_id"),
    )
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaign.id"), nullable=False))
    customer_id: int = Field(sa_column=Column(Integer, ForeignKey("customer.id"), nullable=False))
    status: str = Field(
        default=RecipientStatus.QUEUED, sa_column=Column(String(12), nullable=False)
    )
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str = Field(default="", sa_column=Column(String(300), nullable=False, default=""))
