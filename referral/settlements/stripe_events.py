"""Settlements' side of Stripe's events (registered with payments' registry):
a settlement's PaymentIntent and checkout, recognised by the `settlement_id`
in their metadata (Stripe copies it onto the charge); a dispute, which carries
no metadata of ours, by its charge. And the settlements waiting for a business
that can now be paid or pay are tried again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from referral.payments import gateway
from referral.payments.events import on_account_ready, on_card_saved, stripe_handler
from referral.settlements import reversals, services

METADATA_KEY = "settlement_id"


def _for_a_settlement(obj: dict[str, Any]) -> bool:
    return METADATA_KEY in (obj.get("metadata") or {})


@stripe_handler("payment_intent.succeeded")
@stripe_handler("payment_intent.payment_failed")
def payment_changed(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _for_a_settlement(obj):
        return None
    return services.apply_payment(session, gateway.payment_state_from_event(obj))


@stripe_handler("checkout.session.completed")
def checkout_paid(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    """The debtor confirmed a settlement's payment on Stripe's page: apply its
    PaymentIntent's own state."""
    intent = obj.get("payment_intent")
    if obj.get("mode") != "payment" or not _for_a_settlement(obj) or not isinstance(intent, str):
        return None
    return services.apply_payment(session, gateway.retrieve_payment(intent))


@stripe_handler("charge.refunded")
def charge_refunded(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _for_a_settlement(obj):
        return None
    return reversals.apply_charge_refunded(session, obj)


def _disputes_a_settlement(session: Session, obj: dict[str, Any]) -> bool:
    return reversals.is_settlement_charge(session, obj.get("charge"))


@stripe_handler("charge.dispute.created")
def dispute_created(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _disputes_a_settlement(session, obj):
        return None
    return reversals.apply_dispute_created(session, obj)


@stripe_handler("charge.dispute.updated")
def dispute_updated(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _disputes_a_settlement(session, obj):
        return None
    return reversals.apply_dispute_updated(session, obj)


@stripe_handler("charge.dispute.closed")
def dispute_closed(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str | None:
    if not _disputes_a_settlement(session, obj):
        return None
    return reversals.apply_dispute_closed(session, obj)


@on_account_ready
def creditor_ready(session: Session, business_id: int) -> None:
    services.retry_waiting_for(session, creditor_id=business_id)


@on_card_saved
def debtor_ready(session: Session, business_id: int) -> None:
    services.retry_waiting_for(session, debtor_id=business_id)
