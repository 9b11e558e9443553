"""The base every table derives from, with the constraint naming convention.

It imports no domain: the list of every domain's models is the app's wiring
(`referral.domains.load_all_models`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer
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
