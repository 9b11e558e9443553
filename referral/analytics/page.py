"""Every figure of a business's dashboard page, computed together.

The figures read different rows and depend on nothing of each other, so the
page computes them in three groups at once, each group on its own session
(its own connection): the page takes about as long as its slowest group
instead of the sum of all of them. The database does the work; the threads
only wait for it (SQLite's driver and psycopg release the GIL meanwhile).

Each group reads committed data, as the request's own reads do: on
PostgreSQL a request reads outside a transaction until its first write
(referral.db), so figures were never read from one snapshot either.
"""

from __future__ import annotations

import atexit
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from referral.analytics import funnel, lifetime, market, partners, trends
from referral.analytics.sql import Period

T = TypeVar("T")

# One group per thread; more threads than groups would never be used.
GROUPS = 3


@dataclass(frozen=True)
class Figures:
    funnel: funnel.Funnel
    partner_funnels: list[funnel.PartnerFunnel]
    partner_values: list[partners.PartnerValue]
    months: list[trends.Month]
    lifetime: lifetime.Lifetime
    market: list[market.MarketMonth]


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Shared by the requests of a process: at most GROUPS queries of dashboards
    run at once, whatever the number of requests asking for them."""
    pool = ThreadPoolExecutor(max_workers=GROUPS, thread_name_prefix="dashboard")
    atexit.register(pool.shutdown, wait=False, cancel_futures=True)
    return pool


def _in_own_session(engine: Engine, compute: Callable[[Session], T]) -> T:
    with Session(engine) as session:
        try:
            return compute(session)
        finally:
            session.rollback()  # reads only: nothing to keep


def compute(engine: Engine, business_id: int, *, period: Period, direction: str) -> Figures:
    """The page's figures for `direction` ("sent" or "received") in `period`."""

    def customers(session: Session) -> lifetime.Lifetime:
        return lifetime.figures(session, business_id)

    def funnels(session: Session) -> tuple[funnel.Funnel, list[funnel.PartnerFunnel]]:
        return (
            funnel.funnel(session, business_id, direction=direction, period=period),
            funnel.funnel_by_partner(session, business_id, direction=direction, period=period),
        )

    def money(
        session: Session,
    ) -> tuple[list[partners.PartnerValue], list[trends.Month], list[market.MarketMonth]]:
        return (
            partners.partner_values(session, business_id, period=period),
            trends.monthly(session, business_id, period=period),
            market.monthly(session, business_id, period=period),
        )

    pool = _pool()
    # Slowest first, so it starts before the others take the threads.
    groups = (customers, funnels, money)
    in_flight: list[Future[Any]] = [pool.submit(_in_own_session, engine, group) for group in groups]
    values, (overall, per_partner), (ranked, months, marketplace) = (
        future.result() for future in in_flight
    )
    return Figures(
        funnel=overall,
        partner_funnels=per_partner,
        partner_values=ranked,
        months=months,
        lifetime=values,
        market=marketplace,
    )
