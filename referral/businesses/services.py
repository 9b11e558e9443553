"""Every write to a business, and the rules that guard it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, select

from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade, TradeCompetition
from referral.db import utcnow
from referral.errors import NotFound, ValidationFailed


def public_profile(
    session: Session, business: Business, trade: Trade | None = None
) -> dict[str, Any]:
    """What any signed-in business (or API client) may see of a business."""
    return {
        "id": business.id,
        "name": business.name,
        "trade": trade if trade is not None else session.get(Trade, business.trade_id),
        "zip_code": business.zip_code,
        "radius_miles": business.radius_miles,
        "description": business.description,
        "phone": business.phone,
        "website": business.website,
    }


def trade_by_slug(session: Session, slug: str) -> Trade:
    """Fails (ValidationFailed on `trade`) when the trade is not in the taxonomy."""
    trade = session.exec(select(Trade).where(Trade.slug == slug)).first()
    if trade is None:
        raise ValidationFailed("Some fields are not valid.", errors={"trade": ["Choose a trade."]})
    return trade


def _apply_service_area(business: Business, zip_code: str, radius_miles: int) -> None:
    centre = locate_zip(zip_code)
    if centre is None:
        raise ValidationFailed(
            "Some fields are not valid.", errors={"zip_code": ["Unknown ZIP code."]}
        )
    business.zip_code = centre.zip_code
    business.latitude = centre.latitude
    business.longitude = centre.longitude
    business.radius_miles = radius_miles


def create_business(
    *, session: Session, name: str, trade: str, zip_code: str, radius_miles: int, **profile: Any
) -> Business:
    """Create a business from validated input. Fails on an unknown trade or ZIP code."""
    business = Business(
        name=name,
        trade_id=trade_by_slug(session, trade).id,
        zip_code=zip_code,
        latitude=0.0,
        longitude=0.0,
        radius_miles=radius_miles,
        **profile,
    )
    _apply_service_area(business, zip_code, radius_miles)
    session.add(business)
    session.flush()
    return business


def update_business_profile(
    *, session: Session, business: Business, data: dict[str, Any]
) -> Business:
    """Change the profile from validated input (BusinessProfileSchema)."""
    if "trade" in data:
        business.trade_id = trade_by_slug(session, data["trade"]).id
    if "zip_code" in data or "radius_miles" in data:
        _apply_service_area(
            business,
            data.get("zip_code", business.zip_code),
            data.get("radius_miles", business.radius_miles),
        )
    for field in ("name", "description", "phone", "website"):
        if field in data:
            setattr(business, field, data[field])
    business.updated_at = utcnow()
    session.add(business)
    session.flush()
    return business


# --- the trade taxonomy (operators) ---------------------------------------------------------


def add_trade(*, session: Session, name: str, slug: str) -> Trade:
    """Fails (ValidationFailed) when the name or slug is taken."""
    taken = session.exec(select(Trade).where((Trade.slug == slug) | (Trade.name == name))).first()
    if taken is not None:
        field = "slug" if taken.slug == slug else "name"
        raise ValidationFailed(
            "Some fields are not valid.", errors={field: ["A trade already has this " + field]}
        )
    trade = Trade(name=name, slug=slug)
    session.add(trade)
    session.flush()
    return trade


def rename_trade(*, session: Session, trade_id: int, name: str) -> Trade:
    trade = session.get(Trade, trade_id)
    if trade is None:
        raise NotFound("No such trade.")
    taken = session.exec(select(Trade.id).where(Trade.name == name, Trade.id != trade_id)).first()
    if taken is not None:
        raise ValidationFailed(
            "Some fields are not valid.", errors={"name": ["A trade already has this name"]}
        )
    trade.name = name
    return trade


def set_competitors(*, session: Session, trade_id: int, competitor_ids: set[int]) -> set[int]:
    """Make `trade_id` compete with exactly `competitor_ids` (both directions).
    A trade always competes with itself; that needs no row and cannot be removed."""
    if session.get(Trade, trade_id) is None:
        raise NotFound("No such trade.")
    competitor_ids = set(competitor_ids) - {trade_id}
    known = set(session.exec(select(Trade.id).where(Trade.id.in_(competitor_ids))))
    if known != competitor_ids:
        raise ValidationFailed(
            "Some fields are not valid.", errors={"competitors": ["Unknown trade."]}
        )
    current = set(
        session.exec(
            select(TradeCompetition.competitor_id).where(TradeCompetition.trade_id == trade_id)
        )
    )
    for gone in current - competitor_ids:
        session.execute(
            delete(TradeCompetition).where(
                ((TradeCompetition.trade_id == trade_id) & (TradeCompetition.competitor_id == gone))
                | (
                    (TradeCompetition.trade_id == gone)
                    & (TradeCompetition.competitor_id == trade_id)
                )
            )
        )
    for new in competitor_ids - current:
        session.add(TradeCompetition(trade_id=trade_id, competitor_id=new))
        session.add(TradeCompetition(trade_id=new, competitor_id=trade_id))
    session.flush()
    return competitor_ids


def competition_table(session: Session) -> dict[int, set[int]]:
    """Each trade's competitors (itself excluded)."""
    table: dict[int, set[int]] = {}
    for trade_id, competitor_id in session.exec(
        select(TradeCompetition.trade_id, TradeCompetition.competitor_id)
    ):
        table.setdefault(trade_id, set()).add(competitor_id)
    return table
