"""What a buyer may see of a lead's customer, and the audited view of their details."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from referral.audit.models import AuditEvent
from referral.consent import services as consent
from referral.consent import visibility
from referral.consent.visibility import ConsentState, Sight, Stage
from referral.customers.models import Customer
from referral.leads.models import Lead, LeadPurchase, PurchaseStatus

BUYER_STAGES = {
    PurchaseStatus.RESERVED: Stage.OFFERED,
    PurchaseStatus.EXPIRED: Stage.EXPIRED,
    PurchaseStatus.FAILED: Stage.OFFERED,
    PurchaseStatus.PAID: Stage.TAKEN,
    PurchaseStatus.REFUNDED: Stage.REFUNDED,
}
PAY_FIRST = "The customer's details appear once Stripe confirms your payment."


def buyer_sight(session: Session, purchase: LeadPurchase) -> Sight:
    """What a buyer may see of a lead's customer: the visibility rule, with
    "paid" as taking the customer on."""
    lead = session.get(Lead, purchase.lead_id)
    customer = session.get(Customer, lead.customer_id) if lead is not None else None
    stage = BUYER_STAGES[purchase.status]
    state = consent.consent_state(session, lead_id=purchase.lead_id)
    sight = visibility.receiver_sight(
        stage=stage, consent=state, erased=customer is None or customer.erased_at is not None
    )
    if stage is Stage.OFFERED and state is ConsentState.GIVEN and not sight.identity:
        return replace(sight, message=PAY_FIRST)
    return sight


def contact_for_buyer(
    session: Session, purchase: LeadPurchase, *, user_id: int | None
) -> Customer | None:
    """The customer's details when the visibility rule lets the buyer see them (audited)."""
    if not buyer_sight(session, purchase).identity:
        return None
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
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
