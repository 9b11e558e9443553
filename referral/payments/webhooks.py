"""Stripe webhooks: verify, store under Stripe's event id, apply later.

Intake does as little as possible so Stripe gets its 2xx at once: the event is
stored with its application job in one transaction (on PostgreSQL, one
statement), and the unique event id turns every duplicate delivery (20 at once
included) into a no-op without an error or a savepoint.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app
from sqlalchemy import JSON, Engine, Integer, bindparam, column, insert, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from referral.db import UTCDateTime, commits_itself, utcnow
from referral.errors import NotFound
from referral.jobs.models import Job
from referral.jobs.queue import enqueue
from referral.payments import events as payment_events
from referral.payments import gateway, services
from referral.payments.models import StripeEvent

APPLY_STRIPE_EVENT = "stripe.apply_event"

log = logging.getLogger(__name__)


def receive(
    engine: Engine, payload: bytes, signature: str | None, *, endpoint: str = "platform"
) -> tuple[int, bool]:
    """Verify an event with the secret of the endpoint it came to ("platform" or
    "connect") and store it with the job that will apply it; returns the stored
    event's id and False when the event was stored before.
    Raises gateway.InvalidWebhook, and then nothing is stored.

    The store commits on its own connection, before the answer to Stripe: the
    event and its job together, or neither (a duplicate delivery)."""
    data = gateway.verify_webhook(payload, signature, endpoint=endpoint)
    obj = data["data"]["object"]
    now = utcnow()
    values = {
        "now": now,
        "stripe_event_id": data["id"],
        "type": data["type"],
        "account": data.get("account"),
        "object_id": obj.get("id") if isinstance(obj.get("id"), str) else None,
        "event_created": dt.datetime.fromtimestamp(int(data.get("created") or 0), dt.UTC),
        "payload": data,
        "kind": APPLY_STRIPE_EVENT,
        "max_attempts": current_app.config.get("JOB_MAX_ATTEMPTS", 8),
    }
    if engine.dialect.name == "postgresql":
        stored_id = _store_in_one_statement(engine, values)
    else:
        stored_id = _store_under_write_lock(engine, values)
    if stored_id is not None:
        return stored_id, True
    with engine.connect() as connection:
        existing = connection.scalar(
            select(StripeEvent.id).where(StripeEvent.stripe_event_id == data["id"])
        )
    assert existing is not None
    return existing, False


_TYPED = (
    bindparam("now", type_=UTCDateTime),
    bindparam("event_created", type_=UTCDateTime),
    bindparam("payload", type_=JSON),
)

# PostgreSQL: the job's id is drawn first, so the event row can name its job and
# the job's payload its event in one atomic statement (one round trip, no BEGIN);
# ON CONFLICT turns a duplicate delivery into no rows at all.
_STORE_EVENT_AND_JOB = commits_itself(
    text(
        """
    WITH new_job AS (SELECT nextval(pg_get_serial_sequence('job', 'id')) AS id),
    stored AS (
        INSERT INTO stripe_event (created_at, stripe_event_id, type, account, object_id,
                                  event_created, payload, status, job_id, note)
        SELECT :now, :stripe_event_id, :type, :account, :object_id,
               :event_created, :payload, 'received', new_job.id, ''
        FROM new_job
        ON CONFLICT (stripe_event_id) DO NOTHING
        RETURNING id, job_id
    )
    INSERT INTO job (id, created_at, kind, payload, status, attempts, max_attempts, run_at,
                     last_error)
    SELECT stored.job_id, :now, :kind, json_build_object('event_id', stored.id), 'queued', 0,
           :max_attempts, :now, ''
    FROM stored
    RETURNING (payload->>'event_id')::integer
    """
    )
    .bindparams(*_TYPED)
    # Its one column named: the result's description is then kept with the
    # compiled statement instead of being read from the cursor each time.
    .columns(column("event_id", Integer))
)


def _store_in_one_statement(engine: Engine, values: dict[str, Any]) -> int | None:
    # On the request engine the statement commits itself (its COMMIT sends
    # nothing); on another engine it gets a transaction of its own.
    with engine.begin() as connection:
        return connection.execute(_STORE_EVENT_AND_JOB, values).scalar()  # type: ignore[no-any-return]


def _store_under_write_lock(engine: Engine, values: dict[str, Any]) -> int | None:
    """SQLite has no INSERT in a WITH clause: three statements under one write lock."""
    event_row = sqlite_insert(StripeEvent.__table__).values(
        created_at=values["now"],
        stripe_event_id=values["stripe_event_id"],
        type=values["type"],
        account=values["account"],
        object_id=values["object_id"],
        event_created=values["event_created"],
        payload=values["payload"],
        status="received",
        note="",
    )
    with engine.begin() as connection:
        event_id = connection.scalar(
            event_row.on_conflict_do_nothing(index_elements=["stripe_event_id"]).returning(
                StripeEvent.id
            )
        )
        if event_id is None:
            return None
        job_id = connection.scalar(
            insert(Job.__table__)
            .values(
                created_at=values["now"],
                kind=values["kind"],
                payload={"event_id": event_id},
                status="queued",
                attempts=0,
                max_attempts=values["max_attempts"],
                run_at=values["now"],
                last_error="",
            )
            .returning(Job.id)
        )
        connection.execute(
            update(StripeEvent).where(StripeEvent.id == event_id).values(job_id=job_id)
        )
    return event_id  # type: ignore[no-any-return]


@payment_events.stripe_handler("account.updated")
def _account_updated(session: Session, obj: dict[str, Any], as_of: dt.datetime) -> str:
    return services.apply_account_update(session, obj, as_of=as_of)


@payment_events.stripe_handler("checkout.session.completed")
def _checkout_completed(session: Session, obj: dict[str, Any], as_of: dt.datetime) -> str | None:
    return services.apply_checkout_completed(session, obj, as_of=as_of)


# Where Stripe sends each handled event: connected accounts' events only to the
# Connect endpoint, the platform's own only to the platform endpoint.
CONNECT_EVENTS = ("account.updated",)


def platform_events() -> list[str]:
    """The events the platform endpoint asks for: every one a domain handles
    (their `reactions` modules registered them) but the Connect ones."""
    return [t for t in payment_events.handled_event_types() if t not in CONNECT_EVENTS]


def endpoint_events() -> dict[str, list[str]]:
    """What each webhook endpoint ("platform", "connect") asks Stripe for.
    `referral stripe setup` registers the endpoints so, and the stand-in's are
    configured the same way (the demo, the soak): Stripe sends an endpoint only
    the events it asks for, about a third of all it could (a charge alone makes
    five, of which one is handled)."""
    return {"platform": platform_events(), "connect": list(CONNECT_EVENTS)}


def apply(session: Session, event: StripeEvent) -> None:
    """Apply a stored event once. Handlers apply the object's own state, so an
    event arriving late or out of order cannot undo a newer one."""
    if event.status != "received":
        return
    assert event.payload is not None  # pruned only once applied
    version = event.payload.get("api_version")
    if version != gateway.API_VERSION:
        # Handlers read fields as this version shapes them: a payload in another
        # version could be misread. The operator page lists it (an alert).
        log.error(
            "Stripe event %s (%s) refused: rendered in API version %s, the app speaks %s; "
            "set the webhook endpoint's version to %s (referral stripe setup)",
            event.stripe_event_id,
            event.type,
            version,
            gateway.API_VERSION,
            gateway.API_VERSION,
        )
        event.status, event.applied_at = "refused", utcnow()
        event.note = f"refused: API version {version}, expected {gateway.API_VERSION}"
        return
    obj = event.payload["data"]["object"]
    note = payment_events.dispatch(session, event.type, obj, event.event_created)
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


def refused_events(session: Session, *, limit: int = 100) -> list[StripeEvent]:
    """Events refused for their API version: the operator's alert."""
    return list(
        session.exec(
            select(StripeEvent)
            .where(StripeEvent.status == "refused")
            .order_by(StripeEvent.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )


def replay(session: Session, event_id: int) -> StripeEvent:
    """Queue a failed event again (the operator's replay button)."""
    event = session.get(StripeEvent, event_id)
    if event is None:
        raise NotFound("No such event.")
    if event.status == "received":
        job = enqueue(session, APPLY_STRIPE_EVENT, {"event_id": event.id})
        session.flush()
        event.job_id = job.id
    return event
