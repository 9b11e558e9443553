"""Outgoing events: `emit` writes one to the outbox in the caller's transaction.

Domain services call `emit(session, business_ids, type, data)` at the point
of a change; the event commits (or rolls back) with it. For each business that
has a webhook endpoint taking that type, the event is stored with one delivery
per endpoint, and the endpoint's delivery job is queued; a business without
endpoints costs one query and stores nothing.

Payloads are small: ids, statuses, amounts and API links, never a customer's
personal data (the receiving business may not be allowed to see it).
The helpers below build each kind's `data` from the domain's object by its
attribute names, so this module imports no domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, select

from referral.events.models import (
    EVENT_TYPES,
    TEST_EVENT,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from referral.jobs.queue import enqueue_once

DELIVER_JOB = "webhooks.deliver"
API_BASE = "/api/v1"


def delivery_job_singleton(endpoint_id: int) -> str:
    return f"{DELIVER_JOB}:{endpoint_id}"


def emit(
    session: Session, business_ids: int | Iterable[int], type: str, data: dict[str, Any]
) -> list[WebhookEvent]:
    """Write event `type` for each business (one id or several) whose endpoints
    take it; the events written."""
    return emit_all(session, [(business_ids, type, data)])


Outgoing = tuple[int | Iterable[int], str, dict[str, Any]]  # business id(s), type, data


def emit_all(session: Session, outgoing: Sequence[Outgoing]) -> list[WebhookEvent]:
    """`emit` for several events, in order, with one read of the endpoints of
    all their businesses (a batch of changes costs one query, not one each)."""
    wanted = []
    for business_ids, type, data in outgoing:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        ids = [business_ids] if isinstance(business_ids, int) else list(dict.fromkeys(business_ids))
        wanted.append((ids, type, data))
    if not wanted:
        return []
    endpoints = session.exec(
        select(WebhookEndpoint).where(
            WebhookEndpoint.business_id.in_({i for ids, _, _ in wanted for i in ids}),  # type: ignore[attr-defined]
            WebhookEndpoint.status == EndpointStatus.enabled,
        )
    ).all()
    written = []
    for ids, type, data in wanted:
        for business_id in ids:
            takers = [
                e for e in endpoints if e.business_id == business_id and type in e.event_types
            ]
            if takers:
                written.append(record_event(session, business_id, type, data, takers))
    return written


def record_event(
    session: Session,
    business_id: int,
    type: str,
    data: dict[str, Any],
    endpoints: list[WebhookEndpoint],
) -> WebhookEvent:
    """Store an event with a delivery to each endpoint, and queue their jobs."""
    event = WebhookEvent(business_id=business_id, type=type, data=data)
    session.add(event)
    session.flush()
    for endpoint in endpoints:
        queue_delivery(session, endpoint, event)
    return event


def queue_delivery(session: Session, endpoint: WebhookEndpoint, event: WebhookEvent) -> None:
    assert endpoint.id is not None and event.id is not None
    session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id))
    enqueue_once(
        session,
        DELIVER_JOB,
        {"endpoint_id": endpoint.id},
        singleton=delivery_job_singleton(endpoint.id),
    )


def test_event_data(endpoint_id: int) -> dict[str, Any]:
    return {"endpoint_id": endpoint_id, "message": "A test event from Referral."}


assert TEST_EVENT not in EVENT_TYPES


# --- what each kind of event carries ---------------------------------------------


def referral(referral: Any) -> dict[str, Any]:
    return {
        "referral_id": referral.id,
        "status": referral.status,
        "sender_id": referral.sender_id,
        "receiver_id": referral.receiver_id,
        "partnership_id": referral.partnership_id,
        "job_value_cents": referral.job_value_cents,
        "url": f"{API_BASE}/referrals/{referral.id}",
    }


def consent(record: Any, decision: str) -> dict[str, Any]:
    return {
        "consent_record_id": record.id,
        "referral_id": getattr(record, "referral_id", None),
        "lead_id": getattr(record, "lead_id", None),
        "decision": decision,
        "url": f"{API_BASE}/referrals/{record.referral_id}/consent"
        if getattr(record, "referral_id", None)
        else None,
    }


def commission(commission: Any) -> dict[str, Any]:
    return {
        "commission_id": commission.id,
        "referral_id": commission.referral_id,
        "status": commission.status,
        "amount_cents": commission.amount_cents,
        "currency": getattr(commission, "currency", "usd"),
        "payer_id": commission.payer_id,
        "referrer_id": commission.referrer_id,
    }


def settlement(settlement: Any) -> dict[str, Any]:
    return {
        "settlement_id": settlement.id,
        "partnership_id": settlement.partnership_id,
        "status": settlement.status,
        "net_cents": settlement.net_cents,
        "currency": getattr(settlement, "currency", "usd"),
        "debtor_id": settlement.debtor_id,
        "creditor_id": settlement.creditor_id,
    }


def lead_purchase(purchase: Any, lead: Any) -> dict[str, Any]:
    return {
        "lead_id": lead.id,
        "purchase_id": purchase.id,
        "status": purchase.status,
        "price_cents": purchase.price_cents,
        "seller_id": lead.seller_id,
        "buyer_id": purchase.buyer_id,
        "url": f"{API_BASE}/leads/purchases/{purchase.id}",
    }


def partnership(partnership: Any) -> dict[str, Any]:
    return {
        "partnership_id": partnership.id,
        "status": partnership.status,
        "business_ids": [partnership.business_low_id, partnership.business_high_id],
        "proposed_by_id": partnership.proposed_by_id,
        "url": f"{API_BASE}/partnerships/{partnership.id}",
    }


# --- the points of change the domains call ----------------------------------------

REFERRAL_EVENTS = {
    "sent": "referral.received",
    "accepted": "referral.accepted",
    "declined": "referral.declined",
    "won": "referral.won",
    "lost": "referral.lost",
    "withdrawn": "referral.withdrawn",
}


def referral_moved(session: Session, referral_: Any) -> None:
    """A referral reached a new status: both businesses hear of it (the
    receiver alone of its arrival: the sender knows it sent it)."""
    type = REFERRAL_EVENTS.get(referral_.status)
    if type is None:
        return
    to = [referral_.receiver_id]
    if type != "referral.received":
        to.append(referral_.sender_id)
    emit(session, to, type, referral(referral_))


def consent_recorded(session: Session, record: Any, decision: str) -> None:
    """A customer's consent given or withdrawn: both businesses it names hear of it."""
    type = {"given": "consent.given", "withdrawn": "consent.withdrawn"}.get(decision)
    if type is None:
        return
    to = [record.referring_business_id, record.receiving_business_id]
    emit(session, [b for b in to if b is not None], type, consent(record, decision))


COMMISSION_EVENTS = {"approved": "commission.approved", "reversed": "commission.reversed"}


def commission_moved(session: Session, commission_: Any) -> None:
    commissions_moved(session, [commission_])


def commissions_moved(session: Session, commissions: Iterable[Any]) -> None:
    """`commission_moved` for several (a batch approved), with one read of endpoints."""
    emit_all(
        session,
        [
            ((c.referrer_id, c.payer_id), COMMISSION_EVENTS[c.status], commission(c))
            for c in commissions
            if c.status in COMMISSION_EVENTS
        ],
    )


def settlement_moved(session: Session, settlement_: Any) -> None:
    type = {"paid": "settlement.paid", "failed": "settlement.failed"}.get(settlement_.status)
    if type is not None:
        emit(
            session, (settlement_.creditor_id, settlement_.debtor_id), type, settlement(settlement_)
        )


def lead_paid(session: Session, purchase: Any, lead: Any) -> None:
    """A lead purchase went through: the seller sold it, the buyer bought it."""
    data = lead_purchase(purchase, lead)
    emit(session, lead.seller_id, "lead.sold", data)
    emit(session, purchase.buyer_id, "lead.purchased", data)


def partnership_moved(session: Session, partnership_: Any) -> None:
    type = {"proposed": "partnership.proposed", "active": "partnership.activated"}.get(
        partnership_.status
    )
    if type is not None:
        to = (partnership_.business_low_id, partnership_.business_high_id)
        emit(session, to, type, partnership(partnership_))
