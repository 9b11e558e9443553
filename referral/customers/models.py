"""A business's customers and the jobs it did for them.

Customers hold personal data. They belong to one business; another business
sees them only through a consented referral. Erasure blanks the personal
fields and keeps the row (and so referral outcomes and money) pseudonymous.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlmodel import Field

from referral.models import TableBase, utc_column


class Customer(TableBase, table=True):
    __table_args__ = (
        Index("ix_customer_business_email", "business_id", "email"),
        Index("ix_customer_business_phone", "business_id", "phone"),
    )
    business_id: int = Field(
        sa_column=Column(Integer, ForeignKey("business.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=Column(String(120), nullable=False))
    email: str = Field(default="", sa_column=Column(String(254), nullable=False, default=""))
    phone: str = Field(default="", sa_column=Column(String(32), nullable=False, default=""))
    address: str = Field(default="", sa_column=Column(String(255), nullable=False, default=""))
    zip_code: str = Field(default="", sa_column=Column(String(5), nullable=False, default=""))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    erased_at: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


class CustomerJob(TableBase, table=True):
    """A job a business did for its customer: sale #1, #2, #3..."""

    __tablename__ = "customer_job"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        # A business's jobs by date, with what customer lifetime value sums
        # (referral/analytics/lifetime.py) so it reads them from the index.
        Index(
            "ix_customer_job_business_date",
            "business_id",
            "job_date",
            "customer_id",
            "amount_cents",
            "id",
        ),
    )
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    customer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    )
    job_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    description: str = Field(sa_column=Column(String(500), nullable=False))
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
