"""Every write to offers and opportunities, and the rules that guard them.

- A business publishes offers: its own (service plan, add-on, upgrade) or for
  its partners' customers. Owners and managers create, edit and end them.
- An offer reaches a customer only while it is valid (from/until, not ended)
  and the customer is inside its service area limits (ZIP codes, radius).
- A partner's offer reaches only the customers of a business with an active
  partnership with the publisher; an own offer only the publisher's customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_
from sqlmodel import Session, col, select

from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.actor import Actor
from referral.businesses.geo import ZIP_PATTERN, distance_miles, locate_zip
from referral.businesses.models import Business
from referral.customers.models import Customer
from referral.customers.services import add_job
from referral.db import utcnow
from referral.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from referral.money import MAX_JOB_CENTS, range_message
from referral.offers.models import Offer, OfferKind, Opportunity, OpportunityStatus
from referral.partnerships.models import Partnership, PartnershipStatus

MAX_ZIP_CODES = 200


@dataclass(frozen=True)
class OfferInput:
    """Validated input for an offer (the page form and the API schema)."""

    kind: str
    title: str
    benefit: str
    valid_from: dt.date
    description: str = ""
    valid_until: dt.date | None = None
    zip_codes: list[str] = field(default_factory=list)
    radius_miles: int | None = None


def _require_manager(actor: Actor) -> None:
    require_role(actor.role, MANAGING_ROLES, "Only owners and managers manage offers.")


def _check(data: OfferInput) -> None:
    errors: dict[str, list[str]] = {}
    if data.kind not in tuple(OfferKind):
        errors["kind"] = ["Choose who the offer is for."]
    if not data.title.strip():
        errors["title"] = ["Give the offer a title."]
    elif len(data.title) > 120:
        errors["title"] = ["At most 120 characters."]
    if not data.benefit.strip():
        errors["benefit"] = ["Say what the customer gets, e.g. 10% off a first drain cleaning."]
    elif len(data.benefit) > 200:
        errors["benefit"] = ["At most 200 characters."]
    if len(data.description) > 5000:
        errors["description"] = ["At most 5000 characters."]
    if data.valid_until is not None and data.valid_until < data.valid_from:
        errors["valid_until"] = ["The last day cannot be before the first."]
    bad = [z for z in data.zip_codes if not ZIP_PATTERN.match(z) or locate_zip(z) is None]
    if bad:
        errors["zip_codes"] = [f"Not a known US ZIP code: {', '.join(bad[:5])}."]
    elif len(data.zip_codes) > MAX_ZIP_CODES:
        errors["zip_codes"] = [f"At most {MAX_ZIP_CODES} ZIP codes."]
    if data.radius_miles is not None and not 1 <= data.radius_miles <= 500:
        errors["radius_miles"] = ["From 1 to 500 miles."]
    if errors:
        raise ValidationFailed("Some fields are not valid.", errors=errors)


def create_offer(*, session: Session, actor: Actor, data: OfferInput) -> Offer:
    """Publish an offer. Fails on invalid fields or a role other than owner or manager."""
    _require_manager(actor)
    _check(data)
    offer = Offer(
        business_id=actor.business_id,
        kind=data.kind,
        title=data.title.strip(),
        benefit=data.benefit.strip(),
        description=data.description.strip(),
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        zip_codes=sorted(set(data.zip_codes)),
        radius_miles=data.radius_miles,
        created_by_user_id=actor.user_id,
    )
    session.add(offer)
    session.flush()
    return offer


def get_offer(*, session: Session, business_id: int, offer_id: int) -> Offer:
    """The business's own offer; NotFound for anyone else's."""
    offer = session.get(Offer, offer_id)
    if offer is None or offer.business_id != business_id:
        raise NotFound("No such offer.")
    return offer


def update_offer(*, session: Session, actor: Actor, offer_id: int, data: OfferInput) -> Offer:
    """Change an offer (its kind stays). Fails on an ended offer or invalid fields."""
    _require_manager(actor)
    offer = get_offer(session=session, business_id=actor.business_id, offer_id=offer_id)
    if offer.ended_at is not None:
        raise DomainError("This offer has ended; publish a new one instead.")
    _check(data)
    offer.title, offer.benefit = data.title.strip(), data.benefit.strip()
    offer.description = data.description.strip()
    offer.valid_from, offer.valid_until = data.valid_from, data.valid_until
    offer.zip_codes, offer.radius_miles = sorted(set(data.zip_codes)), data.radius_miles
    offer.updated_at = utcnow()
    session.flush()
    return offer


def end_offer(*, session: Session, actor: Actor, offer_id: int) -> Offer:
    """End an offer now: its links show that it has ended. Ending twice is a no-op."""
    _require_manager(actor)
    offer = get_offer(session=session, business_id=actor.business_id, offer_id=offer_id)
    if offer.ended_at is None:
        offer.ended_at = offer.updated_at = utcnow()
        session.flush()
    return offer


def list_offers(*, session: Session, business_id: int) -> list[Offer]:
    """The business's own offers, newest first."""
    return list(
        session.exec(
            select(Offer).where(Offer.business_id == business_id).order_by(Offer.id.desc())  # type: ignore[union-attr]
        )
    )


def _current(query, today: dt.date):  # type: ignore[no-untyped-def]
    return query.where(
        col(Offer.ended_at).is_(None),
        col(Offer.valid_from) <= today,
        or_(col(Offer.valid_until).is_(None), col(Offer.valid_until) >= today),
    )


def partner_offers(
    *, session: Session, business_id: int, today: dt.date | None = None
) -> list[tuple[Offer, Business]]:
    """The offers the business's active partners publish to its customers,
    valid today, with their publisher, by publisher name then newest."""
    today = today or utcnow().date()
    partners = (
        select(Partnership.business_low_id, Partnership.business_high_id)
        .where(
            Partnership.status == PartnershipStatus.ACTIVE,
            or_(
                col(Partnership.business_low_id) == business_id,
                col(Partnership.business_high_id) == business_id,
            ),
        )
        .subquery()
    )
    query = (
        select(Offer, Business)
        .join(Business, col(Business.id) == Offer.business_id)
        .join(
            partners,
            or_(
                partners.c.business_low_id == Offer.business_id,
                partners.c.business_high_id == Offer.business_id,
            ),
        )
        .where(Offer.kind == OfferKind.PARTNER, Offer.business_id != business_id)
        .order_by(Business.name, Offer.id.desc())  # type: ignore[union-attr]
    )
    return [(offer, business) for offer, business in session.exec(_current(query, today))]


def is_current(offer: Offer, today: dt.date | None = None) -> bool:
    today = today or utcnow().date()
    return (
        offer.ended_at is None
        and offer.valid_from <= today
        and (offer.valid_until is None or offer.valid_until >= today)
    )


def in_service_area(session: Session, offer: Offer, customer: Customer) -> bool:
    """Is the customer inside the offer's limits? Without limits, everyone is;
    with limits, a customer whose ZIP code is unknown is not."""
    if not offer.zip_codes and offer.radius_miles is None:
        return True
    if offer.zip_codes and customer.zip_code in offer.zip_codes:
        return True
    if offer.radius_miles is not None:
        publisher = session.get(Business, offer.business_id)
        centre = locate_zip(customer.zip_code)
        if publisher is not None and centre is not None:
            miles = distance_miles(
                publisher.latitude, publisher.longitude, centre.latitude, centre.longitude
            )
            return miles <= offer.radius_miles
    return False


# --- opportunities ------------------------------------------------------------------


def list_opportunities(
    *, session: Session, business_id: int, status: str | None = None
) -> list[tuple[Opportunity, Offer, Customer]]:
    """The business's pipeline, open first then newest."""
    query = (
        select(Opportunity, Offer, Customer)
        .join(Offer, col(Offer.id) == Opportunity.offer_id)
        .join(Customer, col(Customer.id) == Opportunity.customer_id)
        .where(Opportunity.business_id == business_id)
    )
    if status:
        query = query.where(Opportunity.status == status)
    query = query.order_by(
        (Opportunity.status != OpportunityStatus.OPEN),  # type: ignore[arg-type]
        Opportunity.id.desc(),  # type: ignore[union-attr]
    )
    return [(o, offer, c) for o, offer, c in session.exec(query)]


def get_opportunity(*, session: Session, business_id: int, opportunity_id: int) -> Opportunity:
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None or opportunity.business_id != business_id:
        raise NotFound("No such opportunity.")
    return opportunity


def _open_opportunity(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    if actor.role not in ("owner", "manager", "staff"):
        raise PermissionDenied("Your role cannot close opportunities.")
    opportunity = get_opportunity(
        session=session, business_id=actor.business_id, opportunity_id=opportunity_id
    )
    if opportunity.status != OpportunityStatus.OPEN:
        raise DomainError(f"This opportunity is already {opportunity.status}.")
    return opportunity


def win_opportunity(
    *, session: Session, actor: Actor, opportunity_id: int, amount_cents: int, won_on: dt.date
) -> Opportunity:
    """The customer bought: the sale is recorded as a job for them (so lifetime
    value counts it). Fails on an amount out of range, a day in the future, or
    an opportunity already closed."""
    if not 0 <= amount_cents <= MAX_JOB_CENTS:
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"amount_cents": [range_message(0, MAX_JOB_CENTS)]},
        )
    if won_on > utcnow().date() + dt.timedelta(days=1):
        raise ValidationFailed(
            "Some fields are not valid.", errors={"won_on": ["The day cannot be in the future."]}
        )
    opportunity = _open_opportunity(session, actor, opportunity_id)
    customer = session.get(Customer, opportunity.customer_id)
    offer = session.get(Offer, opportunity.offer_id)
    assert customer is not None and offer is not None
    if customer.erased_at is not None:
        raise DomainError("This customer was erased.")
    job = add_job(
        session=session,
        customer=customer,
        data={
            "job_date": won_on,
            "description": f"{offer.title} (offer)"[:500],
            "amount_cents": amount_cents,
            "external_id": f"opportunity-{opportunity.id}",
        },
    )
    opportunity.status = OpportunityStatus.WON
    opportunity.amount_cents, opportunity.won_on = amount_cents, won_on
    opportunity.customer_job_id = job.id
    opportunity.closed_by_user_id, opportunity.closed_at = actor.user_id, utcnow()
    session.flush()
    return opportunity


def lose_opportunity(
    *, session: Session, actor: Actor, opportunity_id: int, reason: str = ""
) -> Opportunity:
    """The customer did not buy. Fails on an opportunity already closed."""
    opportunity = _open_opportunity(session, actor, opportunity_id)
    opportunity.status = OpportunityStatus.LOST
    opportunity.lost_reason = reason.strip()[:1000]
    opportunity.closed_by_user_id, opportunity.closed_at = actor.user_id, utcnow()
    session.flush()
    return opportunity
