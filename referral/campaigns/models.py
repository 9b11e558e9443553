"""A campaign: one message to a segment of a business's customers, and one
row per recipient (queued, then sent, failed, skipped or cancelled)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
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


# --- Follow-ups after a job -----------------------------------------------------------------


class FollowUpStatus(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # the rule refused it (no permission, suppressed, erased, took the offer)
    FAILED = "failed"  # the mail server refused it, or composing it failed


class FollowUpRule(TableBase, table=True):
    """ "N days after a job (of trade X), at H o'clock local time, send this
    message with these offers": one email per (rule, job)."""

    __tablename__ = "follow_up_rule"
    __table_args__ = (
        CheckConstraint("days_after >= 1 AND days_after <= 365", name="days_after_range"),
        CheckConstraint("send_hour >= 0 AND send_hour <= 23", name="send_hour_range"),
        Index("ix_follow_up_rule_business_id_id", "business_id", "id"),
    )
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    name: str = Field(sa_column=Column(String(120), nullable=False))
    days_after: int = Field(sa_column=Column(Integer, nullable=False))
    # Only jobs of this trade; "" for every job.
    trade: str = Field(default="", sa_column=Column(String(60), nullable=False, default=""))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    offer_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # The hour of the day it sends, in the business's time zone.
    send_hour: int = Field(default=10, sa_column=Column(Integer, nullable=False, default=10))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    created_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True)
    )
    updated_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class FollowUpSend(TableBase, table=True):
    """What a rule did for one job: sent, skipped (and why) or failed. The
    unique (rule, job) is what keeps a second run or a second worker from
    sending twice."""

    __tablename__ = "follow_up_send"
    __table_args__ = (
        CheckConstraint("status IN ('sent', 'skipped', 'failed')", name="status"),
        Index("uq_follow_up_send_rule_job", "rule_id", "customer_job_id", unique=True),
        Index("ix_follow_up_send_rule_status", "rule_id", "status"),
        Index("ix_follow_up_send_customer_id", "customer_id"),
    )
    rule_id: int = Field(sa_column=Column(Integer, ForeignKey("follow_up_rule.id"), nullable=False))
    customer_job_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer_job.id"), nullable=False)
    )
    customer_id: int = Field(sa_column=Column(Integer, ForeignKey("customer.id"), nullable=False))
    status: str = Field(sa_column=Column(String(8), nullable=False))
    reason: str = Field(default="", sa_column=Column(String(300), nullable=False, default=""))
