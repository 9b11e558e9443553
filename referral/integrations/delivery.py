"""Delivering webhooks: the job that sends an endpoint's events, one at a time
and in order, signed per the Standard Webhooks specification.

One job per endpoint (`webhooks.deliver`, at most one queued) works through
its pending deliveries oldest first. A worker holds the endpoint
(`busy_until`) while it sends, so however many workers run, an endpoint
receives one request at a time and events in the order they happened; a slow
endpoint holds up only its own queue. At most WEBHOOK_MAX_SENDING_ENDPOINTS
endpoints are held at once across all workers, so slow receivers never take
every worker from email, settlements and the rest of the queue.

Each attempt is committed on its own, before the next: a worker killed during
a request leaves the delivery pending, and the job runs again (its lease
lapses) with the same `webhook-id`. At least once, then.

- 2xx: delivered. 410 Gone: the endpoint is disabled.
- Anything else (other statuses, redirects, timeouts, refused addresses):
  tried again after an exponential backoff with jitter; after
  WEBHOOK_RETRY_HOURS (3 days) the delivery fails, and an endpoint failing for
  that long is disabled and its owners emailed.
- The URL is resolved and checked again before every attempt; redirects are
  not followed; at most 64 KB of an answer is read and 1 KB kept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import Engine, func, or_, text, update
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from referral.auth.models import User
from referral.businesses.models import Business
from referral.db import utcnow
from referral.events import DELIVER_JOB, delivery_job_singleton
from referral.events.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from referral.integrations.outbound import UnsafeUrl, check_url
from referral.integrations.services import event_payload, message_id, signing_secrets
from referral.jobs.queue import enqueue_once, job_handler
from referral.mail.services import queue_email

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 1024
# How long one job keeps sending before it hands over to a fresh job (and so
# lets other endpoints' jobs and other kinds of work have a worker).
JOB_BUDGET_SECONDS = 10
# Deliveries read at a time.
BATCH = 50
USER_AGENT = "Referral-Webhooks/1"


def backoff(attempts: int, *, base_seconds: float) -> dt.timedelta:
    """5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 6 h, then every 12 h (by default),
    each ±20% so endpoints that failed together do not retry together."""
    seconds = min(12 * 3600, base_seconds * 4 ** max(0, attempts - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(endpoint_secrets: list[str], msg_id: str, timestamp: dt.datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,` signature per secret."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in endpoint_secrets)


def signed_headers(
    endpoint_secrets: list[str], msg_id: str, body: str, *, now: dt.datetime | None = None
) -> dict[str, str]:
    now = now or utcnow()
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(endpoint_secrets, msg_id, now, body),
    }


def post(url: str, body: str, headers: dict[str, str], *, allow_loopback: bool) -> Answer:
    """One signed POST, checked and bounded as the module says."""
    started = time.monotonic()

    def answer(status: int | None, excerpt: str = "", error: str = "") -> Answer:
        elapsed = int((time.monotonic() - started) * 1000)
        return Answer(status, elapsed, excerpt[:EXCERPT_CHARS], error[:500])

    try:
        check_url(url, allow_loopback=allow_loopback)
    except UnsafeUrl as exc:
        return answer(None, error=f"Refused: {exc}")
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    import requests  # here: only job workers deliver, and it weighs about 18 MiB

    try:
        with requests.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            content = _read_at_most(response, MAX_RESPONSE_BYTES, deadline=started + timeout)
            excerpt = content.decode(response.encoding or "utf-8", errors="replace")
            if response.is_redirect:
                where = response.headers.get("location", "")
                return answer(response.status_code, excerpt, f"Redirect to {where} not followed.")
            return answer(response.status_code, excerpt)
    except requests.Timeout:
        return answer(None, error=f"No answer within {timeout} s.")
    except requests.RequestException as exc:
        return answer(None, error=f"{type(exc).__name__}: could not connect.")


def _read_at_most(response: requests.Response, limit: int, *, deadline: float) -> bytes:
    """Up to `limit` bytes of the body; the rest is never read (the connection closes)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:limit]


# --- the job ---------------------------------------------------------------------


# Serialises taking endpoints on PostgreSQL, so two workers cannot both count
# one free place under the cap (SQLite serialises every write already).
HOLD_LOCK_KEY = 0x5EB400C


def hold_endpoint(engine: Engine, endpoint_id: int, *, seconds: float, most_at_once: int) -> bool:
    """Take the endpoint for this worker for `seconds`; False when another
    worker holds it, or when `most_at_once` other endpoints are being sent to."""
    now = utcnow()
    sending = (
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.busy_until >= now, WebhookEndpoint.id != endpoint_id)  # type: ignore[operator, arg-type]
        .scalar_subquery()
    )
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": HOLD_LOCK_KEY})
        return (
            connection.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == endpoint_id,
                    or_(WebhookEndpoint.busy_until.is_(None), WebhookEndpoint.busy_until < now),  # type: ignore[union-attr]
                    sending < most_at_once,
                )
                .values(busy_until=now + dt.timedelta(seconds=seconds))
            ).rowcount
            == 1
        )


def let_go(engine: Engine, endpoint_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(busy_until=None)
        )


@job_handler(DELIVER_JOB)
def deliver_to_endpoint(session: Session, payload: dict[str, Any]) -> None:
    """Send the endpoint's due deliveries in order, for up to JOB_BUDGET_SECONDS;
    queue itself again for what is left."""
    endpoint_id = int(payload["endpoint_id"])
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    most_at_once = current_app.config["WEBHOOK_MAX_SENDING_ENDPOINTS"]
    if not hold_endpoint(engine, endpoint_id, seconds=hold_seconds(), most_at_once=most_at_once):
        # Another worker is sending to it, or enough endpoints are being sent
        # to: look again shortly (a holder may stop before seeing what woke this job).
        _again(session, endpoint_id, utcnow() + dt.timedelta(seconds=2))
        return
    next_at: dt.datetime | None = None
    try:
        started = time.monotonic()
        while time.monotonic() - started < JOB_BUDGET_SECONDS:
            next_at = deliver_next(engine, endpoint_id, limit=BATCH)
            if next_at is None or next_at > utcnow():
                break
    finally:
        let_go(engine, endpoint_id)
    if next_at is not None:
        _again(session, endpoint_id, next_at)


def hold_seconds() -> int:
    """How long a worker holds an endpoint per request: longer than one request
    can take (connecting and reading each have the timeout), short enough that
    a killed worker's hold soon lapses."""
    return 2 * int(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]) + 5


def _again(session: Session, endpoint_id: int, run_at: dt.datetime) -> None:
    enqueue_once(
        session,
        DELIVER_JOB,
        {"endpoint_id": endpoint_id},
        singleton=delivery_job_singleton(endpoint_id),
        run_at=run_at,
    )


def deliver_next(engine: Engine, endpoint_id: int, *, limit: int = 1) -> dt.datetime | None:
    """Try up to `limit` of the endpoint's pending deliveries, oldest first,
    while they are due and succeed; when the next try is due (now, if more
    wait), or None when nothing waits.

    The endpoint and its next deliveries are read once; each attempt then
    commits its outcome (and the worker's renewed hold on the endpoint) in one
    short transaction, and no transaction is open during a request."""
    config = current_app.config
    hold = dt.timedelta(seconds=hold_seconds())
    with Session(engine, expire_on_commit=False) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.status == EndpointStatus.deleted:
            _drop_pending(session, endpoint_id)
            return None
        if endpoint.status != EndpointStatus.enabled:
            return None  # waits until enabled again
        batch = session.exec(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)  # type: ignore[arg-type]
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.pending,
            )
            .order_by(WebhookDelivery.id)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
        session.commit()  # ends the read; the objects stay loaded
        for delivery, event in batch:
            now = utcnow()
            if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
                return delivery.next_attempt_at
            body = json.dumps(event_payload(event), separators=(",", ":"))
            headers = signed_headers(signing_secrets(endpoint, now=now), message_id(event), body)
            answer = post(
                endpoint.url, body, headers, allow_loopback=config["WEBHOOK_ALLOW_LOOPBACK"]
            )
            _record(session, endpoint, delivery, event, answer, config)
            endpoint.busy_until = utcnow() + hold
            session.commit()
            if endpoint.status != EndpointStatus.enabled:
                return None
            if delivery.status == DeliveryStatus.pending:  # to be tried again: it goes first
                return delivery.next_attempt_at
        return utcnow() if batch else None


def _record(
    session: Session,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    event: WebhookEvent,
    answer: Answer,
    config: Any,
) -> None:
    assert endpoint.id is not None and delivery.id is not None
    now = utcnow()
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            number=delivery.attempts,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            response_excerpt=answer.excerpt,
            error=answer.error,
            succeeded=answer.succeeded,
        )
    )
    log.info(
        "webhook %s to endpoint %s, attempt %s: %s in %s ms",
        message_id(event),
        endpoint.id,
        delivery.attempts,
        answer.status_code or "no answer",
        answer.duration_ms,
    )
    if answer.succeeded:
        delivery.status = DeliveryStatus.delivered
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.failing_since = None
        return
    window = dt.timedelta(hours=config["WEBHOOK_RETRY_HOURS"])
    endpoint.failing_since = endpoint.failing_since or now
    if answer.status_code == 410:
        _disable(session, endpoint, "The endpoint answered 410 Gone.")
        delivery.next_attempt_at = now  # waits for the endpoint to be enabled again
        return
    if now - event.created_at >= window:
        delivery.status = DeliveryStatus.failed
    else:
        delivery.next_attempt_at = now + backoff(
            delivery.attempts, base_seconds=config["WEBHOOK_RETRY_BASE_SECONDS"]
        )
    if now - endpoint.failing_since >= window:
        hours = config["WEBHOOK_RETRY_HOURS"]
        _disable(session, endpoint, f"Every delivery failed for {hours} hours.")


def _disable(session: Session, endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.status = EndpointStatus.disabled
    endpoint.disabled_reason = reason
    endpoint.updated_at = utcnow()
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
    business = session.get(Business, endpoint.business_id)
    owners = session.exec(
        select(User).where(
            User.business_id == endpoint.business_id,
            User.role == "owner",
            User.disabled_at.is_(None),  # type: ignore[union-attr]
        )
    ).all()
    for owner in owners:
        queue_email(
            session,
            to=owner.email,
            subject="A webhook endpoint was disabled",
            template="webhook_disabled",
            user=owner,
            business=business,
            endpoint=endpoint,
            reason=reason,
            link=f"{current_app.config['BASE_URL']}/settings/webhooks/{endpoint.id}",
        )


def _drop_pending(session: Session, endpoint_id: int) -> None:
    dropped = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.dropped)
    ).rowcount
    session.commit()
    if dropped:
        log.info("webhook endpoint %s is gone: %s deliveries dropped", endpoint_id, dropped)
