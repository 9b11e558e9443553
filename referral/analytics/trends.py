"""Month by month: referrals sent and received, jobs won and their revenue,
commissions earned and owed."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from referral.analytics.sql import Period, month_parameters, month_slices
from referral.commissions.models import STATUSES as COMMISSION_STATUSES
from referral.commissions.models import Commission, CommissionStatus
from referral.referrals.models import Referral, ReferralStatus

SERIES = ("sent", "received", "won", "revenue_cents", "earned_cents", "owed_cents")
# Every commission but a reversed one, as a list: an index range per status,
# where `status <> 'reversed'` would read the business's commissions of all time.
COUNTED = tuple(s for s in COMMISSION_STATUSES if s != CommissionStatus.REVERSED)


@dataclass
class Month:
    month: str
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERIES, 0))


def monthly(session: Session, business_id: int, *, period: Period) -> list[Month]:
    """Each month of the period, in one statement: every figure of a month is
    an aggregate over one index range (this business's side, the month), so no
    row's timestamp is formatted and nothing is sorted or grouped."""
    statement = _monthly(len(period.months()))
    rows = session.execute(
        statement, {"business_id": business_id, **month_parameters(period)}
    ).all()
    return [Month(row[0], dict(zip(SERIES, map(int, row[1:]), strict=True))) for row in rows]


@functools.cache
def _monthly(count: int) -> Any:
    """`monthly`'s statement for `count` months, built once (bound parameters)."""
    months = month_slices(count)
    business_id = bindparam("business_id")

    def in_month(at):  # type: ignore[no-untyped-def]
        return (at >= months.c.start_at, at < months.c.end_at)

    def total(aggregate, *where):  # type: ignore[no-untyped-def]
        return select(func.coalesce(aggregate, 0)).where(*where).scalar_subquery()

    won = (
        Referral.receiver_id == business_id,
        Referral.status == ReferralStatus.WON,
        *in_month(Referral.closed_at),
    )
    return select(
        months.c.month,
        total(func.count(), Referral.sender_id == business_id, *in_month(Referral.created_at)),
        total(func.count(), Referral.receiver_id == business_id, *in_month(Referral.created_at)),
        total(func.count(), *won),
        total(func.sum(Referral.job_value_cents - Referral.refunded_cents), *won),
        *(
            total(
                func.sum(Commission.amount_cents),
                side == business_id,
                Commission.status.in_(COUNTED),
                *in_month(Commission.created_at),
            )
            for side in (Commission.referrer_id, Commission.payer_id)
        ),
    ).order_by(months.c.start_at)
