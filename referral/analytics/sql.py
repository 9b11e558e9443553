"""SQL pieces that differ between SQLite and PostgreSQL: months, durations, medians.

Every figure is computed by the database; Python only shapes the results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Float, cast, func, literal_column, select
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
        query = select(
            func.percentile_cont(0.5).within_group(value.asc())  # type: ignore[no-untyped-call]
        ).where(*where)
        result = session.execute(query).scalar()
        return float(result) if result is not None else None
    count = session.execute(select(func.count()).where(*where, value.is_not(None))).scalar() or 0
    if count == 0:
        return None
    middle = (
        select(cast(value, Float).label("v"))
        .where(*where, value.is_not(None))
        .order_by(value)
        .limit(2 - count % 2)
        .offset((count - 1) // 2)
        .subquery()
    )
    return float(
        session.execute(select(func.avg(literal_column("v"))).select_from(middle)).scalar()
    )
