"""Personal offer links: what a campaign or follow-up puts in each email.

A link carries a signed token of the offer, the customer and what carried it
(a campaign or a follow-up, by id). Anyone who alters it gets a 404 page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, select

from referral.customers.models import Customer
from referral.errors import NotFound
from referral.offers.models import Offer, OfferKind, SourceKind
from referral.offers.services import in_service_area, is_current
from referral.partnerships.models import Partnership, PartnershipStatus
from referral.partnerships.services import live_partnership_between

NOT_FOUND = "This offer link is not valid."


@dataclass(frozen=True)
class Source:
    """What carried the link: a campaign or a follow-up rule, by id."""

    kind: SourceKind
    id: int

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True)
class OfferLink:
    """One offer in one customer's email."""

    offer_id: int
    title: str
    benefit: str
    url: str


@dataclass(frozen=True)
class LinkTarget:
    offer: Offer
    customer: Customer
    source: Source


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="offer-link")


def offer_token(*, offer_id: int, customer_id: int, source: Source) -> str:
    return str(_serializer().dumps([offer_id, customer_id, source.kind.value, source.id]))


def offer_url(*, offer_id: int, customer_id: int, source: Source) -> str:
    token = offer_token(offer_id=offer_id, customer_id=customer_id, source=source)
    return f"{current_app.config['BASE_URL']}/o/{token}"


def may_include(session: Session, offer: Offer, customer: Customer) -> bool:
    """May the business holding `customer` put `offer` in its email to them
    today: its own offer, or a partner's offer while their partnership is active;
    valid today, and the customer inside the offer's area."""
    if customer.erased_at is not None or not is_current(offer):
        return False
    if offer.kind == OfferKind.OWN:
        if offer.business_id != customer.business_id:
            return False
    else:
        partnership = live_partnership_between(session, offer.business_id, customer.business_id)
        if partnership is None or partnership.status != PartnershipStatus.ACTIVE:
            return False
    return in_service_area(session, offer, customer)


def offer_links(
    session: Session, *, offers: Iterable[Offer], customer: Customer, source: Source
) -> list[OfferLink]:
    """The personal links for `customer` to the `offers` their business may
    include for them today (may_include); the others are left out."""
    return [
        OfferLink(
            offer_id=offer.id or 0,
            title=offer.title,
            benefit=offer.benefit,
            url=offer_url(offer_id=offer.id or 0, customer_id=customer.id or 0, source=source),
        )
        for offer in offers
        if may_include(session, offer, customer)
    ]


def read_offer_token(session: Session, token: str) -> LinkTarget:
    """What a link stands for. Fails (NotFound) on an altered or forged token,
    an unknown offer or customer, an erased customer, or a customer whose
    business the offer was never for (another business's own offer, or a
    partner's offer to a business that was never its partner)."""
    try:
        payload = _serializer().loads(token)
        offer_id, customer_id, kind, source_id = payload
        source = Source(SourceKind(kind), int(source_id))
    except (BadSignature, ValueError, TypeError) as exc:
        raise NotFound(NOT_FOUND) from exc
    if not isinstance(offer_id, int) or not isinstance(customer_id, int):
        raise NotFound(NOT_FOUND)
    offer = session.get(Offer, offer_id)
    customer = session.get(Customer, customer_id)
    if offer is None or customer is None or customer.erased_at is not None:
        raise NotFound(NOT_FOUND)
    if offer.kind == OfferKind.OWN and offer.business_id != customer.business_id:
        raise NotFound(NOT_FOUND)
    if offer.kind == OfferKind.PARTNER and (
        offer.business_id == customer.business_id
        or not _ever_partners(session, offer.business_id, customer.business_id)
    ):
        raise NotFound(NOT_FOUND)
    return LinkTarget(offer, customer, source)


def _ever_partners(session: Session, a: int, b: int) -> bool:
    """Were the two businesses partners at some time (an ended partnership
    shows its own page, not a 404)?"""
    low, high = sorted((a, b))
    found = session.exec(
        select(Partnership.id).where(
            Partnership.business_low_id == low,
            Partnership.business_high_id == high,
            Partnership.status.in_(  # type: ignore[attr-defined]
                (PartnershipStatus.ACTIVE, PartnershipStatus.PAUSED, PartnershipStatus.ENDED)
            ),
        )
    ).first()
    return found is not None
