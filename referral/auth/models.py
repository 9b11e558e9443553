"""People who sign in, their sessions, one-time tokens, invitations and API keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String
from sqlmodel import Field

from referral.tables import TableBase, utc_column

ROLES = ("owner", "manager", "staff")
ROLE_CHECK = "role IN ('owner', 'manager', 'staff')"


def _fk(target: str, *, index: bool = True, nullable: bool = False) -> object:
    return Field(
        sa_column=Column(
            Integer, ForeignKey(target, ondelete="CASCADE"), nullable=nullable, index=index
        )
    )


class User(TableBase, table=True):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)
    business_id: int = _fk("business.id")
    email: str = Field(sa_column=Column(String(254), unique=True, nullable=False))
    name: str = Field(sa_column=Column(String(120), nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    is_operator: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    email_verified_at: dt.datetime | None = utc_column(default=None)
    password_changed_at: dt.datetime | None = utc_column(default=None)
    disabled_at: dt.datetime | None = utc_column(default=None)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class LoginSession(TableBase, table=True):
    """A signed-in browser. The cookie holds a random token; we keep its hash,
    so a login always starts a new session and logout really ends it."""

    __tablename__ = "login_session"
    user_id: int = _fk("user_account.id")
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    expires_at: dt.datetime = utc_column(nullable=False)
    last_seen_at: dt.datetime | None = utc_column(default=None)
    user_agent: str = Field(default="", sa_column=Column(String(255), nullable=False, default=""))


class UserToken(TableBase, table=True):
    """A single-use, expiring token sent by email (verification, password reset)."""

    __tablename__ = "user_token"
    __table_args__ = (
        CheckConstraint("purpose IN ('verify_email', 'reset_password')", name="purpose"),
    )
    user_id: int = _fk("user_account.id")
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    sent_to: str = Field(sa_column=Column(String(254), nullable=False))
    expires_at: dt.datetime = utc_column(nullable=False)
    used_at: dt.datetime | None = utc_column(default=None)


class Invitation(TableBase, table=True):
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)
    business_id: int = _fk("business.id")
    invited_by_id: int = _fk("user_account.id", index=False)
    email: str = Field(sa_column=Column(String(254), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    expires_at: dt.datetime = utc_column(nullable=False)
    accepted_at: dt.datetime | None = utc_column(default=None)
    revoked_at: dt.datetime | None = utc_column(default=None)


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
