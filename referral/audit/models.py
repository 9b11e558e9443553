"""Audit events, shown to the business that owns the data."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field

from referral.tables import TableBase


class AuditEvent(TableBase, table=True):
    """`actor_business_id` (and its user) did `action` to `subject` owned by
    `owner_business_id`. Subjects are ids ("referral:12"), never personal data."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_owner", "owner_business_id", "id"),)
    owner_business_id: int = Field(
        sa_column=Column(Integer, ForeignKey("business.id"), nullable=False)
    )
    actor_business_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("business.id"), nullable=True)
    )
    actor_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True)
    )
    action: str = Field(sa_column=Column(String(40), nullable=False))
    subject: str = Field(sa_column=Column(String(64), nullable=False))
