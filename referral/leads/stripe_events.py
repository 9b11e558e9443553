"""Lead purchases' side of Stripe's events (registered with payments' registry):
a purchase's PaymentIntent, checkout and refund, recognised by the
`lead_purchase_id` in their metadata (Stripe copies it onto the charge); a
card dispute, which carries no metadata of ours, by its charge. The seller is
told when a dispute opens, not on each update, so `charge.dispute.updated` is
not handled here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from referral.leads import disputes, purchases
from referral.payments import gateway
from referral.payments.events import stripe_handler

METADATA_KEY = "lead_purchase_id"


def _for_a_lead(obj: dict[str, Any]) -> bool:
    return METADATA_KEY in (obj.get("metadata") or {})


@stripe_handler("payment_intent.succeeded")
@stripe_handler("payment_intent.payment_failed")
def payment_changed(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _for_a_lead(obj):
        return None
    return purchases.apply_payment(session, gateway.payment_state_from_event(obj))


@stripe_handler("checkout.session.completed")
def checkout_paid(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    """A lead paid on Stripe's page: apply its PaymentIntent's own state."""
    intent = obj.get("payment_intent")
    if obj.get("mode") != "payment" or not _for_a_lead(obj) or not isinstance(intent, str):
        return None
    return purchases.apply_payment(session, gateway.retrieve_payment(intent))


@stripe_handler("charge.refunded")
def charge_refunded(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _for_a_lead(obj):
        return None
    return disputes.apply_refund(session, obj)


@stripe_handler("charge.dispute.created")
def chargeback_opened(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not disputes.is_lead_charge(session, obj.get("charge")):
        return None
    return disputes.apply_chargeback(session, obj, closed=False)


@stripe_handler("charge.dispute.closed")
def chargeback_closed(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not disputes.is_lead_charge(session, obj.get("charge")):
        return None
    return disputes.apply_chargeback(session, obj, closed=True)
