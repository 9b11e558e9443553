"""Stripe webhooks: verify, store under Stripe's event id, apply later.

Intake does as little as possible so Stripe gets its 2xx at once: the event is
stored with its application job in one transaction, and the unique event id
turns every duplicate delivery (20 at once included) into a no-op.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from referral.db import utcnow
from referral.jobs.models import Job
from referral.jobs.queue import enqueue
from referral.payments import gateway, services
from referral.payments.models import StripeEvent

APPLY_STRIPE_EVENT = "stripe.apply_event"


def receive(session: Session, payload: bytes, signature: str | None) -> tuple[StripeEvent, bool]:
    """Verify and store an event; (event, False) when it was already stored.
    Raises gateway.InvalidWebhook, and then nothing is stored."""
    data = gateway.verify_webhook(payload, signature)
    existing = _stored(session, data["id"])
    if existing is not None:
        return existing, False
    obj = data["data"]["object"]
    event = StripeEvent(
        stripe_event_id=data["id"],
        type=data["type"],
        account=data.get("account"),
        object_id=obj.get("id") if isinstance(obj.get("id"), str) else None,
        event_created=dt.datetime.fromtimestamp(int(data.get("created") or 0), dt.UTC),
        payload=data,
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
            job = enqueue(session, APPLY_STRIPE_EVENT, {"event_id": event.id})
            session.flush()
            event.job_id = job.id
    except IntegrityError:
        # Another delivery of the same event won the race.
        stored = _stored(session, data["id"])
        assert stored is not None
        return stored, False
    return event, True


def _stored(session: Session, stripe_event_id: str) -> StripeEvent | None:
    return session.exec(  # type: ignore[no-any-return]
        select(StripeEvent).where(StripeEvent.stripe_event_id == stripe_event_id)
    ).first()


def _payment_intent(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str:
    """A settlement charge or a lead purchase, told apart by the metadata we set."""
    from referral.leads import services as leads
    from referral.settlements.services import apply_payment

    payment = gateway.payment_state_from_event(obj)
    if "lead_purchase_id" in payment.metadata:
        return leads.apply_payment(session, payment)
    return apply_payment(session, payment)


def _charge_refunded(session: Session, obj: dict[str, Any]) -> str:
    """A settlement charge or a lead purchase, found by the charge id."""
    from referral.leads.disputes import apply_refund
    from referral.settlements.reversals import apply_charge_refunded

    note = apply_charge_refunded(session, obj)
    return apply_refund(session, obj) if note == "ignored: not a settlement charge" else note


def _reversals(name: str) -> EventHandler:
    def handle(session: Session, obj: dict[str, Any], _as_of: dt.datetime) -> str:
        from referral.settlements import reversals

        return str(getattr(reversals, name)(session, obj))

    return handle


EventHandler = Callable[[Session, dict[str, Any], dt.datetime], str]
HANDLERS: dict[str, EventHandler] = {
    "account.updated": lambda s, o, t: services.apply_account_update(s, o, as_of=t),
    "checkout.session.completed": lambda s, o, t: services.apply_checkout_completed(s, o, as_of=t),
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "charge.dispute.created": _reversals("apply_dispute_created"),
    "charge.dispute.closed": _reversals("apply_dispute_closed"),
    "charge.refunded": lambda s, o, t: _charge_refunded(s, o),
}


def apply(session: Session, event: StripeEvent) -> None:
    """Apply a stored event once. Handlers apply the object's own state, so an
    event arriving late or out of order cannot undo a newer one."""
    if event.status != "received":
        return
    handler = HANDLERS.get(event.type)
    obj = event.payload["data"]["object"]
    note = handler(session, obj, event.event_created) if handler else "ignored: not used"
    event.status = "ignored" if note.startswith("ignored") else "applied"
    event.note, event.applied_at = note[:500], utcnow()


def failed_events(session: Session, *, limit: int = 100) -> list[tuple[StripeEvent, Job]]:
    """Events whose application gave up (dead job), for the operator page."""
    return list(
        session.exec(
            select(StripeEvent, Job)
            .join(Job, Job.id == StripeEvent.job_id)
            .where(StripeEvent.status == "received", Job.status == "dead")
            .order_by(StripeEvent.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )


def replay(session: Session, event_id: int) -> StripeEvent:
    """Queue a failed event again (the operator's replay button)."""
    from referral.errors import NotFound

    event = session.get(StripeEvent, event_id)
    if event is None:
        raise NotFound("No such event.")
    if event.status == "received":
        job = enqueue(session, APPLY_STRIPE_EVENT, {"event_id": event.id})
        session.flush()
        event.job_id = job.id
    return event
