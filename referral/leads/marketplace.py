"""What nearby businesses of the needed trade see of live leads (an
anonymised preview), and the places in a lead.

Places (one when exclusive, up to five when shared) are reserved and released
by conditional UPDATEs, so two buyers racing for the last place cannot both
get one: the loser is never charged, or is refunded automatically."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, select

from referral.businesses.competition import competing_trade_ids
from referral.businesses.geo import distance_miles
from referral.businesses.models import Business, Trade
from referral.db import utcnow
from referral.errors import NotFound
from referral.leads import quality
from referral.leads.models import Lead, LeadPurchase, LeadStatus, PurchaseStatus


def _holding_now(now: dt.datetime):  # type: ignore[no-untyped-def]
    """Purchases that hold a place: paid, or reserved and not yet lapsed."""
    return (LeadPurchase.status == PurchaseStatus.PAID) | (
        (LeadPurchase.status == PurchaseStatus.RESERVED) & (LeadPurchase.reserved_until > now)
    )


def visible_to(
    session: Session, buyer: Business, lead: Lead, *, now: dt.datetime | None = None
) -> bool:
    """A live, unexpired lead of the buyer's trade, in its area, from a seller
    whose trade does not compete with the buyer's."""
    now = now or utcnow()
    if lead.status != LeadStatus.LIVE or lead.expires_at <= now or lead.seller_id == buyer.id:
        return False
    if lead.trade_id != buyer.trade_id:
        return False
    seller = session.get(Business, lead.seller_id)
    if seller is None or seller.trade_id in competing_trade_ids(session, buyer.trade_id):
        return False
    miles = distance_miles(buyer.latitude, buyer.longitude, lead.latitude, lead.longitude)
    return miles <= buyer.radius_miles


@dataclass(frozen=True)
class Preview:
    """What a possible buyer sees before paying: nothing that identifies the customer."""

    lead: Lead
    trade: str
    seller_sales: int
    places_left: int
    bought: bool
    seller_quality: quality.SellerQuality | None = None

    @property
    def age(self) -> dt.timedelta:
        return utcnow() - (self.lead.live_at or self.lead.created_at)


@dataclass(frozen=True)
class MarketPage:
    """One page of the leads a business may buy, newest first."""

    previews: list[Preview]
    page: int
    per_page: int
    total: int


# The most leads one market search considers: a radius holds far fewer live
# leads of one trade; the bound keeps a search's memory bounded all the same.
MAX_CANDIDATES = 10_000


def market_page(
    session: Session, buyer: Business, *, page: int = 1, per_page: int = 50
) -> MarketPage:
    """Leads this business may buy (visible_to), newest first, a page at a
    time. The same statements for any number of leads: the competing trades,
    the candidates in the area's bounding box (their positions only, filtered
    here by the exact distance, as visible_to does), the page's leads with
    their places, and their sellers' record."""
    now = utcnow()
    box = buyer.radius_miles / 69.0  # degrees of latitude per mile, roughly
    lon_box = box / max(0.1, math.cos(math.radians(buyer.latitude)))
    competing = competing_trade_ids(session, buyer.trade_id)
    seller = Business.__table__.alias("seller")
    candidates = session.execute(
        select(Lead.id, Lead.latitude, Lead.longitude)
        .join(seller, seller.c.id == Lead.seller_id)
        .where(
            Lead.status == LeadStatus.LIVE,
            Lead.expires_at > now,
            Lead.trade_id == buyer.trade_id,
            Lead.seller_id != buyer.id,
            seller.c.trade_id.not_in(competing),
            Lead.latitude.between(buyer.latitude - box, buyer.latitude + box),
            Lead.longitude.between(buyer.longitude - lon_box, buyer.longitude + lon_box),
        )
        .order_by(Lead.live_at.desc(), Lead.id.desc())  # type: ignore[union-attr]
        .limit(MAX_CANDIDATES)
    ).all()
    ids = [
        lead_id
        for lead_id, latitude, longitude in candidates
        if distance_miles(buyer.latitude, buyer.longitude, latitude, longitude)
        <= buyer.radius_miles
    ]
    pages = max(1, -(-len(ids) // per_page))
    page = min(max(1, page), pages)
    shown = ids[(page - 1) * per_page : page * per_page]
    return MarketPage(previews(session, buyer, shown, now=now), page, per_page, len(ids))


def previews(
    session: Session, buyer: Business, lead_ids: list[int], *, now: dt.datetime | None = None
) -> list[Preview]:
    """The previews of `lead_ids`, in that order: three statements for any number."""
    if not lead_ids:
        return []
    now = now or utcnow()
    held = (
        select(func.count())
        .select_from(LeadPurchase)
        .where(LeadPurchase.lead_id == Lead.id, _holding_now(now))
        .scalar_subquery()
    )
    mine = (
        select(func.count())
        .select_from(LeadPurchase)
        .where(
            LeadPurchase.lead_id == Lead.id,
            LeadPurchase.buyer_id == buyer.id,
            LeadPurchase.status == PurchaseStatus.PAID,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(Lead, Trade.name, held, mine)
        .join(Trade, Trade.id == Lead.trade_id)
        .where(Lead.id.in_(lead_ids))  # type: ignore[union-attr]
    ).all()
    sellers = {lead.seller_id for lead, *_ in rows}
    sales = dict(
        session.execute(
            select(Lead.seller_id, func.count())
            .select_from(LeadPurchase)
            .join(Lead, Lead.id == LeadPurchase.lead_id)
            .where(Lead.seller_id.in_(sellers), LeadPurchase.status == PurchaseStatus.PAID)
            .group_by(Lead.seller_id)
        ).all()
    )
    records = quality.sellers_quality(session, sellers)
    found = {
        lead.id: Preview(
            lead,
            trade,
            int(sales.get(lead.seller_id, 0)),
            lead.max_buyers - int(holding),
            bool(bought),
            records[lead.seller_id],
        )
        for lead, trade, holding, bought in rows
    }
    return [found[lead_id] for lead_id in lead_ids if lead_id in found]


def preview(
    session: Session, buyer: Business, lead: Lead, *, now: dt.datetime | None = None
) -> Preview:
    [one] = previews(session, buyer, [lead.id or 0], now=now)
    return one


def get_lead_for_buyer(session: Session, buyer: Business, lead_id: int) -> Lead:
    """A lead the buyer may see (or has bought); NotFound otherwise."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("No such lead.")
    bought = session.exec(
        select(LeadPurchase.id).where(
            LeadPurchase.lead_id == lead_id, LeadPurchase.buyer_id == buyer.id
        )
    ).first()
    if not bought and not visible_to(session, buyer, lead):
        raise NotFound("No such lead.")
    return lead


def reserve_place(session: Session, lead: Lead) -> bool:
    """Take one place in the lead, atomically; False when none is left.

    One conditional UPDATE: on PostgreSQL the row lock makes a concurrent buyer
    wait and re-check; on SQLite the write lock does the same."""
    result = session.execute(
        update(Lead)
        .where(
            Lead.id == lead.id, Lead.status == LeadStatus.LIVE, Lead.places_held < Lead.max_buyers
        )
        .values(places_held=Lead.places_held + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(lead)
    return bool(result.rowcount)


def release_place(session: Session, lead: Lead) -> None:
    """Give one place back: its reservation lapsed or its payment failed."""
    session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.places_held > 0)
        .values(places_held=Lead.places_held - 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(lead)
