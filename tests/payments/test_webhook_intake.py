"""POST /stripe/webhook (the platform endpoint) and /stripe/webhook/connect (the
Connect endpoint, connected accounts' events): only events signed with that
endpoint's secret, of that endpoint's kind and fresh within 300 s either way are
stored; each is stored once under Stripe's id, however
many times (and however concurrently) it arrives, and applied by the worker."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.jobs.models import Job
from referral.payments.models import ConnectedAccount, StripeEvent
from tests.payments.signing import event, signed
from tests.support.factories import make_business, make_user, sign_in
from tests.support.jobs import run_jobs

ACCOUNT = {
    "id": "acct_123",
    "object": "account",
    "charges_enabled": True,
    "payouts_enabled": True,
    "details_submitted": True,
    "requirements": {"currently_due": [], "disabled_reason": None},
}


CUSTOMER = {"id": "cus_1", "object": "customer"}
PLATFORM = "/stripe/webhook"
CONNECT = "/stripe/webhook/connect"


def deliver(app: Flask, body: bytes, header: str | None, at: str = PLATFORM):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return app.test_client().post(at, data=body, headers=headers)


def send_connect(app: Flask, evt: dict):  # type: ignore[no-untyped-def,type-arg]
    return deliver(app, *signed(evt, connect_secret(app)), at=CONNECT)


def stored(db: Session) -> list[StripeEvent]:
    db.expire_all()
    return list(db.exec(select(StripeEvent)).all())


def secret(app: Flask) -> str:
    return str(app.config["STRIPE_WEBHOOK_SECRET"])


def connect_secret(app: Flask) -> str:
    return str(app.config["STRIPE_CONNECT_WEBHOOK_SECRET"])


def test_a_signed_event_is_stored_with_its_job_and_answered_at_once(app, db):
    response = send_connect(app, event("account.updated", ACCOUNT, account="acct_123"))

    assert response.status_code == 200
    assert response.get_json() == {"received": True, "duplicate": False}
    [row] = stored(db)
    assert (row.stripe_event_id, row.type, row.account, row.status) == (
        "evt_1",
        "account.updated",
        "acct_123",
        "received",
    )
    job = db.get(Job, row.job_id)
    assert job is not None and job.kind == "stripe.apply_event"


@pytest.mark.parametrize(
    ("body", "header", "why"),
    [
        (b'{"id": "evt_1"}', "t=1,v1=deadbeef", "forged"),
        (None, "stale", "stale"),
        (None, "future", "future-dated"),
        (b"not json at all", "valid", "malformed"),
        (b'{"id": "evt_1", "type": "x"}', "valid", "not an event"),
        (None, None, "unsigned"),
    ],
)
def test_forged_stale_future_and_malformed_webhooks_are_refused_and_nothing_is_stored(
    app, db, body, header, why
):
    payload = body or event("customer.updated", CUSTOMER)
    now = int(time.time())
    if header == "stale":
        body, header = signed(payload, secret(app), at=now - 301)
    elif header == "future":
        body, header = signed(payload, secret(app), at=now + 900)
    elif header == "valid":
        body, header = signed(payload, secret(app))
    elif header is None:
        body = signed(payload, secret(app))[0]
    elif header.startswith("t=1"):
        body = signed(payload, "whsec_someone_else")[0]
        header = signed(payload, "whsec_someone_else")[1]

    response = deliver(app, body, header)

    assert response.status_code == 400, why
    assert response.get_json()["error"]["code"] == "invalid_webhook"
    assert stored(db) == []
    assert db.exec(select(Job)).first() is None


def test_the_same_event_twice_is_stored_once(app, db):
    body, header = signed(event("customer.updated", CUSTOMER), secret(app))

    first, second = deliver(app, body, header), deliver(app, body, header)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["duplicate"] is True
    assert len(stored(db)) == 1
    assert len(db.exec(select(Job)).all()) == 1


def test_twenty_deliveries_at_once_store_one_event_and_one_job(app, db):
    body, header = signed(event("customer.updated", CUSTOMER), secret(app))
    statuses: list[int] = []
    start = threading.Barrier(20)

    def post() -> None:
        start.wait()
        statuses.append(deliver(app, body, header).status_code)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 20
    assert len(stored(db)) == 1
    assert len(db.exec(select(Job)).all()) == 1


def connected(db: Session) -> ConnectedAccount:
    business = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    account = ConnectedAccount(business_id=business.id, stripe_account_id="acct_123")
    db.add(account)
    db.commit()
    return account


def test_account_updated_applies_the_accounts_own_state(app, db):
    account = connected(db)
    send_connect(app, event("account.updated", ACCOUNT, account="acct_123"))

    run_jobs(app)

    db.refresh(account)
    assert (account.charges_enabled, account.payouts_enabled) == (True, True)
    assert stored(db)[0].status == "applied"


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(app, db):
    account = connected(db)
    now = int(time.time())
    restricted = {
        **ACCOUNT,
        "payouts_enabled": False,
        "requirements": {"currently_due": ["external_account"]},
    }
    send_connect(
        app, event("account.updated", ACCOUNT, event_id="evt_new", created=now, account="acct_123")
    )
    send_connect(
        app,
        event(
            "account.updated", restricted, event_id="evt_old", created=now - 60, account="acct_123"
        ),
    )

    run_jobs(app)

    db.refresh(account)
    assert account.payouts_enabled is True
    notes = {e.stripe_event_id: (e.status, e.note) for e in stored(db)}
    assert notes["evt_old"][0] == "ignored"


def test_events_the_product_does_not_use_are_kept_and_marked_ignored(app, db):
    deliver(app, *signed(event("customer.created", CUSTOMER), secret(app)))

    run_jobs(app)

    assert stored(db)[0].status == "ignored"


@pytest.mark.parametrize(
    ("evt", "signed_with", "at", "why"),
    [
        ("connect", "platform", CONNECT, "the platform's secret at the Connect endpoint"),
        ("platform", "connect", PLATFORM, "the Connect secret at the platform endpoint"),
        ("connect", "connect", PLATFORM, "a connected account's event at the platform endpoint"),
        ("platform", "platform", CONNECT, "a platform event at the Connect endpoint"),
    ],
)
def test_each_endpoint_takes_only_its_own_events_signed_with_its_own_secret(
    app, db, evt, signed_with, at, why
):
    account = "acct_123" if evt == "connect" else None
    keys = {"platform": secret(app), "connect": connect_secret(app)}

    response = deliver(
        app, *signed(event("account.updated", ACCOUNT, account=account), keys[signed_with]), at=at
    )

    assert response.status_code == 400, why
    assert response.get_json()["error"]["code"] == "invalid_webhook"
    assert stored(db) == []


def test_an_event_in_another_api_version_is_refused_logged_and_shown_to_the_operator(
    app, db, caplog
):
    account = connected(db)
    operator = make_user(db, make_business(db, name="Ops", trade="hvac", zip_code="78702"))
    operator.is_operator = True
    db.commit()
    send_connect(
        app, event("account.updated", ACCOUNT, account="acct_123", api_version="2024-06-20")
    )

    run_jobs(app)

    db.refresh(account)
    assert account.charges_enabled is False  # not applied
    [row] = stored(db)
    assert row.status == "refused"
    assert "2024-06-20" in row.note
    assert any(
        "refused" in record.getMessage() and "2024-06-20" in record.getMessage()
        for record in caplog.records
    )
    page = sign_in(app, operator).get("/operator/payments").get_data(as_text=True)
    assert "wrong API version" in page and "evt_1" in page


def test_the_fields_handlers_read_are_checked_against_stripe_pythons_resources(
    app, db, stripe_field_reads
):
    from tests.support.stripe_fields import unknown_fields

    account = connected(db)
    send_connect(app, event("account.updated", ACCOUNT, account="acct_123"))

    run_jobs(app)

    db.refresh(account)
    assert ("account", "requirements", "currently_due") in stripe_field_reads.paths
    assert unknown_fields(stripe_field_reads.paths) == []
    assert unknown_fields([("account", "requirments"), ("charge", "amount_refundd")]) == [
        "account.requirments",
        "charge.amount_refundd",
    ]
