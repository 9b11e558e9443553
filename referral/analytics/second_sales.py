"""The second sale: how many of a business's customers bought again, and how
soon after their first sale, for the customers it had before it ran its first
campaign and for those it won since (the back end at work).

One statement: each customer's first two sales (by a window over their jobs)
and the day the business's first campaign started. The median is taken here,
over one row per customer with a first sale.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, col

from referral.campaigns.models import Campaign
from referral.customers.models import CustomerJob
from referral.money import Rate


@dataclass(frozen=True)
class Cohort:
    label: str
    customers: int  # with a first sale
    with_second_sale: int
    median_days_to_second: float | None

    @property
    def share(self) -> Rate:
        return Rate(self.with_second_sale, self.customers)


@dataclass(frozen=True)
class SecondSales:
    # The day the business's first campaign started; None if it never ran one.
    campaigns_since: dt.date | None
    cohorts: list[Cohort]


def _cohort(label: str, sales: list[tuple[dt.date, dt.date | None]]) -> Cohort:
    gaps = [(second - first).days for first, second in sales if second is not None]
    return Cohort(
        label=label,
        customers=len(sales),
        with_second_sale=len(gaps),
        median_days_to_second=statistics.median(gaps) if gaps else None,
    )


def second_sales(session: Session, business_id: int) -> SecondSales:
    """All customers; then, once the business has run a campaign, those whose
    first sale came before it and those whose first sale came after."""
    rows = session.execute(_statement(), {"business_id": business_id}).all()
    started = next((row[2] for row in rows if row[2] is not None), None)
    since = _as_date(started)
    sales = [(_as_date(row[0]), _as_date(row[1])) for row in rows]
    firsts = [(first, second) for first, second in sales if first is not None]
    cohorts = [_cohort("All customers", firsts)]
    if since is not None:
        cohorts.append(_cohort("First sale before campaigns", [s for s in firsts if s[0] < since]))
        cohorts.append(_cohort("First sale since campaigns", [s for s in firsts if s[0] >= since]))
    return SecondSales(campaigns_since=since, cohorts=cohorts)


@functools.cache
def _statement() -> Any:
    """`second_sales`' statement, built once: each customer's first two sales,
    and the day the business's first campaign started, on every row."""
    business_id: BindParameter[int] = bindparam("business_id")
    numbered = (
        select(
            col(CustomerJob.customer_id).label("customer_id"),
            col(CustomerJob.job_date).label("job_date"),
            func.row_number()
            .over(
                partition_by=col(CustomerJob.customer_id),
                order_by=(col(CustomerJob.job_date), col(CustomerJob.id)),
            )
            .label("n"),
        )
        .where(col(CustomerJob.business_id) == business_id)
        .subquery("numbered")
    )
    first_campaign = (
        select(func.min(col(Campaign.started_at)))
        .where(col(Campaign.business_id) == business_id)
        .scalar_subquery()
    )
    return (
        select(
            func.max(numbered.c.job_date).filter(numbered.c.n == 1),
            func.max(numbered.c.job_date).filter(numbered.c.n == 2),
            first_campaign,
        )
        .where(numbered.c.n <= 2)
        .group_by(numbered.c.customer_id)
    )


def _as_date(value: object) -> dt.date | None:
    """A date from what the drivers return (SQLite gives text for aggregates)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
