"""Month by month: referrals sent and received, jobs won and their revenue,
commissions earned and owed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, literal_column, select, union_all
from sqlmodel import Session

from referral.analytics.sql import Period, month_of
from referral.commissions.models import Commission
from referral.referrals.models import Referral

SERIES = ("sent", "received", "won", "revenue_cents", "earned_cents", "owed_cents")


@dataclass
class Month:
    month: str
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERIES, 0))


def _months(period: Period) -> list[str]:
    months, year, month = [], period.start.year, period.start.month
    while (year, month) <= (period.end.year, period.end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    last_day_included = period.end.day > 1
    return months if last_day_included else months[:-1]


def monthly(session: Session, business_id: int, *, period: Period) -> list[Month]:
    result = {m: Month(m) for m in _months(period)}
    # Each side on its own (UNION ALL, not OR), so each reads one index range.
    month = month_of(session, Referral.created_at)
    in_period = (Referral.created_at >= period.start_at, Referral.created_at < period.end_at)
    sides = union_all(
        select(
            month.label("month"),
            literal_column("1").label("sent"),
            literal_column("0").label("received"),
        ).where(Referral.sender_id == business_id, *in_period),
        select(
            month.label("month"),
            literal_column("0").label("sent"),
            literal_column("1").label("received"),
        ).where(Referral.receiver_id == business_id, *in_period),
    ).subquery("sides")
    rows = session.execute(
        select(sides.c.month, func.sum(sides.c.sent), func.sum(sides.c.received)).group_by(
            sides.c.month
        )
    ).all()
    for m, sent, received in rows:
        if m in result:
            result[m].figures.update(sent=int(sent or 0), received=int(received or 0))
    closed = month_of(session, Referral.closed_at)
    rows = session.execute(
        select(closed, func.count(), func.sum(Referral.job_value_cents))
        .where(
            Referral.receiver_id == business_id,
            Referral.status == "won",
            Referral.closed_at >= period.start_at,
            Referral.closed_at < period.end_at,
        )
        .group_by(closed)
    ).all()
    for m, won, revenue in rows:
        if m in result:
            result[m].figures.update(won=int(won), revenue_cents=int(revenue or 0))
    accrued = month_of(session, Commission.created_at)
    counted = (
        Commission.status != "reversed",
        Commission.created_at >= period.start_at,
        Commission.created_at < period.end_at,
    )
    amounts = union_all(
        select(
            accrued.label("month"),
            Commission.amount_cents.label("earned"),
            literal_column("0").label("owed"),
        ).where(Commission.referrer_id == business_id, *counted),
        select(
            accrued.label("month"),
            literal_column("0").label("earned"),
            Commission.amount_cents.label("owed"),
        ).where(Commission.payer_id == business_id, *counted),
    ).subquery("amounts")
    rows = session.execute(
        select(amounts.c.month, func.sum(amounts.c.earned), func.sum(amounts.c.owed)).group_by(
            amounts.c.month
        )
    ).all()
    for m, earned, owed in rows:
        if m in result:
            result[m].figures.update(earned_cents=int(earned or 0), owed_cents=int(owed or 0))
    return list(result.values())
