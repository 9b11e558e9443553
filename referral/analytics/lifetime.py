"""Customer lifetime value: sale #1 + sale #2 + sale #3..., counting the jobs a
business did itself and the jobs its partners won from its referrals.

One `sales` set (own jobs UNION ALL partner jobs), numbered per customer by
date with a window function; every total is an SQL aggregate over it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlmodel import Session

from referral.analytics.sql import month_in
from referral.businesses.models import Business, Trade
from referral.customers.models import Customer, CustomerJob
from referral.money import Rate
from referral.referrals.models import Referral, ReferralStatus


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


def _sales(business_id: Any):  # type: ignore[no-untyped-def]
    """Every sale to this business's customers, numbered per customer by date
    (`business_id` a bound parameter)."""
    own = select(
        CustomerJob.customer_id.label("customer_id"),
        CustomerJob.job_date.label("sale_date"),
        CustomerJob.amount_cents.label("amount"),
        cast(business_id, Integer).label("done_by"),
        literal(0).label("source"),
        CustomerJob.id.label("sale_id"),
    ).where(CustomerJob.business_id == business_id)
    through_partners = select(
        Referral.customer_id.label("customer_id"),
        func.coalesce(Referral.job_date, func.date(Referral.closed_at)).label("sale_date"),
        (Referral.job_value_cents - Referral.refunded_cents).label("amount"),
        Referral.receiver_id.label("done_by"),
        literal(1).label("source"),
        Referral.id.label("sale_id"),
    ).where(Referral.sender_id == business_id, Referral.status == ReferralStatus.WON)
    sales = union_all(own, through_partners).subquery("sales")
    number = func.row_number().over(
        partition_by=sales.c.customer_id,
        order_by=(sales.c.sale_date, sales.c.source, sales.c.sale_id),
    )
    return select(sales, number.label("n"))


def _first(numbered):  # type: ignore[no-untyped-def]
    return func.sum(case((numbered.c.n == 1, numbered.c.amount), else_=0))


def _partner(numbered):  # type: ignore[no-untyped-def]
    return func.sum(case((numbered.c.source == 1, numbered.c.amount), else_=0))


@dataclass(frozen=True)
class Lifetime:
    """Every lifetime figure of the dashboard."""

    summary: LifetimeSummary
    by_trade: list[Breakdown]
    by_month: list[Breakdown]
    top_customers: list[CustomerValue]


SUMMARY, TRADE, MONTH, CUSTOMER = range(4)


def figures(session: Session, business_id: int, *, limit: int = 50) -> Lifetime:
    """The summary, by trade, by month and the top customers in one statement: the
    numbered sales are computed once (a materialized CTE) and grouped four ways."""
    statement = _statement(session.get_bind().dialect.name, limit)
    rows = session.execute(statement, {"business_id": business_id}).all()
    summary, by_trade, by_month, top_rows = _sort_out(rows)
    chains = _chains(session, business_id, [row.customer_id for row in top_rows])
    return Lifetime(summary, by_trade, by_month, _customer_values(top_rows, chains))


@functools.cache
def _statement(dialect: str, limit: int) -> Any:
    """`figures`' statement, built once per database kind: it runs on every
    dashboard, and building it each time was about a fifth of the page's CPU."""
    numbered = _sales(bindparam("business_id")).cte("numbered").prefix_with("MATERIALIZED")
    return _four_groupings(dialect, numbered, limit)


# Typed NULLs: PostgreSQL resolves the types of a UNION's columns pairwise.
_NO_TEXT, _NO_ID = cast(null(), String), cast(null(), Integer)
_ZERO = literal_column("0")


def _columns(s, kind: int, position, label, customer_id, customers, erased):  # type: ignore[no-untyped-def]
    """The columns every grouping shares, so the four can be UNIONed."""
    return [
        literal_column(str(kind)).label("kind"),
        position.label("position"),
        label.label("label"),
        customer_id.label("customer_id"),
        customers.label("customers"),
        func.count().label("sales"),
        func.coalesce(func.sum(s.c.amount), 0).label("revenue"),
        func.coalesce(_first(s), 0).label("first"),
        func.coalesce(_partner(s), 0).label("partner"),
        erased.label("erased"),
    ]


def _four_groupings(dialect: str, s, limit: int):  # type: ignore[no-untyped-def]
    """One SELECT over the summary, trades, months and top customers, in that order."""
    everything = union_all(
        _summary_grouping(s),
        _trade_grouping(s),
        _month_grouping(dialect, s),
        _top_customer_grouping(s, limit),
    ).subquery("figures")
    return select(everything).order_by(everything.c.kind, everything.c.position)


def _summary_grouping(s):  # type: ignore[no-untyped-def]
    # Each customer has exactly one sale numbered 1: no DISTINCT (a sort) needed.
    customers = func.coalesce(func.sum(case((s.c.n == 1, 1), else_=0)), 0)
    return select(*_columns(s, SUMMARY, _ZERO, _NO_TEXT, _NO_ID, customers, _ZERO))


def _trade_grouping(s):  # type: ignore[no-untyped-def]
    position = func.row_number().over(order_by=(func.sum(s.c.amount).desc(), Trade.name))
    customers = func.count(func.distinct(s.c.customer_id))
    return (
        select(*_columns(s, TRADE, position, Trade.name, _NO_ID, customers, _ZERO))
        .join(Business, Business.id == s.c.done_by)
        .join(Trade, Trade.id == Business.trade_id)
        .group_by(Trade.name)
    )


def _month_grouping(dialect: str, s):  # type: ignore[no-untyped-def]
    month = month_in(dialect, s.c.sale_date)
    position = func.row_number().over(order_by=month)
    customers = func.count(func.distinct(s.c.customer_id))
    return select(*_columns(s, MONTH, position, month, _NO_ID, customers, _ZERO)).group_by(month)


def _top_customer_grouping(s, limit: int):  # type: ignore[no-untyped-def]
    total = func.sum(s.c.amount)
    top = (
        select(s.c.customer_id.label("customer_id"), total.label("total"))
        .group_by(s.c.customer_id)
        .order_by(total.desc(), s.c.customer_id)
        .limit(limit)
        .subquery("top")
    )
    position = func.row_number().over(order_by=(total.desc(), s.c.customer_id))
    erased = case((Customer.erased_at.is_not(None), 1), else_=0)
    # Names for the top customers only, not for every sale.
    return (
        select(
            *_columns(
                s, CUSTOMER, position, Customer.name, s.c.customer_id, literal_column("1"), erased
            )
        )
        .join(top, top.c.customer_id == s.c.customer_id)
        .join(Customer, Customer.id == s.c.customer_id)
        .group_by(s.c.customer_id, Customer.name, Customer.erased_at)
    )


def _sort_out(rows):  # type: ignore[no-untyped-def]
    """The summary, the trade and month breakdowns, and the top customers' rows."""
    by_trade: list[Breakdown] = []
    by_month: list[Breakdown] = []
    top_rows = []
    summary = LifetimeSummary(0, 0, 0, 0, 0)
    for row in rows:
        revenue, first = int(row.revenue), int(row.first)
        if row.kind == SUMMARY:
            partner = int(row.partner)
            summary = LifetimeSummary(int(row.customers), revenue, first, revenue - first, partner)
        elif row.kind in (TRADE, MONTH):
            breakdown = Breakdown(str(row.label), int(row.customers), revenue, first)
            (by_trade if row.kind == TRADE else by_month).append(breakdown)
        else:
            top_rows.append(row)
    return summary, by_trade, by_month, top_rows


def _customer_values(top_rows, chains) -> list[CustomerValue]:  # type: ignore[no-untyped-def]
    return [
        CustomerValue(
            customer_id=row.customer_id,
            name="(erased)" if row.erased else row.label,
            sales=int(row.sales),
            lifetime_cents=int(row.revenue),
            first_sale_cents=int(row.first),
            partner_cents=int(row.partner),
            chain=tuple(chains.get(row.customer_id, [])),
        )
        for row in top_rows
    ]


def summary(session: Session, business_id: int) -> LifetimeSummary:
    return figures(session, business_id).summary


def top_customers(session: Session, business_id: int, *, limit: int = 50) -> list[CustomerValue]:
    return figures(session, business_id, limit=limit).top_customers


def by_trade(session: Session, business_id: int) -> list[Breakdown]:
    """Revenue by the trade that did the job (mine, or a partner's)."""
    return figures(session, business_id).by_trade


def by_month(session: Session, business_id: int) -> list[Breakdown]:
    """Revenue by month of sale, first sales and back-end sales apart."""
    return figures(session, business_id).by_month


def _chains(
    session: Session, business_id: int, customer_ids: list[int]
) -> dict[int, list[tuple[str, str]]]:
    """The referrals that carried each customer to partners, oldest first."""
    if not customer_ids:
        return {}
    rows = session.execute(
        _chains_statement(), {"business_id": business_id, "customer_ids": customer_ids}
    ).all()
    chains: dict[int, list[tuple[str, str]]] = {}
    for customer_id, partner, status in rows:
        chains.setdefault(customer_id, []).append((partner, status))
    return chains


@functools.cache
def _chains_statement() -> Any:
    """`_chains`' statement, built once (the customers an expanding parameter)."""
    return (
        select(Referral.customer_id, Business.name, Referral.status)
        .join(Business, Business.id == Referral.receiver_id)
        .where(
            Referral.sender_id == bindparam("business_id"),
            Referral.customer_id.in_(bindparam("customer_ids", expanding=True)),
        )
        .order_by(Referral.customer_id, Referral.created_at)
    )
