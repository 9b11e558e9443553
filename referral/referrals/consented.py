"""A referral the customer asked for themselves: they said yes to a partner's
offer in an email from the business that holds them (`campaign_click`). The
consent is recorded with the referral and the partner is told at once; from
there the referral follows the normal lifecycle (accept, won, commission,
settlement) under the partnership's terms in force.

Kept apart from `send_referral` (a staff member's action, with its form and
idempotency key): here nobody of the sending business acts, the customer does.
"""

from __future__ import annotations

from sqlmodel import Session, select

from referral.auth.models import User
from referral.auth.services import business_verified
from referral.businesses.competition import businesses_compete
from referral.businesses.models import Business
from referral.consent import services as consent
from referral.consent.models import ConsentMethod
from referral.customers.models import Customer
from referral.db import utcnow
from referral.errors import DomainError
from referral.partnerships.models import PartnershipStatus
from referral.partnerships.services import live_partnership_between, terms_in_force
from referral.referrals import services
from referral.referrals.models import Referral, ReferralEvent, ReferralStatus

# The customer asked to be contacted: the receiver sees the urgency as this.
URGENCY = "this_week"


def can_refer_on_click(session: Session, *, sender: Business, receiver: Business) -> str | None:
    """Why a click cannot become a referral from `sender` to `receiver` now
    (a sentence for the customer), or None when it can."""
    partnership = live_partnership_between(session, sender.id or 0, receiver.id or 0)
    if partnership is None or partnership.status != PartnershipStatus.ACTIVE:
        return (
            f"This offer is no longer available: {sender.name} and {receiver.name} "
            "are not working together at the moment. Nothing was shared."
        )
    if not business_verified(session, sender.id or 0):
        return f"{sender.name} cannot pass on offers yet. Nothing was shared."
    if businesses_compete(session, sender, receiver):
        return "This offer is not available. Nothing was shared."
    return None


def _owner_id(session: Session, business_id: int) -> int:
    """The user a referral nobody of the business typed in is filed under: its first owner."""
    user_id = session.exec(
        select(User.id)
        .where(User.business_id == business_id, User.role == "owner")
        .order_by(User.id)  # type: ignore[arg-type]
    ).first()
    if user_id is None:
        raise DomainError("This offer is not available. Nothing was shared.")
    return user_id


def refer_on_click(
    session: Session,
    *,
    sender: Business,
    receiver: Business,
    customer: Customer,
    need: str,
    text: consent.ConsentText,
    source: str,
    ip: str = "",
    user_agent: str = "",
) -> Referral:
    """Record the customer's consent given by their click on `text` (the exact
    text shown) and send the referral to `receiver`. Fails (DomainError, with
    a sentence for the customer) when the partnership is not active, the
    customer was erased, or they were referred to `receiver` in the last 30 days
    (then nothing is written)."""
    problem = can_refer_on_click(session, sender=sender, receiver=receiver)
    if problem is not None:
        raise DomainError(problem)
    if customer.erased_at is not None or customer.business_id != sender.id:
        raise DomainError("This offer is not available. Nothing was shared.")
    if services.recent_referral(session, customer.id or 0, receiver.id or 0, utcnow()):
        raise DomainError(
            f"{sender.name} already passed your details to {receiver.name} recently: "
            f"{receiver.name} will contact you."
        )
    partnership = live_partnership_between(session, sender.id or 0, receiver.id or 0)
    assert partnership is not None and partnership.id is not None
    assert receiver.id is not None and customer.id is not None
    version, terms = terms_in_force(session, partnership, referrer_id=sender.id or 0)
    referral = Referral(
        sender_id=sender.id,
        receiver_id=receiver.id,
        partnership_id=partnership.id,
        terms_version_id=version.id or 0,
        customer_id=customer.id,
        created_by_user_id=_owner_id(session, sender.id or 0),
        need=need,
        urgency=URGENCY,
        consent_method=ConsentMethod.CAMPAIGN_CLICK,
        status=ReferralStatus.AWAITING_CONSENT,
    )
    session.add(referral)
    session.flush()
    session.add(
        ReferralEvent(
            referral_id=referral.id or 0,
            action="created",
            to_status=ReferralStatus.AWAITING_CONSENT,
            note=f"The customer said yes to an offer ({source}).",
        )
    )
    consent.add_consent_record(
        session,
        referral=referral,
        customer=customer,
        text=text,
        purpose=need,
        method=ConsentMethod.CAMPAIGN_CLICK,
        decision="given",
        ip=ip,
        user_agent=user_agent,
        source=source,
    )
    services._deliver(session, referral, receiver, terms.response_window_hours, actor=None)
    services._notify(
        session,
        sender.id or 0,
        referral,
        "referral.consented",
        f"{customer.name} said yes to {receiver.name}'s offer"[:200],
    )
    return referral
