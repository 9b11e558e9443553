"""The marketplace for one business: leads sold and bought, what they brought
and cost, the dispute rate of its sales, and its quality score month by month."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CTE
from sqlmodel import Session

from referral.analytics.sql import Period, month_parameters, month_slices
from referral.leads.models import PAID_FOR, DisputeStatus, Lead, LeadDispute, LeadPurchase
from referral.leads.quality import SellerQuality
from referral.money import Rate


@dataclass(frozen=True)
class MarketMonth:
    month: str
    sold: int
    sold_cents: int  # to the seller, after the platform fee
    bought: int
    bought_cents: int
    disputes_upheld: int
    quality: SellerQuality

    @property
    def dispute_rate(self) -> Rate:
        return Rate(self.disputes_upheld, self.sold)


def _in(at: Any, months: CTE) -> ColumnElement[bool]:
    """`at` falls in one of the months (of the business's zone)."""
    return and_(at >= months.c.start_at, at < months.c.end_at)


@functools.cache
def _statements(count: int) -> tuple[Any, Any, Any]:
    """Leads sold, leads bought and disputes upheld, month by month, for
    `count` months: built once (the business and the months bound parameters)."""
    months = month_slices(count)
    month = months.c.month
    business_id = bindparam("business_id")
    sold = (
        select(
            month,
            func.count(),
            func.sum(LeadPurchase.price_cents - LeadPurchase.platform_fee_cents),
            func.sum(case((LeadPurchase.outcome.is_not(None), 1), else_=0)),
            func.sum(case((LeadPurchase.outcome.in_(("contacted", "won", "lost")), 1), else_=0)),
            func.sum(case((LeadPurchase.outcome == "won", 1), else_=0)),
        )
        .select_from(months)
        .join(LeadPurchase, _in(LeadPurchase.paid_at, months))
        .join(Lead, Lead.id == LeadPurchase.lead_id)
        .where(Lead.seller_id == business_id, LeadPurchase.status.in_(PAID_FOR))
        .group_by(month)
    )
    bought = (
        select(month, func.count(), func.sum(LeadPurchase.price_cents))
        .select_from(months)
        .join(LeadPurchase, _in(LeadPurchase.paid_at, months))
        .where(LeadPurchase.buyer_id == business_id, LeadPurchase.status.in_(PAID_FOR))
        .group_by(month)
    )
    upheld = (
        select(month, func.count())
        .select_from(months)
        .join(LeadDispute, _in(LeadDispute.decided_at, months))
        .where(
            LeadDispute.seller_id == business_id,
            LeadDispute.status == DisputeStatus.UPHELD,
        )
        .group_by(month)
    )
    return sold, bought, upheld


def monthly(session: Session, business_id: int, *, period: Period) -> list[MarketMonth]:
    sold_sql, bought_sql, upheld_sql = _statements(len(period.months()))
    parameters = {"business_id": business_id, **month_parameters(period)}
    sales = {row[0]: row[1:] for row in session.execute(sold_sql, parameters).all()}
    bought = {m: (int(n), int(c or 0)) for m, n, c in session.execute(bought_sql, parameters).all()}
    upheld = dict(session.execute(upheld_sql, parameters).all())  # type: ignore[arg-type]
    months = sorted(set(sales) | set(bought) | set(upheld))
    result = []
    for m in months:
        n, cents, reported, contacted, won = (int(v or 0) for v in sales.get(m, (0, 0, 0, 0, 0)))
        b_n, b_cents = bought.get(m, (0, 0))
        u = int(upheld.get(m, 0))
        result.append(
            MarketMonth(
                month=m,
                sold=n,
                sold_cents=cents,
                bought=b_n,
                bought_cents=b_cents,
                disputes_upheld=u,
                quality=SellerQuality(n, reported, contacted, won, u),
            )
        )
    return result
