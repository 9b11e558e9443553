"""Bad leads: within 7 days a buyer disputes a purchase. Duplicates and
out-of-area leads that the platform can verify are credited at once; the rest
go to the seller, then to the operator. An upheld dispute refunds the buyer
through Stripe, reversing the seller's transfer and the platform fee, and the
ledger follows when Stripe confirms the refund."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from referral.auth.roles import MANAGING_ROLES
from referral.businesses.actor import Actor
from referral.businesses.geo import distance_miles
from referral.businesses.models import Business
from referral.customers.models import Customer
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.leads import quality
from referral.leads.models import (
    AUTOMATIC_REASONS,
    DISPUTE_REASONS,
    DisputeStatus,
    Lead,
    LeadDispute,
    LeadPurchase,
    PurchaseStatus,
)
from referral.ledger.services import Entry, post
from referral.notifications.services import notify_business
from referral.payments import gateway
from referral.referrals.models import Referral, ReferralStatus

DISPUTE_WINDOW = dt.timedelta(days=7)


def _customer_known_to_buyer(session: Session, purchase: LeadPurchase, lead: Lead) -> bool:
    """The buyer already had this customer: as its own customer, from an earlier
    lead, or from a referral (matched by email or phone)."""
    customer = session.get(Customer, lead.customer_id)
    if customer is None:
        return False
    same_person = [c for c in (customer.email, customer.phone) if c]
    if same_person:
        own = session.exec(
            select(func.count())
            .select_from(Customer)
            .where(
                Customer.business_id == purchase.buyer_id,
                or_(Customer.email.in_(same_person), Customer.phone.in_(same_person)),
            )
        ).one()
        if own:
            return True
    earlier = session.exec(
        select(func.count())
        .select_from(LeadPurchase)
        .join(Lead, Lead.id == LeadPurchase.lead_id)
        .where(
            LeadPurchase.buyer_id == purchase.buyer_id,
            LeadPurchase.id != purchase.id,
            LeadPurchase.status == PurchaseStatus.PAID,
            Lead.customer_id == lead.customer_id,
        )
    ).one()
    referred = session.exec(
        select(func.count())
        .select_from(Referral)
        .where(
            Referral.receiver_id == purchase.buyer_id,
            Referral.customer_id == lead.customer_id,
            Referral.status.in_((ReferralStatus.ACCEPTED, ReferralStatus.WON, ReferralStatus.LOST)),
        )
    ).one()
    return bool(earlier or referred)


def _outside_area(session: Session, purchase: LeadPurchase, lead: Lead) -> bool:
    buyer = session.get(Business, purchase.buyer_id)
    assert buyer is not None
    miles = distance_miles(buyer.latitude, buyer.longitude, lead.latitude, lead.longitude)
    return miles > buyer.radius_miles


def open_dispute(
    *, session: Session, actor: Actor, purchase_id: int, reason: str, note: str = ""
) -> LeadDispute:
    if actor.role not in MANAGING_ROLES:
        raise DomainError("Only owners and managers can dispute a lead.")
    purchase = session.get(LeadPurchase, purchase_id)
    if purchase is None or purchase.buyer_id != actor.business_id:
        raise NotFound("No such purchase.")
    if reason not in DISPUTE_REASONS:
        raise DomainError("Choose a reason.", errors={"reason": ["Choose a reason."]})
    if purchase.status != PurchaseStatus.PAID or purchase.paid_at is None:
        raise DomainError("Only a paid lead can be disputed.")
    if utcnow() > purchase.paid_at + DISPUTE_WINDOW:
        raise DomainError("Leads can be disputed within 7 days of buying them.")
    if session.exec(select(LeadDispute.id).where(LeadDispute.purchase_id == purchase.id)).first():
        raise DomainError("This lead is already disputed.")
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    dispute = LeadDispute(
        purchase_id=purchase.id,
        lead_id=lead.id,
        seller_id=lead.seller_id,
        buyer_id=purchase.buyer_id,
        reason=reason,
        note=note[:2000],
        status=DisputeStatus.WITH_SELLER,
    )
    session.add(dispute)
    session.flush()
    verified = (reason == "duplicate" and _customer_known_to_buyer(session, purchase, lead)) or (
        reason == "outside_area" and _outside_area(session, purchase, lead)
    )
    if reason in AUTOMATIC_REASONS and verified:
        _uphold(session, dispute, decided_by="automatic", note="Verified from the platform's data.")
    else:
        notify_business(
            session=session,
            business_id=lead.seller_id,
            kind="lead.disputed",
            title=f"A buyer disputed lead {lead.id}: {DISPUTE_REASONS[reason]}",
            path=f"/leads/disputes/{dispute.id}",
        )
    return dispute


def get_dispute(session: Session, business_id: int, dispute_id: int) -> LeadDispute:
    dispute = session.get(LeadDispute, dispute_id)
    if dispute is None or business_id not in (dispute.seller_id, dispute.buyer_id):
        raise NotFound("No such dispute.")
    return dispute


def seller_decides(
    *, session: Session, actor: Actor, dispute_id: int, accept: bool, note: str = ""
) -> LeadDispute:
    """The seller accepts (the buyer is refunded) or contests (the operator decides)."""
    if actor.role not in MANAGING_ROLES:
        raise DomainError("Only owners and managers can answer a dispute.")
    dispute = get_dispute(session, actor.business_id, dispute_id)
    if dispute.seller_id != actor.business_id or dispute.status != DisputeStatus.WITH_SELLER:
        raise DomainError("This dispute is not waiting for you.")
    if accept:
        _uphold(session, dispute, decided_by="seller", note=note)
    else:
        dispute.status, dispute.decision_note = DisputeStatus.WITH_OPERATOR, note[:2000]
    return dispute


def operator_decides(
    *, session: Session, dispute_id: int, uphold: bool, note: str = ""
) -> LeadDispute:
    dispute = session.get(LeadDispute, dispute_id)
    if dispute is None:
        raise NotFound("No such dispute.")
    if dispute.status not in (DisputeStatus.WITH_SELLER, DisputeStatus.WITH_OPERATOR):
        raise DomainError("This dispute is decided.")
    if uphold:
        _uphold(session, dispute, decided_by="operator", note=note)
    else:
        dispute.status, dispute.decided_by = DisputeStatus.REJECTED, "operator"
        dispute.decision_note, dispute.decided_at = note[:2000], utcnow()
        notify_business(
            session=session,
            business_id=dispute.buyer_id,
            kind="lead.dispute_rejected",
            title=f"Your dispute of lead {dispute.lead_id} was rejected",
            path="/leads/purchases",
        )
    return dispute


def _uphold(session: Session, dispute: LeadDispute, *, decided_by: str, note: str) -> None:
    purchase = session.get(LeadPurchase, dispute.purchase_id)
    assert purchase is not None and purchase.payment_intent_id
    gateway.refund_payment(
        payment_intent_id=purchase.payment_intent_id,
        amount_cents=purchase.price_cents,
        idempotency_key=f"lead-dispute-{dispute.id}-refund",
    )
    dispute.status, dispute.decided_by = DisputeStatus.UPHELD, decided_by
    dispute.decision_note, dispute.decided_at = note[:2000], utcnow()
    for business_id, title in (
        (dispute.buyer_id, f"Your dispute of lead {dispute.lead_id} was upheld: you are refunded"),
        (
            dispute.seller_id,
            f"A dispute of lead {dispute.lead_id} was upheld; the sale is refunded",
        ),
    ):
        notify_business(
            session=session,
            business_id=business_id,
            kind="lead.dispute_upheld",
            title=title,
            path="/leads",
        )
    quality.check_threshold(session, dispute.seller_id)


def apply_refund(session: Session, charge: dict[str, object]) -> str:
    """`charge.refunded` for a lead purchase: book the refund once; the buyer's
    access to the details ends with it."""
    purchase = _purchase_of_charge(session, charge.get("id"))
    if purchase is None:
        return "ignored: not a lead purchase"
    if purchase.status == PurchaseStatus.REFUNDED:
        return "ignored: already booked"
    refunded = int(charge.get("amount_refunded") or 0)  # type: ignore[call-overload]
    if refunded < purchase.price_cents:
        return "ignored: partial refund"
    transfer = gateway.transfer_of_charge(str(charge["id"]))
    _money_back(
        session,
        purchase,
        refunded,
        transfer.reversed_cents if transfer else 0,
        kind="lead_refund",
        memo="refunded to the buyer",
        stripe_object_id=str(charge["id"]),
    )
    return "applied: refunded"


def is_lead_charge(session: Session, charge_id: object) -> bool:
    """Whether a charge paid for a lead (a dispute names only its charge)."""
    if not isinstance(charge_id, str):
        return False
    found = session.exec(select(LeadPurchase.id).where(LeadPurchase.charge_id == charge_id)).first()
    return found is not None


def _purchase_of_charge(session: Session, charge_id: object) -> LeadPurchase | None:
    if not isinstance(charge_id, str):
        return None
    return session.exec(  # type: ignore[no-any-return]
        select(LeadPurchase).where(LeadPurchase.charge_id == charge_id).with_for_update()
    ).first()


def _money_back(
    session: Session,
    purchase: LeadPurchase,
    amount: int,
    reversed_cents: int,
    *,
    kind: str,
    memo: str,
    stripe_object_id: str,
) -> None:
    """Book `amount` of a purchase going back to the buyer, of which
    `reversed_cents` came back from the seller; the buyer's access ends."""
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    fee_back = min(purchase.platform_fee_cents, amount - reversed_cents)
    loss = amount - reversed_cents - fee_back
    # The buyer has its money back; the seller's share comes back where its
    # balance allowed; the platform gives back its fee and bears any rest.
    post(
        session,
        kind,
        [
            Entry("stripe_balance", reversed_cents - amount),
            Entry("platform_fees", fee_back),
            Entry("written_off", loss),
        ],
        currency=purchase.currency,
        memo=f"lead {lead.id} {memo}",
        stripe_object_id=stripe_object_id,
    )
    purchase.status, purchase.updated_at = PurchaseStatus.REFUNDED, utcnow()


def apply_chargeback(session: Session, obj: dict[str, Any], *, closed: bool) -> str:
    """A card dispute on a lead purchase (`charge.dispute.*`). Open, the seller is
    told and the buyer keeps the details; lost, the seller's transfer is reversed
    (as far as its balance allows), the buyer has its money back from the bank
    and its access ends; won, an inquiry closed or a prevented dispute: nothing
    moved. The dispute fee is the ledger's business (booked elsewhere)."""
    purchase = _purchase_of_charge(session, obj.get("charge"))
    if purchase is None:
        return "ignored: not a lead purchase"
    stage = gateway.dispute_stage(obj.get("status"))
    lead = session.get(Lead, purchase.lead_id)
    assert lead is not None
    if not closed:
        if stage not in (gateway.DisputeStage.INQUIRY, gateway.DisputeStage.CHARGEBACK):
            return f"ignored: dispute status {obj.get('status')}"
        what = "asks about" if stage == gateway.DisputeStage.INQUIRY else "disputes"
        notify_business(
            session=session,
            business_id=lead.seller_id,
            kind="lead.chargeback",
            title=f"The buyer's bank {what} the payment for lead {lead.id}",
            path=f"/leads/{lead.id}",
        )
        return f"applied: seller told ({stage})"
    if stage != gateway.DisputeStage.LOST:
        return f"applied: {obj.get('status')}, nothing moved"
    if purchase.status != PurchaseStatus.PAID:
        return f"ignored: purchase is {purchase.status}"
    amount = int(obj.get("amount") or purchase.price_cents)
    _money_back(
        session,
        purchase,
        amount,
        _take_back_from_seller(purchase, amount, dispute_id=str(obj.get("id"))),
        # Booked as the buyer's money going back (an existing kind), under the
        # dispute's id: reconciliation of refunds keys on charges, so it is apart.
        kind="lead_refund",
        memo="lost to a chargeback",
        stripe_object_id=str(obj.get("id")),
    )
    for business_id in (lead.seller_id, purchase.buyer_id):
        notify_business(
            session=session,
            business_id=business_id,
            kind="lead.chargeback_lost",
            title=f"The payment for lead {lead.id} went back to the buyer through its bank",
            path=f"/leads/{lead.id}",
        )
    return "applied: reversed"


def _take_back_from_seller(purchase: LeadPurchase, amount: int, *, dispute_id: str) -> int:
    """Reverse the seller's share of `amount`; 0 when its balance does not allow it."""
    return gateway.take_back_transfer(
        charge_id=purchase.charge_id or "",
        amount_cents=amount - purchase.platform_fee_cents * amount // purchase.price_cents,
        idempotency_key=f"lead-purchase-{purchase.id}-dispute-{dispute_id}",
        metadata={"lead_purchase_id": str(purchase.id)},
    )
