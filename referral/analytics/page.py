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
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session

from referral.analytics import funnel, lifetime, market, outreach, partners, second_sales, trends
from referral.analytics.sql import Period
from referral.db import utcnow
from referral.longlived import warm_up_with

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unavailable:
    """A figure that could not be computed (the reason is logged, not shown):
    the page shows it as unavailable and renders the rest."""

    name: str


@dataclass(frozen=True)
class Figures:
    funnel: funnel.Funnel | Unavailable
    partner_funnels: list[funnel.PartnerFunnel] | Unavailable
    partner_values: list[partners.PartnerValue] | Unavailable
    months: list[trends.Month] | Unavailable
    lifetime: lifetime.Lifetime | Unavailable
    market: list[market.MarketMonth] | Unavailable
    second_sales: second_sales.SecondSales | Unavailable
    outreach: list[outreach.OutreachResult] | Unavailable


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Shared by the requests of a process: at most GROUPS queries of dashboards
    run at once, whatever the number of requests asking for them."""
    pool = ThreadPoolExecutor(max_workers=GROUPS, thread_name_prefix="dashboard")
    atexit.register(pool.shutdown, wait=False, cancel_futures=True)
    return pool


Figure = Callable[[Session], Any]


def page_figures(business_id: int, *, period: Period, direction: str) -> dict[str, Figure]:
    """Every figure of the page for `direction` ("sent" or "received") in
    `period`, each a call on a session (bench/dashboard.py times them one by one)."""
    return {
        "funnel": lambda s: funnel.funnel(s, business_id, direction=direction, period=period),
        "partner_funnels": lambda s: funnel.funnel_by_partner(
            s, business_id, direction=direction, period=period
        ),
        "partner_values": lambda s: partners.partner_values(s, business_id, period=period),
        "months": lambda s: trends.monthly(s, business_id, period=period),
        # The summary, by trade, by month and the top customers: one statement.
        "lifetime": lambda s: lifetime.figures(s, business_id),
        "market": lambda s: market.monthly(s, business_id, period=period),
        "second_sales": lambda s: second_sales.second_sales(s, business_id),
        # The campaigns and rules, then what each brought (grouped): two statements.
        "outreach": lambda s: outreach.campaigns_and_follow_ups(s, business_id, period=period),
    }


# Run side by side, each group on its own session; the slowest first, so it
# starts before the others take the threads.
GROUPED = (
    ("lifetime", "second_sales"),
    ("funnel", "partner_funnels", "outreach"),
    ("partner_values", "months", "market"),
)
GROUPS = len(GROUPED)


def _in_own_session(engine: Engine, calls: dict[str, Figure]) -> dict[str, Any]:
    """The group's figures; one that fails is Unavailable, the others are kept."""
    results: dict[str, Any] = {}
    with Session(engine) as session:
        try:
            for name, call in calls.items():
                try:
                    results[name] = call(session)
                except Exception:  # noqa: BLE001 - one figure's failure is not the page's
                    log.exception("dashboard figure %s could not be computed", name)
                    results[name] = Unavailable(name)
                    session.rollback()  # a failed statement spoils the transaction
        finally:
            session.rollback()  # reads only: nothing to keep
    return results


def compute(engine: Engine, business_id: int, *, period: Period, direction: str) -> Figures:
    """The page's figures for `direction` ("sent" or "received") in `period`."""
    calls = page_figures(business_id, period=period, direction=direction)
    pool = _pool()
    in_flight: list[Future[dict[str, Any]]] = [
        pool.submit(_in_own_session, engine, {name: calls[name] for name in group})
        for group in GROUPED
    ]
    results: dict[str, Any] = {}
    for future in in_flight:
        results.update(future.result())
    return Figures(**results)


# No business has this id: every figure of it is empty.
NOBODY = 0


@warm_up_with
def compute_for_nobody(app: Flask) -> None:
    """Before a worker's first dashboard: its figures' statements compiled and
    its threads started, which made that first dashboard 150 ms (20 after)."""
    period = Period.last_months_until(12, now=utcnow())
    for direction in ("sent", "received"):
        compute(app.extensions["db_request_engine"], NOBODY, period=period, direction=direction)
