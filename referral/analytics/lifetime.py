"""Customer lifetime value: sale #1 + sale #2 + sale #3..., counting the jobs a
business did itself and the jobs its partners won from its referrals.

One `sales` set (own jobs UNION ALL partner jobs), numbered per customer by
date with a window function; every total is an SQL aggregate over it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlmodel import Session

from referral.analytics.sql import Rate, month_of
from referral.businesses.models import Business, Trade
from referral.commissions.models import Commission
from referral.customers.models import Customer, CustomerJob
from referral.referrals.models import Referral


@dataclass(frozen=True)
class CustomerValue:
    customer_id: int
    name: str
    sales: int
    lifetime_cents: int
    first_sale_cents: int
    partner_cents: int  # won by partners from this business's referrals
    chain: tuple[tuple[str, str], ...] = ()  # (partner, status) of each referral

    @property
    def back_end_cents(self) -> int:
        return self.lifetime_cents - self.first_sale_cents


@dataclass(frozen=True)
class LifetimeSummary:
    customers: int
    revenue_cents: int
    first_sale_cents: int
    back_end_cents: int
    partner_cents: int

    @property
    def average(self) -> Rate:
        return Rate(self.revenue_cents, self.customers)

    @property
    def back_end_share(self) -> Rate:
        return Rate(self.back_end_cents, self.revenue_cents)


@dataclass(frozen=True)
class Breakdown:
    label: str
    customers: int
    revenue_cents: int
    first_sale_cents: int

    @property
    def back_end_cents(self) -> int:
        return self.revenue_cents - self.first_sale_cents

    @property
    def average(self) -> Rate:
        return Rate(self.revenue_cents, self.customers)


def _sales(business_id: int):  # type: ignore[no-untyped-def]
    """Every sale to this business's customers, numbered per customer by date."""
    won = Commission.__table__.alias("won_commission")
    own = select(
        CustomerJob.customer_id.label("customer_id"),
        CustomerJob.job_date.label("sale_date"),
        CustomerJob.amount_cents.label("amount"),
        literal(business_id).label("done_by"),
        literal(0).label("source"),
        CustomerJob.id.label("sale_id"),
    ).where(CustomerJob.business_id == business_id)
    through_partners = (
        select(
            Referral.customer_id.label("customer_id"),
            func.coalesce(Referral.job_date, func.date(Referral.closed_at)).label("sale_date"),
            (Referral.job_value_cents - func.coalesce(won.c.refunded_cents, 0)).label("amount"),
            Referral.receiver_id.label("done_by"),
            literal(1).label("source"),
            Referral.id.label("sale_id"),
        )
        .outerjoin(won, and_(won.c.referral_id == Referral.id, won.c.trigger == "won"))
        .where(Referral.sender_id == business_id, Referral.status == "won")
    )
    sales = union_all(own, through_partners).subquery("sales")
    number = func.row_number().over(
        partition_by=sales.c.customer_id,
        order_by=(sales.c.sale_date, sales.c.source, sales.c.sale_id),
    )
    return select(sales, number.label("n")).subquery("numbered")


def _first(numbered):  # type: ignore[no-untyped-def]
    return func.sum(case((numbered.c.n == 1, numbered.c.amount), else_=0))


def summary(session: Session, business_id: int) -> LifetimeSummary:
    s = _sales(business_id)
    row = session.execute(
        select(
            func.count(func.distinct(s.c.customer_id)),
            func.coalesce(func.sum(s.c.amount), 0),
            func.coalesce(_first(s), 0),
            func.coalesce(func.sum(case((s.c.source == 1, s.c.amount), else_=0)), 0),
        )
    ).one()
    customers, revenue, first, partner = (int(v) for v in row)
    return LifetimeSummary(customers, revenue, first, revenue - first, partner)


def top_customers(session: Session, business_id: int, *, limit: int = 50) -> list[CustomerValue]:
    s = _sales(business_id)
    rows = session.execute(
        select(
            s.c.customer_id,
            Customer.name,
            Customer.erased_at,
            func.count(),
            func.sum(s.c.amount),
            _first(s),
            func.sum(case((s.c.source == 1, s.c.amount), else_=0)),
        )
        .join(Customer, Customer.id == s.c.customer_id)
        .group_by(s.c.customer_id, Customer.name, Customer.erased_at)
        .order_by(func.sum(s.c.amount).desc(), s.c.customer_id)
        .limit(limit)
    ).all()
    chains = _chains(session, business_id, [row[0] for row in rows])
    return [
        CustomerValue(
            customer_id=cid,
            name="(erased)" if erased else name,
            sales=int(count),
            lifetime_cents=int(total),
            first_sale_cents=int(first),
            partner_cents=int(partner),
            chain=tuple(chains.get(cid, [])),
        )
        for cid, name, erased, count, total, first, partner in rows
    ]


def _chains(
    session: Session, business_id: int, customer_ids: list[int]
) -> dict[int, list[tuple[str, str]]]:
    """The referrals that carried each customer to partners, oldest first."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Referral.customer_id, Business.name, Referral.status)
        .join(Business, Business.id == Referral.receiver_id)
        .where(Referral.sender_id == business_id, Referral.customer_id.in_(customer_ids))
        .order_by(Referral.customer_id, Referral.created_at)
    ).all()
    chains: dict[int, list[tuple[str, str]]] = {}
    for customer_id, partner, status in rows:
        chains.setdefault(customer_id, []).append((partner, status))
    return chains


def by_trade(session: Session, business_id: int) -> list[Breakdown]:
    """Revenue by the trade that did the job (mine, or a partner's)."""
    s = _sales(business_id)
    rows = session.execute(
        select(
            Trade.name,
            func.count(func.distinct(s.c.customer_id)),
            func.sum(s.c.amount),
            _first(s),
        )
        .join(Business, Business.id == s.c.done_by)
        .join(Trade, Trade.id == Business.trade_id)
        .group_by(Trade.name)
        .order_by(func.sum(s.c.amount).desc())
    ).all()
    return [Breakdown(name, int(c), int(r), int(f)) for name, c, r, f in rows]


def by_month(session: Session, business_id: int) -> list[Breakdown]:
    """Revenue by month of sale, first sales and back-end sales apart."""
    s = _sales(business_id)
    month = month_of(session, s.c.sale_date)
    rows = session.execute(
        select(month, func.count(func.distinct(s.c.customer_id)), func.sum(s.c.amount), _first(s))
        .group_by(month)
        .order_by(month)
    ).all()
    return [Breakdown(str(m), int(c), int(r), int(f)) for m, c, r, f in rows]
