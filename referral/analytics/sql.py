"""SQL pieces that differ between SQLite and PostgreSQL: months, durations
(`referral.db.seconds_between`), medians.

Every figure is computed by the database; Python only shapes the results.

The dashboard's statements are built once (`functools.cache`, keyed by what
changes their shape: the database, the direction, the number of months...),
with the business, the period and the months as bound parameters given at
execution: SQLAlchemy's statement cache saves compiling a statement again, not
building it in Python, which was about half the page's CPU in process.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, String, and_, bindparam, cast, func, select, union_all
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CTE, Select
from sqlmodel import Session

from referral.db import UTCDateTime
from referral.localtime import UTC, local_date


@dataclass(frozen=True)
class Period:
    """[start, end) by whole days in the business's zone (UTC unless given):
    its days and months begin at local midnight, so a job won at 20:00 on
    January 31 in Austin (02:00 UTC on February 1) counts in January."""

    start: dt.date
    end: dt.date
    zone: ZoneInfo = UTC

    @property
    def start_at(self) -> dt.datetime:
        return _midnight(self.start, self.zone)

    @property
    def end_at(self) -> dt.datetime:
        return _midnight(self.end, self.zone)

    def holds(self, at: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """The SQL conditions that the timestamp `at` falls in the period."""
        return (at >= self.start_at, at < self.end_at)

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.start_at <= moment < self.end_at

    @classmethod
    def last_months(cls, months: int, *, today: dt.date, zone: ZoneInfo = UTC) -> Period:
        """The `months` calendar months up to and including `today` (a day in
        `zone`)."""
        first = today.replace(day=1)
        year, month = divmod(first.year * 12 + first.month - 1 - (months - 1), 12)
        return cls(dt.date(year, month + 1, 1), today + dt.timedelta(days=1), zone)

    @classmethod
    def last_months_until(cls, months: int, *, now: dt.datetime, zone: ZoneInfo = UTC) -> Period:
        """The last `months` calendar months of `zone`, up to and including the
        day `now` falls on there."""
        return cls.last_months(months, today=local_date(now, zone), zone=zone)

    def months(self) -> tuple[tuple[str, dt.datetime, dt.datetime], ...]:
        """Each calendar month (of the zone) the period touches: ('YYYY-MM',
        start, end) in UTC, cut to the period at both ends. Worked out once
        per period: a dashboard asks for them several times."""
        return _months_of(self)


@functools.lru_cache(maxsize=64)
def _months_of(period: Period) -> tuple[tuple[str, dt.datetime, dt.datetime], ...]:
    slices = []
    year, month = period.start.year, period.start.month
    while dt.date(year, month, 1) < period.end:
        year_after, month_after = (year + 1, 1) if month == 12 else (year, month + 1)
        start = max(period.start, dt.date(year, month, 1))
        end = min(period.end, dt.date(year_after, month_after, 1))
        slices.append(
            (
                f"{year:04d}-{month:02d}",
                _midnight(start, period.zone),
                _midnight(end, period.zone),
            )
        )
        year, month = year_after, month_after
    return tuple(slices)


def in_period(at: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """`Period.holds` for a statement built once: the conditions that `at` falls
    in the period whose ends `period_parameters` gives at execution."""
    return (
        at >= bindparam("period_start", type_=UTCDateTime()),
        at < bindparam("period_end", type_=UTCDateTime()),
    )


def period_parameters(period: Period) -> dict[str, Any]:
    """The values of `in_period`'s parameters."""
    return {"period_start": period.start_at, "period_end": period.end_at}


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The moment (UTC) the day begins in `zone`."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


@functools.cache
def month_slices(count: int) -> CTE:
    """`count` months as rows (month, start_at, end_at), for statements that
    count each month through an index range instead of formatting every row's
    timestamp and grouping by it. Bound parameters (`month_parameters` gives
    their values for a period), so a statement using it is built and compiled
    once per number of months.

    A UNION ALL of one-row SELECTs, not a VALUES list: SQLAlchemy cannot cache
    a statement holding VALUES data, so each statement using one was compiled
    again on every request (a few milliseconds each on the dashboard)."""
    rows = [
        select(
            bindparam(f"month_{n}", type_=String).label("month"),
            bindparam(f"start_at_{n}", type_=UTCDateTime()).label("start_at"),
            bindparam(f"end_at_{n}", type_=UTCDateTime()).label("end_at"),
        )
        for n in range(count)
    ]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte("months")


def month_parameters(period: Period) -> dict[str, Any]:
    """The values of `month_slices(len(period.months()))`'s parameters."""
    values: dict[str, Any] = {}
    for n, (month, start_at, end_at) in enumerate(period.months()):
        values |= {f"month_{n}": month, f"start_at_{n}": start_at, f"end_at_{n}": end_at}
    return values


def month_of(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp or date column."""
    return month_in(session.get_bind().dialect.name, column)


def month_in(dialect: str, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp or date column, in SQL for the `dialect` named."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def median_of_values(values: Select[Any]) -> Select[Any]:
    """SQLite: the median of the one column of `values`, a statement giving
    rows none NULL, whose number `median_parameters` takes at execution (the
    caller counted them in a pass it made anyway).

    SQLite has no percentile function: the middle value (odd count) or the average
    of the middle two (even count) in order, read with ORDER BY ... LIMIT/OFFSET."""
    ordered = values.subquery("median_values")
    (value,) = ordered.c
    middle = (
        select(cast(value, Float).label("v"))
        .order_by(value)
        .limit(bindparam("median_limit", type_=Integer))
        .offset(bindparam("median_offset", type_=Integer))
        .subquery("middle")
    )
    return select(func.avg(middle.c.v))


def median_parameters(count: int) -> dict[str, int]:
    """The values of `median_of_values`' parameters for `count` values (not 0)."""
    return {"median_limit": 2 - count % 2, "median_offset": (count - 1) // 2}


def median_column(value: ColumnElement[Any], *where: Any) -> ColumnElement[Any]:
    """PostgreSQL only: the median of `value` over the rows matching `where`, as an
    aggregate to select beside others, so one pass computes several figures."""
    ordered = func.percentile_cont(0.5).within_group(value.asc())  # type: ignore[no-untyped-call]
    return ordered.filter(and_(*where)) if where else ordered
