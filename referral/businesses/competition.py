"""The one answer to "do these two businesses compete?"."""

from __future__ import annotations

from sqlalchemy import exists
from sqlmodel import Session, select

from referral.businesses.models import Business, TradeCompetition


def trades_compete(session: Session, trade_a: int, trade_b: int) -> bool:
    if trade_a == trade_b:
        return True
    return bool(
        session.scalar(
            select(
                exists().where(
                    TradeCompetition.trade_id == trade_a,
                    TradeCompetition.competitor_id == trade_b,
                )
            )
        )
    )


def businesses_compete(session: Session, a: Business, b: Business) -> bool:
    return trades_compete(session, a.trade_id, b.trade_id)
