"""SQL pieces that differ between SQLite and PostgreSQL: months, durations, medians.

Every figure is computed by the database; Python only shapes the results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Float, and_, cast, func, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, by whole days."""

    start: dt.date
    end: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(), dt.UTC)

    @classmethod
    def last_months(cls, months: int, *, today: dt.date) -> Period:
        first = today.replace(day=1)
        year, month = divmod(first.year * 12 + first.month - 1 - (months - 1), 12)
        return cls(dt.date(year, month + 1, 1), today + dt.timedelta(days=1))


@dataclass(frozen=True)
class Rate:
    """An exact ratio; `None` percent when there is nothing to divide by."""

    numerator: int
    denominator: int

    @property
    def fraction(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def percent(self) -> float | None:  # display only
        return 100 * self.numerator / self.denominator if self.denominator else None


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def month_of(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp or date column."""
    if is_sqlite(session):
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    if is_sqlite(session):
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def median(session: Session, value: ColumnElement[Any], *where: Any) -> float | None:
    """The median of `value` over the rows matching `where`, in the database."""
    if not is_sqlite(session):
        result = session.execute(select(median_column(value)).where(*where)).scalar()
        return float(result) if result is not None else None
    # SQLite has no percentile function: count the values, then average the
    # middle one (odd count) or two (even count) in order. Each value is computed
    # once, in a subquery, rather than once to filter, once to sort and once to read.
    values = select(cast(value, Float).label("v")).where(*where).subquery("median_values")
    present = values.c.v.is_not(None)
    count = session.execute(select(func.count()).select_from(values).where(present)).scalar()
    if not count:
        return None
    middle = (
        select(values.c.v)
        .where(present)
        .order_by(values.c.v)
        .limit(2 - count % 2)
        .offset((count - 1) // 2)
        .subquery("middle")
    )
    return float(session.execute(select(func.avg(middle.c.v))).scalar())


def median_column(value: ColumnElement[Any], *where: Any) -> ColumnElement[Any]:
    """PostgreSQL only: the median of `value` over the rows matching `where`, as an
    aggregate to select beside others, so one pass computes several figures."""
    ordered = func.percentile_cont(0.5).within_group(value.asc())  # type: ignore[no-untyped-call]
    return ordered.filter(and_(*where)) if where else ordered
