"""Every write to a business, and the rules that guard it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade
from referral.db import utcnow
from referral.errors import ValidationFailed


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
