"""Partner discovery: businesses whose trade does not compete with mine and whose
service area overlaps mine, nearest first.

All filtering, distance and paging happen in SQL: a bounding box on the indexed
latitude/longitude narrows the candidates before the exact great-circle distance
is computed, so a query never scans the whole table.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, and_, bindparam, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from referral.businesses.geo import EARTH_RADIUS_MILES
from referral.businesses.models import MAX_RADIUS_MILES, Business, Trade, TradeCompetition
from referral.partnerships.models import LIVE_STATUSES, PartnerBlock, Partnership, PartnershipStatus
from referral.partnerships.trust import TrustSignals, trust_signals

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
    signals: TrustSignals | None = None


# Every statement is built once with bound parameters, so a query costs its SQL
# and not the building of an expression tree (SQLAlchemy caches the compiled form).
P = {
    name: bindparam(name, type_=Float)
    for name in ("lat", "lon", "cos_lat", "lat_min", "lat_max", "lon_min", "lon_max", "lon_miles")
}
MY_RADIUS = bindparam("my_radius", type_=Integer)


def _great_circle_miles() -> ColumnElement[float]:
    """SQL for the haversine distance from (:lat, :lon) to each business's centre
    (SQLite's and PostgreSQL's math functions have the same names)."""
    dlat = func.radians(Business.latitude - P["lat"])
    dlon = func.radians(Business.longitude - P["lon"])
    a = func.sin(dlat / 2) * func.sin(dlat / 2) + P["cos_lat"] * func.cos(
        func.radians(Business.latitude)
    ) * func.sin(dlon / 2) * func.sin(dlon / 2)
    return 2 * EARTH_RADIUS_MILES * func.asin(func.sqrt(a))


def _candidate_conditions() -> list[ColumnElement[bool]]:
    reach = MY_RADIUS + Business.radius_miles
    return [
        # The box: centres within my radius plus the largest radius anyone has.
        Business.latitude.between(P["lat_min"], P["lat_max"]),
        Business.longitude.between(P["lon_min"], P["lon_max"]),
        # Per row, cheap arithmetic before trigonometry: centres farther apart
        # in latitude (or, with a margin, longitude) than both radii cannot overlap.
        func.abs(Business.latitude - P["lat"]) * MILES_PER_DEGREE_LATITUDE <= reach,
        func.abs(Business.longitude - P["lon"]) * P["lon_miles"] <= reach,
        Business.trade_id.not_in(bindparam("excluded_trades", expanding=True)),
        Business.id.not_in(bindparam("hidden", expanding=True)),
    ]


def _page_statement(*, by_trade: bool, by_name: bool) -> Select[Any]:
    conditions = _candidate_conditions()
    if by_trade:
        conditions.append(Business.trade_id == bindparam("trade_id", type_=Integer))
    if by_name:
        conditions.append(Business.name.ilike(bindparam("name_pattern"), escape="\\"))
    candidates = (
        select(
            Business.id.label("id"),
            Business.radius_miles.label("radius"),
            _great_circle_miles().label("distance"),
        )
        .where(*conditions)
        .subquery()
    )
    return (
        select(candidates.c.id, candidates.c.distance, func.count().over())
        .where(candidates.c.distance <= MY_RADIUS + candidates.c.radius)
        .order_by(candidates.c.distance, candidates.c.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


def _details_statement() -> Select[Any]:
    me = bindparam("me", type_=Integer)
    live = aliased(Partnership)
    pair = or_(
        and_(live.business_low_id == me, live.business_high_id == Business.id),
        and_(live.business_high_id == me, live.business_low_id == Business.id),
    )
    active_count = (
        select(func.count())
        .select_from(Partnership)
        .where(
            Partnership.status == PartnershipStatus.ACTIVE,
            or_(
                Partnership.business_low_id == Business.id,
                Partnership.business_high_id == Business.id,
            ),
        )
        .correlate(Business)
        .scalar_subquery()
    )
    return (
        select(Business, Trade.name, Trade.slug, active_count, live.id, live.status)
        .join(Trade, Trade.id == Business.trade_id)
        .outerjoin(live, and_(pair, live.status.in_(LIVE_STATUSES)))
        .where(Business.id.in_(bindparam("ids", expanding=True)))
    )


@functools.cache
def _statements() -> dict[Any, Select[Any]]:
    pages = {
        (t, n): _page_statement(by_trade=t, by_name=n) for t in (False, True) for n in (False, True)
    }
    return {**pages, "details": _details_statement()}


def _geometry(business: Business, largest_radius: int) -> dict[str, float]:
    """The bound values of the box and the distance for one business."""
    reach = business.radius_miles + largest_radius
    dlat = reach / MILES_PER_DEGREE_LATITUDE
    widest = min(89.0, abs(business.latitude) + dlat)
    cos_widest = math.cos(math.radians(widest))
    dlon = min(180.0, reach / (MILES_PER_DEGREE_LATITUDE * cos_widest))
    return {
        "lat": business.latitude,
        "lon": business.longitude,
        "cos_lat": math.cos(math.radians(business.latitude)),
        "lat_min": business.latitude - dlat,
        "lat_max": business.latitude + dlat,
        "lon_min": business.longitude - dlon,
        "lon_max": business.longitude + dlon,
        # 0.9: a margin for paths that bend poleward between the two centres.
        "lon_miles": MILES_PER_DEGREE_LATITUDE * cos_widest * 0.9,
    }


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
    params: dict[str, Any] = {
        **_geometry(business, largest_radius(session)),
        "my_radius": business.radius_miles,
        "excluded_trades": sorted(competing_trade_ids(session, business.trade_id)),
        "hidden": sorted(blocked_business_ids(session, business.id) | {business.id}),
        "limit": per_page,
        "offset": (page - 1) * per_page,
    }
    if trade_slug:
        params["trade_id"] = session.scalar(select(Trade.id).where(Trade.slug == trade_slug)) or -1
    if name and name.strip():
        params["name_pattern"] = f"%{_escape_like(name.strip())}%"
    statement = _statements()[("trade_id" in params, "name_pattern" in params)]

    # Phase one: ids and distances of the page, and the total (a window count),
    # computing each candidate's distance once, from the index alone.
    page_rows = session.execute(statement, params).all()
    if not page_rows:
        if page == 1:
            return [], 0
        # Past the last page: still tell the caller how many there are.
        first = session.execute(statement, {**params, "offset": 0, "limit": 1}).first()
        return [], int(first[2]) if first else 0
    total = int(page_rows[0][2])
    distances = {row[0]: float(row[1]) for row in page_rows}

    # Phase two: details of those few businesses only.
    rows = session.execute(
        _statements()["details"], {"me": business.id, "ids": list(distances)}
    ).all()
    signals = trust_signals(session, list(distances))
    candidates = [
        PartnerCandidate(
            business=row[0],
            trade_name=row[1],
            trade_slug=row[2],
            distance_miles=round(distances[row[0].id], 1),
            active_partnerships=int(row[3]),
            partnership_id=row[4],
            partnership_status=row[5],
            signals=signals.get(row[0].id),
        )
        for row in rows
    ]
    candidates.sort(key=lambda c: (distances[c.business.id], c.business.id))
    return candidates, total
