"""Webhook endpoints: add, change, rotate their secret, disable, delete; the
delivery log; resending an event and sending a test event. Owners and
managers use them from pages and the API alike."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, func, update
from sqlmodel import Session, select

from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.events import DELIVER_JOB, delivery_job_singleton, queue_delivery, test_event_data
from referral.events.models import (
    EVENT_TYPES,
    TEST_EVENT,
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from referral.integrations.outbound import UnsafeUrl, check_url
from referral.jobs.queue import enqueue_once

SECRET_PREFIX = "whsec_"
# After a rotation the old secret still signs (beside the new one) this long,
# so a receiver can switch without missing an event.
ROTATION_GRACE = dt.timedelta(hours=24)
MAX_ENDPOINTS = 20


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class EndpointInput:
    url: str
    event_types: list[str]
    description: str = ""


def validate_url(url: str) -> str:
    """The URL, stripped, if webhooks may go there; a field error otherwise."""
    url = url.strip()
    try:
        check_url(url, allow_loopback=current_app.config["WEBHOOK_ALLOW_LOOPBACK"])
    except UnsafeUrl as exc:
        raise ValidationFailed("Some fields are not valid.", errors={"url": [str(exc)]}) from exc
    return url


def _event_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or not types:
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"event_types": [f"Choose from {', '.join(EVENT_TYPES)}."]},
        )
    return [t for t in EVENT_TYPES if t in types]  # one order, no repeats


def list_endpoints(*, session: Session, business_id: int) -> list[WebhookEndpoint]:
    return list(
        session.exec(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.business_id == business_id,
                WebhookEndpoint.status != EndpointStatus.deleted,
            )
            .order_by(WebhookEndpoint.id)
        )
    )


def get_endpoint(*, session: Session, business_id: int, endpoint_id: int) -> WebhookEndpoint:
    """One of the business's endpoints; NotFound for another's or a deleted one."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or endpoint.business_id != business_id
        or endpoint.status == EndpointStatus.deleted
    ):
        raise NotFound("No such webhook endpoint.")
    return endpoint


def create_endpoint(*, session: Session, business_id: int, data: EndpointInput) -> WebhookEndpoint:
    """Add an endpoint with a fresh secret. Fails on an unsafe URL, an unknown
    event type or too many endpoints."""
    url = validate_url(data.url)
    types = _event_types(data.event_types)
    if len(list_endpoints(session=session, business_id=business_id)) >= MAX_ENDPOINTS:
        raise DomainError(f"A business can have at most {MAX_ENDPOINTS} webhook endpoints.")
    endpoint = WebhookEndpoint(
        business_id=business_id,
        url=url,
        description=data.description.strip(),
        event_types=types,
        secret=new_secret(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def update_endpoint(
    *, session: Session, business_id: int, endpoint_id: int, data: EndpointInput
) -> WebhookEndpoint:
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    endpoint.url = validate_url(data.url)
    endpoint.event_types = _event_types(data.event_types)
    endpoint.description = data.description.strip()
    endpoint.updated_at = utcnow()
    return endpoint


def rotate_secret(*, session: Session, business_id: int, endpoint_id: int) -> WebhookEndpoint:
    """A new secret; the current one keeps signing too for ROTATION_GRACE."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, *, now: dt.datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the
    previous one within its grace period."""
    now = now or utcnow()
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        keys.append(endpoint.previous_secret)
    return keys


def disable_endpoint(
    *, session: Session, business_id: int, endpoint_id: int, reason: str = "Disabled by you."
) -> WebhookEndpoint:
    """Stop sending; events still written for it wait until it is enabled again."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    endpoint.status = EndpointStatus.disabled
    endpoint.disabled_reason = reason
    endpoint.updated_at = utcnow()
    return endpoint


def enable_endpoint(*, session: Session, business_id: int, endpoint_id: int) -> WebhookEndpoint:
    """Send again, starting with what waited; the failure clock starts afresh."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    endpoint.status = EndpointStatus.enabled
    endpoint.disabled_reason = ""
    endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    _wake(session, endpoint)
    return endpoint


def delete_endpoint(*, session: Session, business_id: int, endpoint_id: int) -> None:
    """Delete: nothing more is sent to it; deliveries on their way are dropped."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    endpoint.status = EndpointStatus.deleted
    endpoint.updated_at = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.dropped)
    )


def _wake(session: Session, endpoint: WebhookEndpoint) -> None:
    assert endpoint.id is not None
    enqueue_once(
        session,
        DELIVER_JOB,
        {"endpoint_id": endpoint.id},
        singleton=delivery_job_singleton(endpoint.id),
    )


def send_test_event(*, session: Session, business_id: int, endpoint_id: int) -> WebhookEvent:
    """A `webhook.test` event to this endpoint alone (even if disabled: it
    waits until enabled)."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    event = WebhookEvent(
        business_id=business_id, type=TEST_EVENT, data=test_event_data(endpoint_id)
    )
    session.add(event)
    session.flush()
    queue_delivery(session, endpoint, event)
    return event


def resend_event(
    *, session: Session, business_id: int, endpoint_id: int, event_id: int
) -> WebhookDelivery:
    """Send an event to the endpoint again (with the same webhook-id, so a
    receiver that already has it can tell). NotFound for another business's."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    event = session.get(WebhookEvent, event_id)
    if event is None or event.business_id != business_id:
        raise NotFound("No such event.")
    queue_delivery(session, endpoint, event)
    session.flush()
    return session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == event.id)
        .order_by(WebhookDelivery.id.desc())  # type: ignore[union-attr]
    ).first()  # type: ignore[return-value]


@dataclass(frozen=True)
class LogRow:
    attempt: WebhookAttempt
    delivery: WebhookDelivery
    event: WebhookEvent


def delivery_log(
    *, session: Session, business_id: int, endpoint_id: int, page: int = 1, per_page: int = 50
) -> tuple[list[LogRow], int]:
    """The endpoint's attempts, newest first, with their delivery and event; and the total."""
    endpoint = get_endpoint(session=session, business_id=business_id, endpoint_id=endpoint_id)
    where = WebhookAttempt.endpoint_id == endpoint.id
    total = session.scalar(select(func.count()).select_from(WebhookAttempt).where(where)) or 0
    rows = session.exec(
        select(WebhookAttempt, WebhookDelivery, WebhookEvent)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(where)
        .order_by(WebhookAttempt.id.desc())  # type: ignore[union-attr]
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [LogRow(*row) for row in rows], total


def pending_count(*, session: Session, endpoint_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.pending,
            )
        )
        or 0
    )


def event_payload(event: WebhookEvent) -> dict[str, Any]:
    """What a receiver gets: small and versioned."""
    return {
        "id": message_id(event),
        "type": event.type,
        "api_version": "v1",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def message_id(event: WebhookEvent) -> str:
    """The `webhook-id`: the same on every attempt and every resend."""
    return f"evt_{event.id}"


def prune_log(session: Session, *, cutoff: dt.datetime) -> int:
    """Forget attempts before `cutoff`, and events whose deliveries are all
    settled and older; the number of attempts forgotten."""
    attempts = session.execute(
        delete(WebhookAttempt).where(WebhookAttempt.created_at < cutoff)  # type: ignore[arg-type]
    ).rowcount
    settled = select(WebhookDelivery.id).where(
        WebhookDelivery.created_at < cutoff,
        WebhookDelivery.status != DeliveryStatus.pending,
        ~exists().where(WebhookAttempt.delivery_id == WebhookDelivery.id),
    )
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(settled)))  # type: ignore[union-attr]
    session.execute(
        delete(WebhookEvent).where(
            WebhookEvent.created_at < cutoff,  # type: ignore[arg-type]
            ~exists().where(WebhookDelivery.event_id == WebhookEvent.id),
        )
    )
    return attempts
