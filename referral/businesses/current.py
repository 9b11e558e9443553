"""The caller's business, loaded with the caller (auth.current) in the same
query: `g.business` on pages, `g.business` and `g.trade` on API calls; and
what auth needs to know of a user's business (auth.workplace).

Imported for what it registers (a `reactions` module in referral/domains.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, col, select

from referral.auth.current import load_with_api_key, load_with_user
from referral.auth.workplace import Workplace, provide_workplace
from referral.businesses.models import Business, Trade


@load_with_user("business")
def _signed_in_business(query: Select[Any], business_id: Any) -> Select[Any]:
    return query.add_columns(Business).join(Business, Business.id == business_id)


@load_with_api_key("business", "trade")
def _api_key_business(query: Select[Any], business_id: Any) -> Select[Any]:
    return (
        query.add_columns(Business, Trade)
        .join(Business, Business.id == business_id)
        .join(Trade, col(Trade.id) == col(Business.trade_id))
    )


def _find(session: Session, business_id: int) -> Business | None:
    return session.get(Business, business_id)


def _lock(session: Session, business_id: int) -> None:
    session.exec(select(Business.id).where(Business.id == business_id).with_for_update()).one()


provide_workplace(Workplace(find=_find, lock=_lock))
