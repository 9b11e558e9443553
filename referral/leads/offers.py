"""Putting a customer's need on offer, going live when the customer agrees,
and taking it off the marketplace (withdrawn by the seller or the customer, or expired)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, select

from referral.auth.roles import MANAGING_ROLES, require_role
from referral.auth.services import require_verified_business
from referral.businesses.actor import Actor
from referral.businesses.competition import trades_compete
from referral.businesses.geo import ZipCentre, locate_zip
from referral.businesses.models import Business, Trade
from referral.consent import services as consent
from referral.consent.models import ConsentMethod
from referral.customers.models import Customer
from referral.customers.services import get_customer
from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.jobs.queue import enqueue
from referral.leads import quality
from referral.leads.checks import MANAGERS_ONLY, ready_to_be_paid
from referral.leads.models import (
    HOLDING,
    MAX_PRICE_CENTS,
    Lead,
    LeadPurchase,
    LeadStatus,
    PurchaseStatus,
)
from referral.money import format_cents
from referral.notifications.services import notify_business

EXPIRE_LEAD = "lead.expire"


@dataclass(frozen=True)
class NewLead:
    customer_id: int
    trade_id: int
    need: str
    urgency: str
    zip_code: str
    price_cents: int
    max_buyers: int  # 1: exclusive
    expires_in_days: int
    consent_method: str = ConsentMethod.EMAIL_LINK
    attested_on: dt.date | None = None


def offer_lead(*, session: Session, actor: Actor, data: NewLead) -> Lead:
    """Offer a customer's need for sale. It goes live when the customer agrees."""
    require_role(actor.role, MANAGING_ROLES, MANAGERS_ONLY)
    require_verified_business(session, actor.business_id)
    customer = _customer_to_offer(session, actor, data.customer_id)
    trade, centre = _valid_terms(session, data)
    _check_seller_may_offer(session, actor, trade)
    lead = _add_lead(session, actor, data, customer, trade, centre)
    _ask_or_record_consent(session, actor, data, lead, customer)
    return lead


def _customer_to_offer(session: Session, actor: Actor, customer_id: int) -> Customer:
    customer = get_customer(session=session, business_id=actor.business_id, customer_id=customer_id)
    if customer.erased_at is not None:
        raise DomainError("This customer's details were erased.")
    return customer


def _valid_terms(session: Session, data: NewLead) -> tuple[Trade, ZipCentre]:
    """The trade and ZIP centre of the offer; every invalid field reported at once."""
    trade = session.get(Trade, data.trade_id)
    errors: dict[str, list[str]] = {}
    if trade is None:
        errors["trade_id"] = ["Choose a trade."]
    centre = locate_zip(data.zip_code)
    if centre is None:
        errors["zip_code"] = ["Enter a US ZIP code we know."]
    minimum = current_app.config["LEAD_MINIMUM_PRICE_CENTS"]
    if not minimum <= data.price_cents <= MAX_PRICE_CENTS:
        errors["price_cents"] = [
            f"Between {format_cents(minimum)} and {format_cents(MAX_PRICE_CENTS)}."
        ]
    if not 1 <= data.max_buyers <= 5:
        errors["max_buyers"] = ["Exclusive (1 buyer) or shared by 2 to 5 buyers."]
    if not 1 <= data.expires_in_days <= 30:
        errors["expires_in_days"] = ["Between 1 and 30 days."]
    if errors:
        raise ValidationFailed("Some fields are not valid.", errors=errors)
    assert trade is not None and centre is not None
    return trade, centre


def _check_seller_may_offer(session: Session, actor: Actor, trade: Trade) -> None:
    """A buyer must exist, the seller must be payable, and not suspended for disputes."""
    if trades_compete(session, actor.business.trade_id, trade.id):  # type: ignore[arg-type]
        raise DomainError(
            "That trade competes with yours, so no buyer could take this lead.",
            errors={"trade_id": ["Choose a trade that does not compete with yours."]},
        )
    if not ready_to_be_paid(session, actor.business_id):
        raise DomainError("Connect a Stripe account (Payments) before selling leads.")
    if quality.suspended(session, actor.business_id):
        raise DomainError(
            "Too many of your leads were disputed: you can list again once the operator"
            " has reviewed your account."
        )


def _add_lead(
    session: Session,
    actor: Actor,
    data: NewLead,
    customer: Customer,
    trade: Trade,
    centre: ZipCentre,
) -> Lead:
    now = utcnow()
    lead = Lead(
        seller_id=actor.business_id,
        customer_id=customer.id,
        created_by_user_id=actor.user_id,
        trade_id=trade.id,
        need=data.need,
        urgency=data.urgency,
        zip_code=data.zip_code,
        latitude=centre.latitude,
        longitude=centre.longitude,
        price_cents=data.price_cents,
        exclusive=data.max_buyers == 1,
        max_buyers=data.max_buyers,
        consent_method=data.consent_method,
        status=LeadStatus.AWAITING_CONSENT,
        expires_at=now + dt.timedelta(days=data.expires_in_days),
        updated_at=now,
    )
    session.add(lead)
    session.flush()
    return lead


def _ask_or_record_consent(
    session: Session, actor: Actor, data: NewLead, lead: Lead, customer: Customer
) -> None:
    """Email the customer the question, or record the consent the seller
    attests to and put the lead live at once."""
    text = consent.lead_consent_text(session, seller=actor.business, lead=lead, customer=customer)
    if data.consent_method == ConsentMethod.EMAIL_LINK:
        consent.request_consent(
            session,
            lead=lead,
            customer=customer,
            referrer=actor.business,
            receiver_description=consent.lead_buyers_description(session, lead),
        )
        return
    consent.check_attested_on(data.attested_on)
    consent.add_consent_record(
        session,
        lead=lead,
        customer=customer,
        text=text,
        purpose=data.need,
        method=data.consent_method,
        decision="given",
        attested_by_user_id=actor.user_id,
        attested_on=data.attested_on,
    )
    _go_live(session, lead)


def _go_live(session: Session, lead: Lead) -> None:
    lead.status, lead.live_at = LeadStatus.LIVE, utcnow()
    lead.updated_at = lead.live_at
    enqueue(session, EXPIRE_LEAD, {"lead_id": lead.id}, run_at=lead.expires_at)


def answer_consent(*, session: Session, lead: Lead, yes: bool, ip: str, user_agent: str) -> Lead:
    """The customer answered the emailed question about selling their request."""
    customer = session.get(Customer, lead.customer_id)
    seller = session.get(Business, lead.seller_id)
    assert customer is not None and seller is not None
    text = consent.lead_consent_text(session, seller=seller, lead=lead, customer=customer)
    consent.add_consent_record(
        session,
        lead=lead,
        customer=customer,
        text=text,
        purpose=lead.need,
        method=ConsentMethod.EMAIL_LINK,
        decision="given" if yes else "refused",
        ip=ip,
        user_agent=user_agent,
    )
    if lead.status != LeadStatus.AWAITING_CONSENT:
        return lead
    if yes:
        _go_live(session, lead)
        title = f"{customer.name} agreed: your lead is live on the marketplace"
    else:
        lead.status, lead.closed_at = LeadStatus.DECLINED_BY_CUSTOMER, utcnow()
        title = f"{customer.name} declined to have their request offered"
    notify_business(
        session=session,
        business_id=lead.seller_id,
        kind="lead.consent",
        title=title,
        path=f"/leads/{lead.id}",
    )
    return lead


def get_own_lead(session: Session, business_id: int, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.seller_id != business_id:
        raise NotFound("No such lead.")
    return lead


def withdraw_lead(*, session: Session, actor: Actor, lead_id: int) -> Lead:
    """The seller takes an unsold lead off the marketplace."""
    require_role(actor.role, MANAGING_ROLES, MANAGERS_ONLY)
    lead = get_own_lead(session, actor.business_id, lead_id)
    if lead.status not in (LeadStatus.AWAITING_CONSENT, LeadStatus.LIVE):
        raise DomainError("Only a lead that is waiting or live can be withdrawn.")
    sold = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .where(LeadPurchase.lead_id == lead.id, LeadPurchase.status.in_(HOLDING))
    ).one()
    if int(sold):
        raise DomainError("A lead someone bought (or is paying for) cannot be withdrawn.")
    lead.status, lead.closed_at = LeadStatus.WITHDRAWN, utcnow()
    return lead


def consent_withdrawn(session: Session, lead: Lead) -> None:
    """The customer withdrew: the lead leaves the marketplace and buyers lose
    the details at once (contact_for_buyer checks the consent on every view)."""
    if lead.status in (LeadStatus.WITHDRAWN, LeadStatus.REMOVED, LeadStatus.DECLINED_BY_CUSTOMER):
        return
    lead.status, lead.closed_at = LeadStatus.REMOVED, utcnow()
    buyers = session.exec(
        select(LeadPurchase.buyer_id).where(
            LeadPurchase.lead_id == lead.id, LeadPurchase.status == PurchaseStatus.PAID
        )
    ).all()
    for business_id in {lead.seller_id, *buyers}:
        notify_business(
            session=session,
            business_id=business_id,
            kind="lead.consent_withdrawn",
            title=f"The customer of lead {lead.id} withdrew their consent; their details are gone",
            path="/leads",
        )


def expire(session: Session, lead: Lead) -> None:
    if lead.status == LeadStatus.LIVE and lead.expires_at <= utcnow():
        lead.status, lead.closed_at = LeadStatus.EXPIRED, utcnow()
