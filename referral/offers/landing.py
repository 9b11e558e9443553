"""The page an offer link opens, and the customer's "yes" on it.

A partner's offer: the page names the partner and what would be shared and
why (the consent text, versioned and hashed like every consent); "Yes, have
<partner> contact me" records the consent (method `campaign_click`, the
source, the text's SHA-256) and sends the referral to the partner. An own
offer: "Yes, I'm interested" opens an opportunity in the business's pipeline.
Either happens once per offer and customer, however often they click.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from referral.businesses.models import Business
from referral.consent import services as consent
from referral.customers.models import Customer
from referral.errors import DomainError
from referral.notifications.services import notify_business
from referral.offers.links import LinkTarget, read_offer_token
from referral.offers.models import Offer, OfferKind, OfferReferral, Opportunity
from referral.offers.services import in_service_area, is_current
from referral.referrals.consented import can_refer_on_click, refer_on_click


@dataclass(frozen=True)
class Landing:
    """What the page shows: the offer, who publishes it and who sends it; the
    consent text for a partner's offer; `answered` once the customer said yes;
    `problem`, a sentence, when the offer cannot be taken now."""

    offer: Offer
    publisher: Business
    holder: Business
    customer: Customer
    text: consent.ConsentText | None
    answered: bool
    problem: str | None

    @property
    def is_partner_offer(self) -> bool:
        return self.offer.kind == OfferKind.PARTNER


def _need(offer: Offer) -> str:
    return f"{offer.title}: {offer.benefit}"


def _answered(session: Session, target: LinkTarget) -> bool:
    table = OfferReferral if target.offer.kind == OfferKind.PARTNER else Opportunity
    return (
        session.exec(
            select(table.id).where(
                table.offer_id == target.offer.id, table.customer_id == target.customer.id
            )
        ).first()
        is not None
    )


def _problem(
    session: Session, target: LinkTarget, holder: Business, publisher: Business
) -> str | None:
    offer = target.offer
    if not is_current(offer):
        return f"This offer from {publisher.name} has ended. Nothing was shared."
    if not in_service_area(session, offer, target.customer):
        return (
            f"This offer from {publisher.name} is not available where you are. Nothing was shared."
        )
    if offer.kind == OfferKind.PARTNER:
        return can_refer_on_click(session, sender=holder, receiver=publisher)
    return None


def open_landing(session: Session, token: str) -> Landing:
    """The page for a link. Fails (NotFound) on a tampered or foreign link."""
    target = read_offer_token(session, token)
    publisher = session.get(Business, target.offer.business_id)
    holder = session.get(Business, target.customer.business_id)
    assert publisher is not None and holder is not None
    answered = _answered(session, target)
    problem = None if answered else _problem(session, target, holder, publisher)
    text = None
    if target.offer.kind == OfferKind.PARTNER and not answered and problem is None:
        text = consent.consent_text(
            session,
            referrer=holder,
            receiver=publisher,
            customer=target.customer,
            need=_need(target.offer),
        )
    return Landing(target.offer, publisher, holder, target.customer, text, answered, problem)


def say_yes(session: Session, token: str, *, ip: str = "", user_agent: str = "") -> Landing:
    """The customer's "yes": a referral to the partner (with their consent
    recorded) or an opportunity for the business, once. Fails (NotFound) on a
    tampered or foreign link; on an offer that cannot be taken now the landing
    carries the reason and nothing is written."""
    landing = open_landing(session, token)
    if landing.answered or landing.problem is not None:
        return landing
    target = read_offer_token(session, token)
    try:
        with session.begin_nested():
            if landing.is_partner_offer:
                assert landing.text is not None
                referral = refer_on_click(
                    session,
                    sender=landing.holder,
                    receiver=landing.publisher,
                    customer=landing.customer,
                    need=_need(landing.offer),
                    text=landing.text,
                    source=str(target.source),
                    ip=ip,
                    user_agent=user_agent,
                )
                session.add(
                    OfferReferral(
                        offer_id=landing.offer.id or 0,
                        customer_id=landing.customer.id or 0,
                        referral_id=referral.id or 0,
                        source_kind=target.source.kind,
                        source_id=target.source.id,
                    )
                )
            else:
                session.add(
                    Opportunity(
                        business_id=landing.offer.business_id,
                        offer_id=landing.offer.id or 0,
                        customer_id=landing.customer.id or 0,
                        source_kind=target.source.kind,
                        source_id=target.source.id,
                    )
                )
                notify_business(
                    session=session,
                    business_id=landing.offer.business_id,
                    kind="offer.interested",
                    title=f"{landing.customer.name} is interested in {landing.offer.title}",
                    path="/opportunities",
                )
            session.flush()
    except IntegrityError:
        # A second click at the same moment: the first one's answer stands.
        return open_landing(session, token)
    except DomainError as error:
        return Landing(
            landing.offer,
            landing.publisher,
            landing.holder,
            landing.customer,
            None,
            False,
            error.message,
        )
    return Landing(
        landing.offer, landing.publisher, landing.holder, landing.customer, None, True, None
    )
