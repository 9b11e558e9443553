"""Notifications a business sees in the app (its team shares them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field

from referral.tables import TableBase, utc_column

TITLE_LENGTH = 200


class Notification(TableBase, table=True):
    __table_args__ = (Index("ix_notification_inbox", "business_id", "read_at", "id"),)
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))
    link: str = Field(default="", sa_column=Column(String(255), nullable=False, default=""))
    read_at: dt.datetime | None = utc_column(default=None)
