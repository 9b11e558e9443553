"""Buying a place in a lead: reserving it while the buyer pays, charging the
saved card or opening Stripe Checkout, applying Stripe's answer (paid, failed,
or refunded when the place was lost), and the buyer's report of the outcome."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, select

from referral import events
from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.actor import Actor
from referral.businesses.models import Business, Trade
from referral.consent import services as consent
from referral.customers.models import Customer
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.jobs.queue import enqueue
from referral.leads.checks import MANAGERS_ONLY, ready_to_be_paid
from referral.leads.marketplace import get_lead_for_buyer, release_place, reserve_place
from referral.leads.models import HOLDING, OUTCOMES, Lead, LeadPurchase, LeadStatus, PurchaseStatus
from referral.ledger.services import pair, post
from referral.mail.services import queue_email
from referral.money import apply_basis_points, format_cents
from referral.notifications.services import notify_business
from referral.payments import gateway
from referral.payments.models import BillingProfile, ConnectedAccount

RESERVATION = dt.timedelta(minutes=15)
RELEASE_RESERVATION = "lead.release_reservation"
CHARGE_PURCHASE = "lead.charge"


def reserve(*, session: Session, actor: Actor, lead_id: int, method: str) -> LeadPurchase:
    """Hold a place for 15 minutes while the buyer pays. `method`: "saved_card"
    (charged off-session by the worker) or "checkout" (Stripe's hosted page)."""
    require_role(actor.role, MANAGING_ROLES, MANAGERS_ONLY)
    lead = get_lead_for_buyer(session, actor.business, lead_id)
    existing = session.exec(
        select(LeadPurchase).where(
            LeadPurchase.lead_id == lead.id,
            LeadPurchase.buyer_id == actor.business_id,
            LeadPurchase.status.in_(HOLDING),
        )
    ).first()
    if existing is not None:
        if existing.status == PurchaseStatus.PAID:
            raise DomainError("You already bought this lead.")
        return existing
    if method == "saved_card":
        billing = session.exec(
            select(BillingProfile).where(BillingProfile.business_id == actor.business_id)
        ).first()
        if billing is None or billing.payment_method_id is None:
            raise DomainError("Save a card (Payments) to buy with it, or pay on Stripe Checkout.")
    if not ready_to_be_paid(session, lead.seller_id):
        raise DomainError("The seller cannot be paid at the moment; try again later.")
    if not reserve_place(session, lead):
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
        status=PurchaseStatus.RESERVED,
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
    if purchase.status != PurchaseStatus.RESERVED or purchase.method != "saved_card":
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
    except gateway.AuthenticationRequired:
        _failed(
            session,
            purchase,
            "your bank asks you to confirm this payment; buy again and pay on Stripe Checkout",
        )
        return
    except gateway.CardDeclined as declined:
        _failed(session, purchase, declined.message)
        return
    except gateway.PaymentRefused as refused:
        # Our request or the seller's account: not the buyer's card. The place goes back.
        _failed(session, purchase, f"Stripe refused the payment ({refused}); you were not charged")
        return
    # gateway.PaymentsUnavailable propagates: the job retries with the same key.
    purchase.payment_intent_id = payment.payment_intent_id
    purchase.updated_at = utcnow()


def checkout_url(
    *, session: Session, purchase: LeadPurchase, success_url: str, cancel_url: str
) -> str:
    """A Stripe Checkout page (payment mode) for a reserved purchase: the one
    already opened for it while it is open, so the buyer can never pay twice."""
    if purchase.checkout_session_id:
        url = gateway.open_checkout_url(purchase.checkout_session_id)
        if url is not None:
            return url
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
    if purchase.status != PurchaseStatus.RESERVED:
        return
    purchase.status, purchase.note, purchase.updated_at = (
        PurchaseStatus.FAILED,
        message[:500],
        utcnow(),
    )
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    release_place(session, lead)
    notify_business(
        session=session,
        business_id=purchase.buyer_id,
        kind="lead.payment_failed",
        title=f"Your payment for lead {lead.id} failed: {message}",
        path=f"/leads/{lead.id}",
    )


def release_if_lapsed(session: Session, purchase: LeadPurchase) -> bool:
    """A reservation not paid in time gives its place back."""
    if purchase.status != PurchaseStatus.RESERVED or purchase.reserved_until > utcnow():
        return False
    purchase.status, purchase.updated_at = PurchaseStatus.EXPIRED, utcnow()
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    release_place(session, lead)
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
    if purchase.status in (PurchaseStatus.PAID, PurchaseStatus.REFUNDED):
        return "ignored: already applied"
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    purchase.payment_intent_id = payment.payment_intent_id
    purchase.charge_id = payment.charge_id
    still_held = purchase.status == PurchaseStatus.RESERVED
    if not still_held and not reserve_place(session, lead):
        # Paid after the reservation lapsed and someone else took the place.
        _refund_lost_place(session, purchase, lead)
        return "applied: refunded, no place left"
    _paid(session, purchase, lead)
    return "applied: paid"


def _paid(session: Session, purchase: LeadPurchase, lead: Lead) -> None:
    now = utcnow()
    purchase.status, purchase.paid_at, purchase.updated_at = PurchaseStatus.PAID, now, now
    events.lead_paid(session, purchase, lead)
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
        .where(LeadPurchase.lead_id == lead.id, LeadPurchase.status == PurchaseStatus.PAID)
    ).one()
    if int(paid_count) >= lead.max_buyers:
        lead.status, lead.closed_at = LeadStatus.SOLD_OUT, now
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
        record = consent.latest_record(session, lead_id=lead.id)
        queue_email(
            session,
            to=customer.email,
            subject=f"{buyer.name} received your request",
            template="lead_buyer_named",
            customer=customer,
            buyer=buyer,
            lead=lead,
            withdraw_link=consent.withdrawal_link(record) if record else "",
            my_consents_link=consent.my_consents_link(customer.id or 0),
        )


def _refund_lost_place(session: Session, purchase: LeadPurchase, lead: Lead) -> None:
    """Refund a buyer whose payment arrived after losing the place, and say why."""
    gateway.refund_payment(
        payment_intent_id=purchase.payment_intent_id or "",
        amount_cents=purchase.price_cents,
        idempotency_key=f"lead-purchase-{purchase.id}-refund",
    )
    purchase.status, purchase.updated_at = PurchaseStatus.REFUNDED, utcnow()
    purchase.note = "Another business bought the last place while your payment was completing."
    notify_business(
        session=session,
        business_id=purchase.buyer_id,
        kind="lead.refunded",
        title=f"Lead {lead.id} sold out while you were paying; you were refunded in full",
        path=f"/leads/{lead.id}",
    )


def get_purchase(session: Session, business_id: int, purchase_id: int) -> LeadPurchase:
    purchase = session.get(LeadPurchase, purchase_id)
    if purchase is None or purchase.buyer_id != business_id:
        raise NotFound("No such purchase.")
    return purchase


def report_outcome(
    *, session: Session, actor: Actor, purchase_id: int, outcome: str
) -> LeadPurchase:
    """The buyer says what came of the lead (it feeds the seller's quality score)."""
    purchase = get_purchase(session, actor.business_id, purchase_id)
    if outcome not in OUTCOMES:
        raise DomainError("Choose what happened.", errors={"outcome": ["Choose what happened."]})
    if purchase.status != PurchaseStatus.PAID:
        raise DomainError("Only a paid lead has an outcome to report.")
    purchase.outcome, purchase.updated_at = outcome, utcnow()
    return purchase
