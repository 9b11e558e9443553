"""Webhook endpoints of a business, the events written for them (the outbox),
one delivery per endpoint and event, and the log of each attempt."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field

from referral.tables import TableBase, foreign_key, utc_column

EVENT_TYPES: tuple[str, ...] = (
    "referral.received",
    "referral.accepted",
    "referral.declined",
    "referral.won",
    "referral.lost",
    "referral.withdrawn",
    "consent.given",
    "consent.withdrawn",
    "commission.approved",
    "commission.reversed",
    "settlement.paid",
    "settlement.failed",
    "lead.sold",
    "lead.purchased",
    "partnership.proposed",
    "partnership.activated",
)
# Sent by the "send test event" button only; never subscribed to.
TEST_EVENT = "webhook.test"


class EndpointStatus(StrEnum):
    enabled = "enabled"
    disabled = "disabled"
    deleted = "deleted"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # gave up after the retry window
    dropped = "dropped"  # the endpoint was deleted before it went out


class WebhookEndpoint(TableBase, table=True):
    """A URL of a business that receives the event types it chose."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (
        CheckConstraint("status IN ('enabled', 'disabled', 'deleted')", name="status"),
    )
    business_id: int = foreign_key("business.id", index=True)
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    description: str = Field(default="", sa_column=Column(String(200), nullable=False))
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret: str = Field(sa_column=Column(String(100), nullable=False))
    # The secret before the last rotation, valid (signed with too) until then.
    previous_secret: str | None = Field(default=None, sa_column=Column(String(100)))
    previous_secret_expires_at: dt.datetime | None = utc_column(default=None)
    status: str = Field(
        default=EndpointStatus.enabled, sa_column=Column(String(16), nullable=False)
    )
    disabled_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    # Since when every attempt failed (None while the last one succeeded).
    failing_since: dt.datetime | None = utc_column(default=None)
    # A worker delivering to this endpoint holds it until then: one at a time.
    busy_until: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)


class WebhookEvent(TableBase, table=True):
    """One event for one business, written in the transaction of its change."""

    __tablename__ = "webhook_event"
    business_id: int = foreign_key("business.id", index=True)
    type: str = Field(sa_column=Column(String(64), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WebhookDelivery(TableBase, table=True):
    """An event on its way to one endpoint; its attempts share one webhook-id."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'dropped')", name="status"),
        Index("ix_webhook_delivery_queue", "endpoint_id", "status", "id"),
    )
    endpoint_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webhook_event.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    status: str = Field(
        default=DeliveryStatus.pending, sa_column=Column(String(16), nullable=False)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    next_attempt_at: dt.datetime | None = utc_column(default=None)
    delivered_at: dt.datetime | None = utc_column(default=None)


class WebhookAttempt(TableBase, table=True):
    """One try at a delivery: what the endpoint answered, kept 30 days."""

    __tablename__ = "webhook_attempt"
    delivery_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    endpoint_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("webhook_endpoint.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    number: int = Field(sa_column=Column(Integer, nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    duration_ms: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    response_excerpt: str = Field(default="", sa_column=Column(Text, nullable=False))
    error: str = Field(default="", sa_column=Column(String(500), nullable=False))
    succeeded: bool = Field(default=False, nullable=False)
