"""The one answer to "do these two businesses compete?".

Competition is data: the `trade_competition` table that operators edit on the
trades page, one row per ordered pair (the services keep both directions). A
trade always competes with itself, which needs no row and cannot be removed.
Everything that asks whether trades compete reads it through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, exists
from sqlmodel import Session, select

from referral.businesses.models import Business, TradeCompetition


def competition_listed(trade_a: Any, trade_b: Any) -> ColumnElement[bool]:
    """SQL for "the table lists these two trades as competitors", to ask within
    a larger query (columns or values). A trade competing with itself needs no
    row: callers compare the two trades as well (`trades_compete`)."""
    return exists().where(
        TradeCompetition.trade_id == trade_a, TradeCompetition.competitor_id == trade_b
    )


def trades_compete(session: Session, trade_a: int, trade_b: int) -> bool:
    """True when businesses of these two trades compete for the same jobs."""
    if trade_a == trade_b:
        return True
    return bool(session.scalar(select(competition_listed(trade_a, trade_b))))


def businesses_compete(session: Session, a: Business, b: Business) -> bool:
    """True when two businesses compete, so they may not partner or refer to each other."""
    return trades_compete(session, a.trade_id, b.trade_id)


def competing_trade_ids(session: Session, trade_id: int) -> set[int]:
    """Every trade that competes with `trade_id`, itself included: for queries
    that leave out a business's competitors in one go."""
    rows = session.exec(
        select(TradeCompetition.competitor_id).where(TradeCompetition.trade_id == trade_id)
    ).all()
    return {trade_id, *rows}


def competition_table(
    session: Session, trade_ids: Iterable[int] | None = None
) -> dict[int, set[int]]:
    """Each trade's competitors, itself excluded (only `trade_ids` when given)."""
    query = select(TradeCompetition.trade_id, TradeCompetition.competitor_id)
    if trade_ids is not None:
        query = query.where(TradeCompetition.trade_id.in_(list(trade_ids)))
    table: dict[int, set[int]] = {}
    for trade_id, competitor_id in session.exec(query):
        table.setdefault(trade_id, set()).add(competitor_id)
    return table
