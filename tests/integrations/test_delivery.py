"""Outgoing webhooks, end to end: events written with their change, signed per
Standard Webhooks, delivered by the job worker to a real receiver on loopback,
in order, at least once, each webhook-id the same on every attempt."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

from flask import Flask
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from referral import events
from referral.db import utcnow
from referral.events.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from referral.integrations import services
from referral.integrations.delivery import backoff, deliver_next, hold_endpoint, let_go
from referral.jobs.models import Job
from referral.jobs.worker import run_worker
from referral.referrals import services as referrals
from tests.support.integrations import CUSTOMER, Party, add_endpoint, refer
from tests.support.jobs import run_jobs
from tests.support.mail import queued_emails
from tests.support.webhook_receiver import Receiver, payload_text


def test_a_referral_lifecycle_reaches_both_businesses_signed_in_order_without_personal_data(
    app: Flask, db: Session, hvac: Party, plumber: Party, customer_id: int, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    assert endpoint["secret"].startswith("whsec_")

    referral = refer(app, db, hvac, plumber, customer_id)
    with app.app_context():
        referrals.accept_referral(session=db, actor=plumber.actor, referral_id=referral.id)
        db.commit()
        referrals.report_won(
            session=db,
            actor=plumber.actor,
            referral_id=referral.id,
            job_value_cents=480_000,
            job_date=dt.date(2026, 11, 25),
        )
        db.commit()
    run_jobs(app)

    assert receiver.rejected == 0
    assert receiver.types() == [
        "consent.given",
        "referral.received",
        "referral.accepted",
        "referral.won",
    ]
    won = receiver.events()[-1]
    assert won["data"] == {
        "referral_id": referral.id,
        "status": "won",
        "sender_id": hvac.business_id,
        "receiver_id": plumber.business_id,
        "partnership_id": referral.partnership_id,
        "job_value_cents": 480_000,
        "url": f"/api/v1/referrals/{referral.id}",
    }
    assert won["api_version"] == "v1" and won["created_at"].endswith("Z")
    for request in receiver.requests:
        assert request["headers"]["webhook-id"] == request["payload"]["id"]
        assert request["headers"]["webhook-signature"].startswith("v1,")
    text = payload_text(receiver)
    assert not any(value in text for value in CUSTOMER.values())

    log = app.test_client().get(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/attempts", headers=plumber.headers()
    )
    assert log.status_code == 200 and log.json["total"] == 4
    assert {(a["status_code"], a["succeeded"], a["number"]) for a in log.json["items"]} == {
        (200, True, 1)
    }


def test_a_business_without_endpoints_stores_no_events(
    app: Flask, db: Session, hvac: Party, plumber: Party, customer_id: int
) -> None:
    refer(app, db, hvac, plumber, customer_id)
    assert db.exec(select(WebhookEvent)).all() == []


def test_an_event_rolls_back_with_its_change(
    app: Flask, db: Session, hvac: Party, plumber: Party, customer_id: int, receiver: Receiver
) -> None:
    add_endpoint(app, plumber, receiver)
    referral = refer(app, db, hvac, plumber, customer_id)
    before = len(db.exec(select(WebhookEvent)).all())
    with app.app_context():
        referrals.accept_referral(session=db, actor=plumber.actor, referral_id=referral.id)
        db.rollback()  # the request failed after the change
    assert len(db.exec(select(WebhookEvent)).all()) == before
    run_jobs(app)
    assert "referral.accepted" not in receiver.types()


def test_a_receiver_failing_half_the_time_gets_every_event_once_in_order_one_at_a_time(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    receiver.behaviour = "flaky"
    with app.app_context():
        sent = [
            services.send_test_event(
                session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
            )
            for _ in range(12)
        ]
        db.commit()
    ids = [services.message_id(event) for event in sent]

    stop = threading.Event()
    workers = [
        threading.Thread(target=run_worker, args=(app, stop), kwargs={"poll_interval": 0.05})
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 60
    while len(receiver.processed) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for worker in workers:
        worker.join()

    assert list(receiver.processed) == ids  # every event, in the order written
    assert receiver.processed_twice == []
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == set(ids)
    assert len(receiver.requests) > len(ids)  # retried, with the same ids
    assert receiver.max_concurrent == 1
    db.expire_all()
    deliveries = db.exec(select(WebhookDelivery)).all()
    assert {d.status for d in deliveries} == {DeliveryStatus.delivered}
    attempts = db.exec(select(WebhookAttempt)).all()
    assert len(attempts) == len(receiver.requests)


def test_410_disables_the_endpoint_and_emails_its_owner(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    receiver.behaviour = 410
    with app.app_context():
        services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        db.commit()
    run_jobs(app)

    stored = db.get(WebhookEndpoint, endpoint["id"])
    db.refresh(stored)
    assert stored.status == EndpointStatus.disabled and "410" in stored.disabled_reason
    assert len(receiver.requests) == 1
    (email,) = [e for e in queued_emails(db, to=plumber.email) if "webhook" in e.subject]
    assert "disabled" in email.subject and receiver.url in email.text

    receiver.behaviour = 200  # fixed: enabled again, the event waiting goes out
    response = app.test_client().post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/enable", headers=plumber.headers()
    )
    assert response.status_code == 200 and response.json["status"] == "enabled"
    run_jobs(app)
    assert receiver.types() == ["webhook.test"]


def test_redirects_are_not_followed_and_huge_answers_are_cut(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    receiver.behaviour = 302
    with app.app_context():
        services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        db.commit()
        endpoint_id = endpoint["id"]
        engine = app.extensions["db_engine"]
        deliver_next(engine, endpoint_id)
        receiver.behaviour, receiver.body = 200, b"x" * (10 * 1024 * 1024)
        deliver_next(engine, endpoint_id)

    first, second = db.exec(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert (first.status_code, first.succeeded) == (302, False)
    assert "not followed" in first.error
    assert (second.status_code, second.succeeded) == (200, True)
    assert second.response_excerpt == "x" * 1024
    assert len(receiver.requests) == 2  # nothing went to the redirect's target


def test_after_a_rotation_both_secrets_verify_for_a_day(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    old_secret = endpoint["secret"]
    rotated = app.test_client().post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=plumber.headers()
    )
    assert rotated.status_code == 200
    new_secret = rotated.json["secret"]
    assert new_secret != old_secret and rotated.json["previous_secret_expires_at"]
    with app.app_context():
        services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        db.commit()
    run_jobs(app)  # the receiver still has the old secret
    assert receiver.types() == ["webhook.test"]
    request = receiver.requests[0]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    raw = services.event_payload(db.exec(select(WebhookEvent)).one())
    text = json.dumps(raw, separators=(",", ":"))
    for secret in (old_secret, new_secret):
        assert Webhook(secret).verify(text, request["headers"]) == raw

    stored = db.get(WebhookEndpoint, endpoint["id"])
    db.refresh(stored)
    later = utcnow() + dt.timedelta(hours=25)
    assert services.signing_secrets(stored, now=later) == [new_secret]


def test_an_endpoint_deleted_before_delivery_drops_its_events(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    with app.app_context():
        services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        db.commit()
    deleted = app.test_client().delete(
        f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=plumber.headers()
    )
    assert deleted.status_code == 204
    run_jobs(app)
    assert receiver.requests == []
    assert db.exec(select(WebhookDelivery.status)).all() == [DeliveryStatus.dropped]
    gone = app.test_client().get(
        f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=plumber.headers()
    )
    assert gone.status_code == 404


def test_retries_spread_over_three_days_then_the_endpoint_is_disabled(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    delays = [backoff(n, base_seconds=5).total_seconds() for n in range(1, 16)]
    assert delays[0] <= 6 and delays[3] < 10 * 60  # quick at first
    assert max(delays) <= 12 * 3600 * 1.2  # then twice a day
    assert sum(delays) > 3 * 86400  # fifteen attempts span the three days

    endpoint = add_endpoint(app, plumber, receiver)
    receiver.behaviour = 503
    with app.app_context():
        event = services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        stored = db.get(WebhookEndpoint, endpoint["id"])
        three_days_ago = utcnow() - dt.timedelta(hours=73)
        stored.failing_since = event.created_at = three_days_ago
        db.commit()
        deliver_next(app.extensions["db_engine"], endpoint["id"])

    db.expire_all()
    assert db.get(WebhookEndpoint, endpoint["id"]).status == EndpointStatus.disabled
    assert db.exec(select(WebhookDelivery.status)).all() == [DeliveryStatus.failed]
    assert [e for e in queued_emails(db, to=plumber.email) if "webhook" in e.subject]


def test_the_address_is_checked_again_at_each_delivery(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    with app.app_context():
        services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        db.commit()
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False  # as if its DNS now pointed home
    with app.app_context():
        deliver_next(app.extensions["db_engine"], endpoint["id"])
    attempt = db.exec(select(WebhookAttempt)).one()
    assert attempt.status_code is None and "loopback" in attempt.error
    assert receiver.requests == []


def test_one_job_per_endpoint_is_queued_however_many_events(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    with app.app_context():
        for _ in range(3):
            services.send_test_event(
                session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
            )
        db.commit()
    jobs = db.exec(select(Job).where(Job.kind == events.DELIVER_JOB)).all()
    assert [job.singleton for job in jobs] == [events.delivery_job_singleton(endpoint["id"])]


def test_no_more_endpoints_are_sent_to_at_once_than_the_global_cap(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    first, second, third = (add_endpoint(app, plumber, receiver)["id"] for _ in range(3))
    engine = db.get_bind()

    assert hold_endpoint(engine, first, seconds=30, most_at_once=2)
    assert hold_endpoint(engine, second, seconds=30, most_at_once=2)
    assert not hold_endpoint(engine, third, seconds=30, most_at_once=2)  # two are sending
    assert not hold_endpoint(engine, first, seconds=30, most_at_once=5)  # held by its worker

    let_go(engine, first)
    assert hold_endpoint(engine, third, seconds=30, most_at_once=2)


def test_an_endpoint_over_the_cap_is_delivered_once_a_place_is_free(
    app: Flask, db: Session, plumber: Party, receiver: Receiver
) -> None:
    app.config["WEBHOOK_MAX_SENDING_ENDPOINTS"] = 1
    busy = add_endpoint(app, plumber, receiver)["id"]
    waiting = add_endpoint(app, plumber, receiver)["id"]  # the receiver checks its signatures
    with app.app_context():
        services.send_test_event(session=db, business_id=plumber.business_id, endpoint_id=waiting)
        db.commit()
    engine = db.get_bind()
    assert hold_endpoint(engine, busy, seconds=30, most_at_once=1)  # another worker sends to it

    run_jobs(app)
    assert receiver.events() == []  # it waits: its job is queued again, nothing lost
    again = db.exec(select(Job).where(Job.kind == events.DELIVER_JOB, Job.status == "queued")).one()

    let_go(engine, busy)
    again.run_at = utcnow()  # its retry falls due
    db.add(again)
    db.commit()
    run_jobs(app)
    assert receiver.types() == ["webhook.test"]
