"""SQL pieces that differ between SQLite and PostgreSQL: months, durations, medians.

Every figure is computed by the database; Python only shapes the results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, String, and_, cast, column, func, select, values
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CTE, Select
from sqlmodel import Session

from referral.db import UTCDateTime


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

    def months(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """Each calendar month (UTC) the period touches: ('YYYY-MM', start, end),
        cut to the period at both ends."""
        slices = []
        year, month = self.start.year, self.start.month
        while dt.date(year, month, 1) < self.end:
            year_after, month_after = (year + 1, 1) if month == 12 else (year, month + 1)
            start = max(self.start, dt.date(year, month, 1))
            end = min(self.end, dt.date(year_after, month_after, 1))
            slices.append((f"{year:04d}-{month:02d}", _midnight(start), _midnight(end)))
            year, month = year_after, month_after
        return slices


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def month_slices(period: Period) -> CTE:
    """The period's months as rows (month, start_at, end_at), for statements that
    count each month through an index range instead of formatting every row's
    timestamp and grouping by it."""
    return (
        values(
            column("month", String),
            column("start_at", UTCDateTime()),
            column("end_at", UTCDateTime()),
            name="months",
        )
        .data(period.months())
        .cte("months")
    )


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def month_of(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp or date column."""
    if is_sqlite(session):
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """Seconds from `start` to `end` as a float (NULL when either is NULL)."""
    if is_sqlite(session):
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    # Epoch differences are double precision; EXTRACT(epoch FROM end - start)
    # is numeric since PostgreSQL 14, several times slower to sort.
    return func.date_part("epoch", end) - func.date_part("epoch", start)


def median_of_values(session: Session, values: Select[Any], count: int) -> float | None:
    """SQLite: the median of the one column of `values`, a statement giving `count`
    rows, none NULL (the caller counted them in a pass it made anyway).

    SQLite has no percentile function: the middle value (odd count) or the average
    of the middle two (even count) in order, read with ORDER BY ... LIMIT/OFFSET."""
    if not count:
        return None
    ordered = values.subquery("median_values")
    (value,) = ordered.c
    middle = (
        select(cast(value, Float).label("v"))
        .order_by(value)
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
