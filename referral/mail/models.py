"""The local outbox: where mail goes in the embedded default instead of SMTP."""

from __future__ import annotations

from sqlalchemy import Column, String, Text
from sqlmodel import Field

from referral.tables import TableBase


class OutboxEmail(TableBase, table=True):
    __tablename__ = "outbox_email"
    message_id: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    recipient: str = Field(sa_column=Column(String(254), nullable=False, index=True))
    subject: str = Field(sa_column=Column(String(255), nullable=False))
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
