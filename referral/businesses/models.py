"""Businesses (tenants), the trade taxonomy and which trades compete."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field

from referral.businesses.geo import zone_for_zip
from referral.tables import TableBase, utc_column

MIN_RADIUS_MILES = 1
MAX_RADIUS_MILES = 200


class Trade(TableBase, table=True):
    slug: str = Field(sa_column=Column(String(60), unique=True, nullable=False))
    name: str = Field(sa_column=Column(String(80), unique=True, nullable=False))


class TradeCompetition(TableBase, table=True):
    """One row per ordered pair; the service keeps both directions. A trade
    always competes with itself, which needs no row."""

    __tablename__ = "trade_competition"
    __table_args__ = (
        CheckConstraint("trade_id <> competitor_id", name="not_self"),
        UniqueConstraint("trade_id", "competitor_id", name="uq_trade_competition_pair"),
    )
    trade_id: int = Field(
        sa_column=Column(Integer, ForeignKey("trade.id", ondelete="CASCADE"), nullable=False)
    )
    competitor_id: int = Field(
        sa_column=Column(Integer, ForeignKey("trade.id", ondelete="CASCADE"), nullable=False)
    )


class Business(TableBase, table=True):
    __table_args__ = (
        CheckConstraint(
            f"radius_miles >= {MIN_RADIUS_MILES} AND radius_miles <= {MAX_RADIUS_MILES}",
            name="radius_range",
        ),
        # Discovery's bounding box reads centres, radius and trade from this
        # index alone, without visiting the table.
        Index("ix_business_geo", "latitude", "longitude", "radius_miles", "trade_id", "id"),
    )
    name: str = Field(sa_column=Column(String(120), nullable=False))
    trade_id: int = Field(
        sa_column=Column(Integer, ForeignKey("trade.id"), nullable=False, index=True)
    )
    zip_code: str = Field(sa_column=Column(String(5), nullable=False))
    latitude: float
    longitude: float
    radius_miles: int = Field(index=True)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    phone: str = Field(default="", sa_column=Column(String(32), nullable=False, default=""))
    website: str = Field(default="", sa_column=Column(String(255), nullable=False, default=""))
    # An IANA zone chosen in the profile; empty: the zone of the ZIP code.
    time_zone: str = Field(
        default="", sa_column=Column(String(64), nullable=False, default="", server_default="")
    )
    # Where the business receives post: every marketing email carries it (CAN-SPAM).
    postal_address: str = Field(
        default="", sa_column=Column(String(300), nullable=False, default="", server_default="")
    )
    updated_at: dt.datetime | None = utc_column(default=None)

    @property
    def zone_name(self) -> str:
        """The zone its pages, CSV and emails show times in."""
        return self.time_zone or zone_for_zip(self.zip_code) or "UTC"
