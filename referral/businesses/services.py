"""Every write to a business and to the trade taxonomy, and the rules that guard them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.competition import competition_table
from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade, TradeCompetition
from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed

INVALID = "Some fields are not valid."


def public_profile(
    session: Session, business: Business, trade: Trade | None = None
) -> dict[str, Any]:
    """What any signed-in business (or API client) may see of a business:
    never its people, keys, customers or money."""
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


def own_profile(session: Session, business: Business, trade: Trade | None = None) -> dict[str, Any]:
    """My own business: its public profile, its postal address and time zone."""
    return {
        **public_profile(session, business, trade),
        "postal_address": business.postal_address,
        "time_zone": business.time_zone,
    }


def trade_by_slug(session: Session, slug: str) -> Trade:
    """Fails (ValidationFailed on `trade`) when the trade is not in the taxonomy."""
    trade = session.exec(select(Trade).where(Trade.slug == slug)).first()
    if trade is None:
        raise ValidationFailed(INVALID, errors={"trade": ["Choose a trade."]})
    return trade


def _apply_service_area(business: Business, zip_code: str, radius_miles: int) -> None:
    """Move the service area's centre to the ZIP code's centre. Fails
    (ValidationFailed on `zip_code`) when the ZIP code is unknown."""
    centre = locate_zip(zip_code)
    if centre is None:
        raise ValidationFailed(INVALID, errors={"zip_code": ["Unknown ZIP code."]})
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
    *, session: Session, business: Business, role: str, data: dict[str, Any]
) -> Business:
    """Change the profile from validated input (a profile schema); only the
    keys present change, and a new ZIP code moves the service area's centre.

    Fails (PermissionDenied) unless `role` is owner or manager, and
    (ValidationFailed) on an unknown trade or ZIP code, before changing anything."""
    require_role(role, MANAGING_ROLES, "Only owners and managers can change the profile.")
    trade_id = trade_by_slug(session, data["trade"]).id if "trade" in data else None
    if "zip_code" in data and locate_zip(data["zip_code"]) is None:
        raise ValidationFailed(INVALID, errors={"zip_code": ["Unknown ZIP code."]})
    if trade_id is not None:
        business.trade_id = trade_id
    if "zip_code" in data or "radius_miles" in data:
        _apply_service_area(
            business,
            data.get("zip_code", business.zip_code),
            data.get("radius_miles", business.radius_miles),
        )
    for field in ("name", "description", "phone", "website", "time_zone", "postal_address"):
        if field in data:
            setattr(business, field, data[field])
    business.updated_at = utcnow()
    session.add(business)
    session.flush()
    return business


# --- the trade taxonomy (operators) ---------------------------------------------------------


@dataclass(frozen=True)
class TradeListing:
    """A trade and the trades it competes with (itself excluded), by name."""

    trade: Trade
    competitors: list[Trade]

    @property
    def id(self) -> int | None:
        return self.trade.id

    @property
    def slug(self) -> str:
        return self.trade.slug

    @property
    def name(self) -> str:
        return self.trade.name

    @property
    def competes_with(self) -> list[str]:
        return sorted(t.slug for t in self.competitors)


def list_trades(session: Session, trades: Iterable[Trade] | None = None) -> list[TradeListing]:
    """Each trade (all of them, by name, unless `trades` is given) with its competitors."""
    every = {t.id: t for t in session.exec(select(Trade))}
    chosen = sorted(every.values(), key=lambda t: t.name) if trades is None else list(trades)
    table = competition_table(session, [t.id for t in chosen if t.id is not None])

    def competitors(trade: Trade) -> list[Trade]:
        ids = table.get(trade.id, set()) if trade.id is not None else set()
        return sorted((every[c] for c in ids), key=lambda t: t.name)

    return [TradeListing(trade=trade, competitors=competitors(trade)) for trade in chosen]


def _name_taken(session: Session, name: str, *, besides: int | None = None) -> bool:
    """Trade names are unique regardless of case ("HVAC" and "hvac" are one trade)."""
    query = select(Trade.id).where(func.lower(Trade.name) == name.lower())
    if besides is not None:
        query = query.where(Trade.id != besides)
    return session.exec(query).first() is not None


def _taken(field: str) -> ValidationFailed:
    return ValidationFailed(INVALID, errors={field: [f"A trade already has this {field}."]})


def add_trade(*, session: Session, name: str, slug: str) -> Trade:
    """Add a trade that competes only with itself until an operator says otherwise.
    Fails (ValidationFailed on `slug` or `name`) when either is taken."""
    if session.exec(select(Trade.id).where(Trade.slug == slug)).first() is not None:
        raise _taken("slug")
    if _name_taken(session, name):
        raise _taken("name")
    trade = Trade(name=name, slug=slug)
    session.add(trade)
    try:
        session.flush()
    except IntegrityError as exc:  # another operator added it a moment ago
        raise _taken("slug") from exc
    return trade


def rename_trade(*, session: Session, trade_id: int, name: str) -> Trade:
    """Rename a trade; its slug (what the API and sign-up use) stays.
    Fails (NotFound) for an unknown trade, (ValidationFailed on `name`) when taken."""
    trade = session.get(Trade, trade_id)
    if trade is None:
        raise NotFound("No such trade.")
    if _name_taken(session, name, besides=trade_id):
        raise _taken("name")
    trade.name = name
    session.add(trade)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _taken("name") from exc
    return trade


def set_competitors(*, session: Session, trade_id: int, competitor_ids: set[int]) -> set[int]:
    """Make `trade_id` compete with exactly `competitor_ids`, writing both
    directions of each pair. A trade always competes with itself; that needs no
    row and cannot be removed, so its own id in `competitor_ids` is ignored.

    Fails (NotFound) for an unknown trade, (ValidationFailed on `competitors`)
    for an unknown competitor, and (DomainError, 409) when another operator
    changed the same pairs at the same moment."""
    if session.get(Trade, trade_id) is None:
        raise NotFound("No such trade.")
    wanted = set(competitor_ids) - {trade_id}
    known = set(session.exec(select(Trade.id).where(Trade.id.in_(wanted)))) if wanted else set()
    if known != wanted:
        raise ValidationFailed(INVALID, errors={"competitors": ["Choose trades from the list."]})
    current = competition_table(session, [trade_id]).get(trade_id, set())
    gone, new = current - wanted, wanted - current
    if gone:
        session.execute(
            delete(TradeCompetition).where(
                or_(
                    and_(
                        TradeCompetition.trade_id == trade_id,
                        TradeCompetition.competitor_id.in_(gone),
                    ),
                    and_(
                        TradeCompetition.trade_id.in_(gone),
                        TradeCompetition.competitor_id == trade_id,
                    ),
                )
            )
        )
    for other in sorted(new):
        session.add(TradeCompetition(trade_id=trade_id, competitor_id=other))
        session.add(TradeCompetition(trade_id=other, competitor_id=trade_id))
    try:
        session.flush()
    except IntegrityError as exc:
        raise DomainError(
            "Another change to these trades was saved at the same moment. "
            "Reload the page and try again."
        ) from exc
    return wanted


def edit_trade(*, session: Session, trade_id: int, name: str, competitor_ids: set[int]) -> Trade:
    """Rename a trade and choose exactly the trades it competes with, in one go.
    Fails as `rename_trade` and `set_competitors` do, and then changes nothing."""
    trade = rename_trade(session=session, trade_id=trade_id, name=name)
    set_competitors(session=session, trade_id=trade_id, competitor_ids=competitor_ids)
    return trade
