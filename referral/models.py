"""Shared model base and the registry of every table (for Alembic and tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, MetaData
from sqlmodel import Field, SQLModel

from referral.db import UTCDateTime, utcnow

# Stable constraint names, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TableBase(SQLModel):
    """Every table has an integer id and a UTC creation time."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def foreign_key(target: str, *, nullable: bool = False, index: bool = False) -> Any:
    """An integer column referencing `target` ("table.id"); required unless nullable."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(Integer, ForeignKey(target), nullable=nullable, index=index),
    )


def utc_column(**kwargs: object) -> object:
    """A UTC timestamp field; nullable unless a default is given."""
    return Field(sa_type=UTCDateTime, **kwargs)  # type: ignore[arg-type]


def load_all_models() -> MetaData:
    """Import every domain's models so SQLModel.metadata knows all tables."""
    from referral.apikeys import models as _apikeys  # noqa: F401
    from referral.audit import models as _audit  # noqa: F401
    from referral.auth import models as _auth  # noqa: F401
    from referral.businesses import models as _businesses  # noqa: F401
    from referral.commissions import models as _commissions  # noqa: F401
    from referral.consent import models as _consent  # noqa: F401
    from referral.customers import models as _customers  # noqa: F401
    from referral.jobs import models as _jobs  # noqa: F401
    from referral.leads import models as _leads  # noqa: F401
    from referral.ledger import models as _ledger  # noqa: F401
    from referral.mail import models as _mail  # noqa: F401
    from referral.notifications import models as _notifications  # noqa: F401
    from referral.partnerships import models as _partnerships  # noqa: F401
    from referral.payments import models as _payments  # noqa: F401
    from referral.referrals import models as _referrals  # noqa: F401
    from referral.settlements import models as _settlements  # noqa: F401

    return SQLModel.metadata
