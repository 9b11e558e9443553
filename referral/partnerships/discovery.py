"""Partner discovery: businesses whose trade does not compete with mine and whose
service area overlaps mine, nearest first.

All filtering, distance and paging happen in SQL: a bounding box on the indexed
latitude/longitude narrows the candidates before the exact great-circle distance
is computed, so a query never scans the whole table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from referral.businesses.geo import EARTH_RADIUS_MILES
from referral.businesses.models import MAX_RADIUS_MILES, Business, Trade, TradeCompetition
from referral.partnerships.models import LIVE_STATUSES, PartnerBlock, Partnership

MILES_PER_DEGREE_LATITUDE = 68.7  # the shortest degree, so the box is never too small


@dataclass(frozen=True)
class PartnerCandidate:
    business: Business
    trade_name: str
    trade_slug: str
    distance_miles: float
    active_partnerships: int
    partnership_id: int | None
    partnership_status: str | None


def great_circle_miles(latitude: float, longitude: float) -> ColumnElement[float]:
    """SQL for the haversine distance from a point to each business's centre
    (SQLite's and PostgreSQL's math functions have the same names)."""
    dlat = func.radians(Business.latitude - latitude)
    dlon = func.radians(Business.longitude - longitude)
    a = func.sin(dlat / 2) * func.sin(dlat / 2) + math.cos(math.radians(latitude)) * func.cos(
        func.radians(Business.latitude)
    ) * func.sin(dlon / 2) * func.sin(dlon / 2)
    return 2 * EARTH_RADIUS_MILES * func.asin(func.sqrt(a))


def bounding_box(business: Business, largest_radius: int) -> ColumnElement[bool]:
    """Centres close enough that the two areas could overlap: within my radius
    plus the largest radius any business has."""
    reach = business.radius_miles + largest_radius
    dlat = reach / MILES_PER_DEGREE_LATITUDE
    widest = min(89.0, abs(business.latitude) + dlat)
    dlon = min(180.0, reach / (MILES_PER_DEGREE_LATITUDE * math.cos(math.radians(widest))))
    return and_(
        Business.latitude.between(business.latitude - dlat, business.latitude + dlat),
        Business.longitude.between(business.longitude - dlon, business.longitude + dlon),
    )


def largest_radius(session: Session) -> int:
    """The widest service area of any business (an index lookup)."""
    return session.scalar(select(func.max(Business.radius_miles))) or MAX_RADIUS_MILES


def competing_trade_ids(session: Session, trade_id: int) -> set[int]:
    rows = session.exec(
        select(TradeCompetition.competitor_id).where(TradeCompetition.trade_id == trade_id)
    ).all()
    return {trade_id, *rows}


def blocked_business_ids(session: Session, business_id: int) -> set[int]:
    """Businesses hidden from `business_id`: blocked by it, or blocking it."""
    rows = session.exec(
        select(PartnerBlock.blocker_id, PartnerBlock.blocked_id).where(
            or_(PartnerBlock.blocker_id == business_id, PartnerBlock.blocked_id == business_id)
        )
    ).all()
    return {blocked if blocker == business_id else blocker for blocker, blocked in rows}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def discover_partners(
    *,
    session: Session,
    business: Business,
    trade_slug: str | None = None,
    name: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[PartnerCandidate], int]:
    """One page of possible partners for `business`, nearest first, and the total."""
    assert business.id is not None
    hidden = blocked_business_ids(session, business.id) | {business.id}
    excluded_trades = competing_trade_ids(session, business.trade_id)
    conditions = [
        bounding_box(business, largest_radius(session)),
        Business.trade_id.not_in(excluded_trades),
        Business.id.not_in(hidden),
    ]
    if trade_slug:
        trade_id = session.scalar(select(Trade.id).where(Trade.slug == trade_slug))
        conditions.append(Business.trade_id == (trade_id or -1))
    if name and name.strip():
        conditions.append(Business.name.ilike(f"%{_escape_like(name.strip())}%", escape="\\"))

    # Phase one: ids and distances of the page, and the total (a window count),
    # computing each candidate's distance once, from the index.
    candidates = (
        select(
            Business.id.label("id"),
            Business.radius_miles.label("radius"),
            great_circle_miles(business.latitude, business.longitude).label("distance"),
        )
        .where(*conditions)
        .subquery()
    )
    overlapping = candidates.c.distance <= literal(business.radius_miles) + candidates.c.radius
    page_rows = session.execute(
        select(candidates.c.id, candidates.c.distance, func.count().over())
        .where(overlapping)
        .order_by(candidates.c.distance, candidates.c.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    if not page_rows:
        total = 0
        if page > 1:  # past the last page: still tell the caller how many there are
            total = session.scalar(select(func.count()).select_from(candidates).where(overlapping))
        return [], total or 0
    total = int(page_rows[0][2])
    distances = {row[0]: float(row[1]) for row in page_rows}

    # Phase two: details of those few businesses only.
    live = aliased(Partnership)
    low, high = live.business_low_id, live.business_high_id
    pair = or_(
        and_(low == business.id, high == Business.id),
        and_(high == business.id, low == Business.id),
    )
    active_count = (
        select(func.count())
        .select_from(Partnership)
        .where(
            Partnership.status == "active",
            or_(
                Partnership.business_low_id == Business.id,
                Partnership.business_high_id == Business.id,
            ),
        )
        .correlate(Business)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Business, Trade.name, Trade.slug, active_count, live.id, live.status)
        .join(Trade, Trade.id == Business.trade_id)
        .outerjoin(live, and_(pair, live.status.in_(LIVE_STATUSES)))
        .where(Business.id.in_(distances))
    ).all()
    candidates = [
        PartnerCandidate(
            business=row[0],
            trade_name=row[1],
            trade_slug=row[2],
            distance_miles=round(distances[row[0].id], 1),
            active_partnerships=int(row[3]),
            partnership_id=row[4],
            partnership_status=row[5],
        )
        for row in rows
    ]
    candidates.sort(key=lambda c: (distances[c.business.id], c.business.id))
    return candidates, total
