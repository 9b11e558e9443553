"""The operator sees webhook events whose application gave up, with their
error, and can replay them; the app refuses to run real Stripe unverified."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral import create_app
from referral.config import TestConfig
from referral.jobs.models import Job
from referral.payments.models import BillingProfile, StripeEvent
from tests.payments.signing import event, signed
from tests.support.factories import make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.payments import WEBHOOK_SECRET


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # Stripe is unreachable (nothing listens there): applying a card setup fails.
    return {
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JOB_MAX_ATTEMPTS": 1,
        "STRIPE_TIMEOUT_SECONDS": 1,
    }


def test_a_failed_event_is_listed_with_its_error_and_can_be_replayed(app: Flask, db: Session):
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    db.add(BillingProfile(business_id=business.id, stripe_customer_id="cus_1"))
    operator = make_user(db, business, email="ops@referral.example")
    operator.is_operator = True
    db.commit()
    completed = {"id": "cs_1", "object": "checkout.session", "mode": "setup", "customer": "cus_1"}
    body, header = signed(event("checkout.session.completed", completed), WEBHOOK_SECRET)
    app.test_client().post("/stripe/webhook", data=body, headers={"Stripe-Signature": header})

    run_jobs(app, allow_failures=True)

    client = sign_in(app, operator)
    page = client.get("/operator/payments").get_data(as_text=True)
    assert "checkout.session.completed" in page and "evt_1" in page
    assert "PaymentsUnavailable" in page  # the end of the error, shown to the operator
    [stored] = db.exec(select(StripeEvent)).all()
    response = client.post_form(
        f"/operator/payments/events/{stored.id}/replay", {}, page="/operator/payments"
    )
    assert response.status_code == 302
    db.expire_all()
    queued = db.exec(select(Job).where(Job.status == "queued")).all()
    assert [job.payload for job in queued] == [{"event_id": stored.id}]


def test_the_failed_events_page_is_for_operators_only(app: Flask, db: Session):
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    owner = make_user(db, business, email="owner@drip.example")
    db.commit()

    assert sign_in(app, owner).get("/operator/payments").status_code == 404


def test_real_stripe_without_a_webhook_secret_refuses_to_start():
    with pytest.raises(RuntimeError, match="STRIPE_WEBHOOK_SECRET"):
        create_app(
            TestConfig(
                STRIPE_SECRET_KEY="sk_live_example",
                STRIPE_API_BASE=None,
                STRIPE_WEBHOOK_SECRET=None,
            )
        )


def test_forms_may_go_on_to_stripes_hosted_pages_and_nowhere_else(app: Flask):
    from referral.security import content_security_policy

    policy = app.test_client().get("/login").headers["Content-Security-Policy"]

    assert "form-action 'self' http://127.0.0.1:9;" in policy  # the stand-in of this app
    assert "form-action 'self' https://connect.stripe.com https://checkout.stripe.com" in (
        content_security_policy(None)  # real Stripe
    )
