"""The lead marketplace: list a consented lead, let nearby businesses of the
needed trade see an anonymised preview, sell it through a Stripe destination
charge, and show the buyer the contact details once Stripe confirms payment.

Places in a lead (one when exclusive, up to five when shared) are taken and
given back by conditional UPDATEs, so two buyers racing for the last place
cannot both get it: the loser is never charged, or is refunded automatically."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, update
from sqlmodel import Session, select

from referral.audit.models import AuditEvent
from referral.businesses.competition import competing_trade_ids, trades_compete
from referral.businesses.geo import distance_miles, locate_zip
from referral.businesses.models import Business, Trade
from referral.consent import services as consent
from referral.customers.models import Customer
from referral.customers.services import get_customer
from referral.db import utcnow
from referral.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from referral.jobs.queue import enqueue
from referral.leads import quality
from referral.leads.models import HOLDING, OUTCOMES, Lead, LeadPurchase
from referral.ledger.services import pair, post
from referral.money import apply_basis_points, format_cents
from referral.notifications.services import notify_business
from referral.partnerships.services import MANAGING_ROLES, Actor
from referral.payments import gateway
from referral.payments.models import BillingProfile, ConnectedAccount

RESERVATION = dt.timedelta(minutes=15)
EXPIRE_LEAD = "lead.expire"
RELEASE_RESERVATION = "lead.release_reservation"
CHARGE_PURCHASE = "lead.charge"
MIN_PRICE_CENTS, MAX_PRICE_CENTS = 100, 100_000_00


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
    consent_method: str = "email_link"
    attested_on: dt.date | None = None


def _require_manager(actor: Actor) -> None:
    if actor.role not in MANAGING_ROLES:
        raise PermissionDenied("Only owners and managers can sell or buy leads.")


def _ready_to_be_paid(session: Session, business_id: int) -> bool:
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == business_id)
    ).first()
    return bool(account and account.charges_enabled and account.payouts_enabled)


def list_lead(*, session: Session, actor: Actor, data: NewLead) -> Lead:
    """Offer a customer's need for sale. It goes live when the customer agrees."""
    _require_manager(actor)
    customer = get_customer(
        session=session, business_id=actor.business_id, customer_id=data.customer_id
    )
    if customer.erased_at is not None:
        raise DomainError("This customer's details were erased.")
    trade = session.get(Trade, data.trade_id)
    errors: dict[str, list[str]] = {}
    if trade is None:
        errors["trade_id"] = ["Choose a trade."]
    centre = locate_zip(data.zip_code)
    if centre is None:
        errors["zip_code"] = ["Enter a US ZIP code we know."]
    if not MIN_PRICE_CENTS <= data.price_cents <= MAX_PRICE_CENTS:
        errors["price_cents"] = ["Between $1.00 and $100,000.00."]
    if not 1 <= data.max_buyers <= 5:
        errors["max_buyers"] = ["Exclusive (1 buyer) or shared by 2 to 5 buyers."]
    if not 1 <= data.expires_in_days <= 30:
        errors["expires_in_days"] = ["Between 1 and 30 days."]
    if errors:
        raise ValidationFailed("Some fields are not valid.", errors=errors)
    assert trade is not None and centre is not None
    if trades_compete(session, actor.business.trade_id, trade.id):  # type: ignore[arg-type]
        raise DomainError(
            "That trade competes with yours, so no buyer could take this lead.",
            errors={"trade_id": ["Choose a trade that does not compete with yours."]},
        )
    if not _ready_to_be_paid(session, actor.business_id):
        raise DomainError("Connect a Stripe account (Payments) before selling leads.")
    if quality.suspended(session, actor.business_id):
        raise DomainError(
            "Too many of your leads were disputed: you can list again once the operator"
            " has reviewed your account."
        )
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
        status="awaiting_consent",
        expires_at=now + dt.timedelta(days=data.expires_in_days),
        updated_at=now,
    )
    session.add(lead)
    session.flush()
    text = consent.lead_consent_text(session, seller=actor.business, lead=lead, customer=customer)
    if data.consent_method == "email_link":
        consent.request_consent(
            session,
            lead=lead,
            customer=customer,
            referrer=actor.business,
            receiver_description=consent.lead_buyers_description(session, lead.id),
        )
        return lead
    if data.attested_on is None:
        raise ValidationFailed(
            "Some fields are not valid.", errors={"attested_on": ["When did the customer agree?"]}
        )
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
    return lead


def _go_live(session: Session, lead: Lead) -> None:
    lead.status, lead.live_at = "live", utcnow()
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
        method="email_link",
        decision="given" if yes else "refused",
        ip=ip,
        user_agent=user_agent,
    )
    if lead.status != "awaiting_consent":
        return lead
    if yes:
        _go_live(session, lead)
        title = f"{customer.name} agreed: your lead is live on the marketplace"
    else:
        lead.status, lead.closed_at = "declined_by_customer", utcnow()
        title = f"{customer.name} declined to have their request offered"
    notify_business(
        session=session,
        business_id=lead.seller_id,
        kind="lead.consent",
        title=title,
        path=f"/leads/{lead.id}",
    )
    return lead


# --- who sees what ------------------------------------------------------------------


def _holding_now(now: dt.datetime):  # type: ignore[no-untyped-def]
    """Purchases that hold a place: paid, or reserved and not yet lapsed."""
    return (LeadPurchase.status == "paid") | (
        (LeadPurchase.status == "reserved") & (LeadPurchase.reserved_until > now)
    )


def visible_to(
    session: Session, buyer: Business, lead: Lead, *, now: dt.datetime | None = None
) -> bool:
    """A live, unexpired lead of the buyer's trade, in its area, from a seller
    whose trade does not compete with the buyer's."""
    now = now or utcnow()
    if lead.status != "live" or lead.expires_at <= now or lead.seller_id == buyer.id:
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


def marketplace(session: Session, buyer: Business, *, limit: int = 100) -> list[Preview]:
    """Leads this business may buy, newest first."""
    now = utcnow()
    box = buyer.radius_miles / 69.0  # degrees of latitude per mile, roughly
    lon_box = box / max(0.1, math.cos(math.radians(buyer.latitude)))
    competing = competing_trade_ids(session, buyer.trade_id)
    seller = Business.__table__.alias("seller")
    rows = session.exec(
        select(Lead)
        .join(seller, seller.c.id == Lead.seller_id)
        .where(
            Lead.status == "live",
            Lead.expires_at > now,
            Lead.trade_id == buyer.trade_id,
            Lead.seller_id != buyer.id,
            seller.c.trade_id.not_in(competing),
            Lead.latitude.between(buyer.latitude - box, buyer.latitude + box),
            Lead.longitude.between(buyer.longitude - lon_box, buyer.longitude + lon_box),
        )
        .order_by(Lead.live_at.desc())  # type: ignore[union-attr]
        .limit(limit * 2)
    ).all()
    leads = [lead for lead in rows if visible_to(session, buyer, lead, now=now)][:limit]
    return [preview(session, buyer, lead, now=now) for lead in leads]


def preview(
    session: Session, buyer: Business, lead: Lead, *, now: dt.datetime | None = None
) -> Preview:
    now = now or utcnow()
    held = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .where(LeadPurchase.lead_id == lead.id, _holding_now(now))
    ).one()
    mine = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .where(
            LeadPurchase.lead_id == lead.id,
            LeadPurchase.buyer_id == buyer.id,
            LeadPurchase.status == "paid",
        )
    ).one()
    sales = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .join(Lead, Lead.id == LeadPurchase.lead_id)
        .where(Lead.seller_id == lead.seller_id, LeadPurchase.status == "paid")
    ).one()
    trade = session.get(Trade, lead.trade_id)
    return Preview(
        lead,
        trade.name if trade else "",
        int(sales),
        lead.max_buyers - int(held),
        bool(mine),
        quality.seller_quality(session, lead.seller_id),
    )


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


def get_own_lead(session: Session, business_id: int, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.seller_id != business_id:
        raise NotFound("No such lead.")
    return lead


# --- buying -------------------------------------------------------------------------


def take_place(session: Session, lead: Lead) -> bool:
    """Take one place in the lead, atomically; False when none is left.

    One conditional UPDATE: on PostgreSQL the row lock makes a concurrent buyer
    wait and re-check; on SQLite the write lock does the same."""
    result = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.status == "live", Lead.places_held < Lead.max_buyers)
        .values(places_held=Lead.places_held + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(lead)
    return bool(result.rowcount)


def give_back_place(session: Session, lead: Lead) -> None:
    session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.places_held > 0)
        .values(places_held=Lead.places_held - 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(lead)


def reserve(*, session: Session, actor: Actor, lead_id: int, method: str) -> LeadPurchase:
    """Hold a place for 15 minutes while the buyer pays. `method`: "saved_card"
    (charged off-session by the worker) or "checkout" (Stripe's hosted page)."""
    _require_manager(actor)
    lead = get_lead_for_buyer(session, actor.business, lead_id)
    existing = session.exec(
        select(LeadPurchase).where(
            LeadPurchase.lead_id == lead.id,
            LeadPurchase.buyer_id == actor.business_id,
            LeadPurchase.status.in_(HOLDING),
        )
    ).first()
    if existing is not None:
        if existing.status == "paid":
            raise DomainError("You already bought this lead.")
        return existing
    if method == "saved_card":
        billing = session.exec(
            select(BillingProfile).where(BillingProfile.business_id == actor.business_id)
        ).first()
        if billing is None or billing.payment_method_id is None:
            raise DomainError("Save a card (Payments) to buy with it, or pay on Stripe Checkout.")
    if not _ready_to_be_paid(session, lead.seller_id):
        raise DomainError("The seller cannot be paid at the moment; try again later.")
    if not take_place(session, lead):
        raise DomainError(
            "This lead is sold, or its last place is being bought right now.",
            errors={"lead_id": ["No place left."]},
        )
    now = utcnow()
    purchase = LeadPurchase(
        lead_id=lead.id,
        buyer_id=actor.business_id,
        buyer_user_id=actor.user_id,
        price_cents=lead.price_cents,
        platform_fee_cents=apply_basis_points(
            lead.price_cents, current_app.config["PLATFORM_FEE_BPS"]
        ),
        currency=lead.currency,
        method=method,
        status="reserved",
        reserved_until=now + RESERVATION,
        updated_at=now,
    )
    session.add(purchase)
    session.flush()
    enqueue(
        session, RELEASE_RESERVATION, {"purchase_id": purchase.id}, run_at=purchase.reserved_until
    )
    if method == "saved_card":
        enqueue(session, CHARGE_PURCHASE, {"purchase_id": purchase.id})
    return purchase


def _payment_refs(session: Session, purchase: LeadPurchase) -> tuple[Lead, str]:
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == lead.seller_id)
    ).one()
    return lead, account.stripe_account_id


def _metadata(purchase: LeadPurchase) -> dict[str, str]:
    return {"lead_purchase_id": str(purchase.id), "lead_id": str(purchase.lead_id)}


def charge(session: Session, purchase: LeadPurchase) -> None:
    """The worker charges the buyer's saved card (idempotent: the key is the purchase)."""
    if purchase.status != "reserved" or purchase.method != "saved_card":
        return
    lead, destination = _payment_refs(session, purchase)
    billing = session.exec(
        select(BillingProfile).where(BillingProfile.business_id == purchase.buyer_id)
    ).one()
    try:
        payment = gateway.destination_charge(
            amount_cents=purchase.price_cents,
            currency=purchase.currency,
            customer_id=billing.stripe_customer_id,
            payment_method_id=billing.payment_method_id or "",
            destination_account_id=destination,
            platform_fee_cents=purchase.platform_fee_cents,
            description=f"Referral lead {lead.id}",
            metadata=_metadata(purchase),
            idempotency_key=f"lead-purchase-{purchase.id}",
        )
    except gateway.CardDeclined as declined:
        _failed(session, purchase, declined.message)
        return
    purchase.payment_intent_id = payment.payment_intent_id
    purchase.updated_at = utcnow()


def checkout_url(
    *, session: Session, purchase: LeadPurchase, success_url: str, cancel_url: str
) -> str:
    """A Stripe Checkout page (payment mode) for a reserved purchase."""
    lead, destination = _payment_refs(session, purchase)
    trade = session.get(Trade, lead.trade_id)
    session_id, url = gateway.payment_checkout(
        amount_cents=purchase.price_cents,
        currency=purchase.currency,
        product_name=f"{trade.name if trade else 'Lead'} lead in {lead.zip_code}",
        destination_account_id=destination,
        platform_fee_cents=purchase.platform_fee_cents,
        metadata=_metadata(purchase),
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=f"lead-purchase-{purchase.id}-checkout",
    )
    purchase.checkout_session_id = session_id
    return url


def _failed(session: Session, purchase: LeadPurchase, message: str) -> None:
    if purchase.status != "reserved":
        return
    purchase.status, purchase.note, purchase.updated_at = "failed", message[:500], utcnow()
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    give_back_place(session, lead)
    notify_business(
        session=session,
        business_id=purchase.buyer_id,
        kind="lead.payment_failed",
        title=f"Your payment for lead {lead.id} failed: {message}",
        path=f"/leads/{lead.id}",
    )


def release_if_lapsed(session: Session, purchase: LeadPurchase) -> bool:
    """A reservation not paid in time gives its place back."""
    if purchase.status != "reserved" or purchase.reserved_until > utcnow():
        return False
    purchase.status, purchase.updated_at = "expired", utcnow()
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    give_back_place(session, lead)
    return True


def apply_payment(session: Session, payment: gateway.PaymentState) -> str:
    """Apply a lead purchase's PaymentIntent state (webhook or fetch)."""
    purchase_id = payment.metadata.get("lead_purchase_id", "")
    purchase = (
        session.get(LeadPurchase, int(purchase_id), with_for_update=True)
        if purchase_id.isdigit()
        else None
    )
    if purchase is None:
        return "ignored: not a lead purchase"
    if payment.status == "requires_payment_method":
        _failed(session, purchase, payment.failure_message or "The card was declined.")
        return "applied: failed"
    if payment.status != "succeeded":
        return f"ignored: status {payment.status}"
    if purchase.status in ("paid", "refunded"):
        return "ignored: already applied"
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    purchase.payment_intent_id = payment.payment_intent_id
    purchase.charge_id = payment.charge_id
    still_held = purchase.status == "reserved"
    if not still_held and not take_place(session, lead):
        # Paid after the reservation lapsed and someone else took the place.
        _refund_lost_place(session, purchase, lead)
        return "applied: refunded, no place left"
    _paid(session, purchase, lead)
    return "applied: paid"


def _paid(session: Session, purchase: LeadPurchase, lead: Lead) -> None:
    now = utcnow()
    purchase.status, purchase.paid_at, purchase.updated_at = "paid", now, now
    fee, price = purchase.platform_fee_cents, purchase.price_cents
    post(
        session,
        "lead_sale",
        [
            *pair(
                price - fee,
                debit="stripe_balance",
                credit="payable",
                credit_business=lead.seller_id,
            ),
            *pair(fee, debit="stripe_balance", credit="platform_fees"),
        ],
        currency=purchase.currency,
        memo=f"lead {lead.id} sold",
        stripe_object_id=purchase.payment_intent_id,
    )
    post(
        session,
        "transfer",
        pair(price - fee, debit="payable", credit="stripe_balance", debit_business=lead.seller_id),
        currency=purchase.currency,
        memo=f"lead {lead.id}: sent to the seller's connected account",
        stripe_object_id=purchase.charge_id,
    )
    paid_count = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .where(LeadPurchase.lead_id == lead.id, LeadPurchase.status == "paid")
    ).one()
    if int(paid_count) >= lead.max_buyers:
        lead.status, lead.closed_at = "sold_out", now
    customer = session.get(Customer, lead.customer_id)
    buyer = session.get(Business, purchase.buyer_id)
    notify_business(
        session=session,
        business_id=purchase.buyer_id,
        kind="lead.bought",
        title=f"Lead {lead.id} is yours: the customer's details are on the page",
        path=f"/leads/purchases/{purchase.id}",
    )
    notify_business(
        session=session,
        business_id=lead.seller_id,
        kind="lead.sold",
        title=f"{buyer.name if buyer else 'A business'} bought your lead {lead.id}"
        f" for {format_cents(price)}",
        path=f"/leads/{lead.id}",
    )
    if customer is not None and customer.email and buyer is not None:
        from referral.mail.services import queue_email

        queue_email(
            session,
            to=customer.email,
            subject=f"{buyer.name} received your request",
            template="lead_buyer_named",
            customer=customer,
            buyer=buyer,
            lead=lead,
        )


def _refund_lost_place(session: Session, purchase: LeadPurchase, lead: Lead) -> None:
    """Refund a buyer whose payment arrived after losing the place, and say why."""
    gateway.refund_payment(
        payment_intent_id=purchase.payment_intent_id or "",
        amount_cents=purchase.price_cents,
        idempotency_key=f"lead-purchase-{purchase.id}-refund",
    )
    purchase.status, purchase.updated_at = "refunded", utcnow()
    purchase.note = "Another business bought the last place while your payment was completing."
    notify_business(
        session=session,
        business_id=purchase.buyer_id,
        kind="lead.refunded",
        title=f"Lead {lead.id} sold out while you were paying; you were refunded in full",
        path=f"/leads/{lead.id}",
    )


# --- contact details ------------------------------------------------------------------


def contact_for_buyer(
    session: Session, purchase: LeadPurchase, *, user_id: int | None
) -> Customer | None:
    """The customer's details, for a paid purchase while the consent stands (audited)."""
    lead = session.get(Lead, purchase.lead_id)
    if purchase.status != "paid" or lead is None or lead.status == "removed":
        return None
    if not consent.consent_in_force(session, lead_id=lead.id):
        return None
    session.add(
        AuditEvent(
            owner_business_id=lead.seller_id,
            actor_business_id=purchase.buyer_id,
            actor_user_id=user_id,
            action="contact_viewed",
            subject=f"lead:{lead.id}",
        )
    )
    return session.get(Customer, lead.customer_id)


def get_purchase(session: Session, business_id: int, purchase_id: int) -> LeadPurchase:
    purchase = session.get(LeadPurchase, purchase_id)
    if purchase is None or purchase.buyer_id != business_id:
        raise NotFound("No such purchase.")
    return purchase


# --- ending -------------------------------------------------------------------------


def withdraw_lead(*, session: Session, actor: Actor, lead_id: int) -> Lead:
    """The seller takes an unsold lead off the marketplace."""
    _require_manager(actor)
    lead = get_own_lead(session, actor.business_id, lead_id)
    if lead.status not in ("awaiting_consent", "live"):
        raise DomainError("Only a lead that is waiting or live can be withdrawn.")
    sold = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .where(LeadPurchase.lead_id == lead.id, LeadPurchase.status.in_(HOLDING))
    ).one()
    if int(sold):
        raise DomainError("A lead someone bought (or is paying for) cannot be withdrawn.")
    lead.status, lead.closed_at = "withdrawn", utcnow()
    return lead


def consent_withdrawn(session: Session, lead: Lead) -> None:
    """The customer withdrew: the lead leaves the marketplace and buyers lose
    the details at once (contact_for_buyer checks the consent on every view)."""
    if lead.status in ("withdrawn", "removed", "declined_by_customer"):
        return
    lead.status, lead.closed_at = "removed", utcnow()
    buyers = session.exec(
        select(LeadPurchase.buyer_id).where(
            LeadPurchase.lead_id == lead.id, LeadPurchase.status == "paid"
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
    if lead.status == "live" and lead.expires_at <= utcnow():
        lead.status, lead.closed_at = "expired", utcnow()


def report_outcome(
    *, session: Session, actor: Actor, purchase_id: int, outcome: str
) -> LeadPurchase:
    """The buyer says what came of the lead (it feeds the seller's quality score)."""
    purchase = get_purchase(session, actor.business_id, purchase_id)
    if outcome not in OUTCOMES:
        raise DomainError("Choose what happened.", errors={"outcome": ["Choose what happened."]})
    if purchase.status != "paid":
        raise DomainError("Only a paid lead has an outcome to report.")
    purchase.outcome, purchase.updated_at = outcome, utcnow()
    return purchase
