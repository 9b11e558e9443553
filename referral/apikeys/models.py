"""API keys: how integrations authenticate to the REST API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, String
from sqlmodel import Field

from referral.auth.models import _fk
from referral.models import TableBase, utc_column


class ApiKey(TableBase, table=True):
    """An API key of a business. Only its SHA-256 is kept; the key is shown once."""

    __tablename__ = "api_key"
    business_id: int = _fk("business.id")
    created_by_id: int = _fk("user_account.id", index=False)
    name: str = Field(sa_column=Column(String(80), nullable=False))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    last_used_at: dt.datetime | None = utc_column(default=None)
    revoked_at: dt.datetime | None = utc_column(default=None)
