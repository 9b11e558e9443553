"""Each way Stripe says no to a settlement charge is told apart and handled for
what it is: a card declined (retry on a schedule, ask for another card), a bank
asking for authentication (wait for the debtor on Stripe's page), a destination
that cannot receive (the creditor finishes onboarding: the only case that says
so), our request refused (the operator looks, nobody is told to onboard) and
Stripe unavailable or rate limited (retried later with the same key)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.commissions.models import Commission
from referral.jobs.models import Job
from referral.notifications.models import Notification
from referral.payments.models import BillingProfile
from referral.settlements import services as settlements
from referral.settlements.models import Settlement
from tests.support.factories import business, partner_up, percent, won_referral
from tests.support.jobs import run_jobs
from tests.support.payments import TEST_CARD, connect_onboarded_account, save_card
from tests.support.stripe_standin import StripeStandIn


@pytest.fixture
def world(app: Flask, db: Session, standin: StripeStandIn):  # type: ignore[no-untyped-def]
    """HVAC is owed $100.00 by the plumber; both are set up on the stand-in."""
    with app.app_context():
        hvac = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
        plumber = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        won_referral(db, hvac, plumber, 100_000)
    account = connect_onboarded_account(db, standin, hvac.business_id)
    save_card(db, standin, plumber.business_id, "blair@drip.example")
    db.commit()
    return hvac, plumber, account


def settle(app: Flask, db: Session, *, allow_failures: bool = False) -> Settlement:
    with app.app_context():
        settlements.build_settlements(db)
        db.commit()
    run_jobs(app, allow_failures=allow_failures)
    db.expire_all()
    return db.exec(select(Settlement)).one()


def settlement_news(db: Session, business_id: int) -> list[str]:
    """The kinds of settlement notifications the business got."""
    told = db.exec(select(Notification).where(Notification.business_id == business_id))
    return [n.kind for n in told if n.kind.startswith("settlement.")]


def test_a_destination_that_cannot_receive_waits_for_the_creditor_to_onboard(
    app, db, standin, world
):
    hvac, plumber, account = world
    standin.client().v1.accounts.update(
        account, params={"capabilities": {"transfers": {"requested": False}}}
    )

    settlement = settle(app, db)

    assert (settlement.status, settlement.waiting_reason) == ("waiting", "creditor_not_onboarded")
    assert "transfers" in settlement.last_error
    assert "settlement.waiting" in settlement_news(db, hvac.business_id)


def test_a_request_stripe_refuses_fails_for_the_operator_and_tells_nobody_to_onboard(
    app, db, standin, world
):
    hvac, plumber, _account = world
    db.execute(update(BillingProfile).values(payment_method_id="pm_gone"))
    db.commit()

    settlement = settle(app, db)

    assert settlement.status == "failed"
    assert settlement.last_error.startswith("Stripe refused our request")
    assert settlement_news(db, hvac.business_id) == []
    assert settlement_news(db, plumber.business_id) == []
    assert db.exec(select(Commission)).one().status == "approved"  # goes to the next one


def test_a_rate_limited_charge_is_retried_later_with_the_same_namespaced_key(
    app, db, standin, world
):
    standin.add_fault("rate_limit", path_prefix="/v1/payment_intents", should_retry=False)

    settlement = settle(app, db, allow_failures=True)

    assert settlement.status == "processing" and settlement.payment_intent_id is None
    charge_job = db.exec(select(Job).where(Job.kind == settlements.CHARGE_SETTLEMENT)).one()
    assert charge_job.status == "queued" and "PaymentsUnavailable" in charge_job.last_error
    db.execute(update(Job).values(run_at=dt.datetime.now(dt.UTC)))  # its backoff is over
    db.commit()
    run_jobs(app)

    db.expire_all()
    settlement = db.exec(select(Settlement)).one()
    [intent] = standin.client().v1.payment_intents.list().data
    assert settlement.payment_intent_id == intent.id
    [created] = standin.client().v1.events.list(params={"type": "payment_intent.created"}).data
    key = created.request.idempotency_key
    assert key.startswith(
        f"{app.config['STRIPE_INSTALL_ID']}-settlement-{settlement.id}-attempt-1-"
    )


def test_a_charge_job_run_again_after_a_new_card_was_saved_charges_the_attempts_card_once(
    app, db, standin, world
):
    """The worker died after Stripe charged attempt 1, and a new card was saved
    meanwhile: run again, the job sends attempt 1's own parameters under its key."""
    settlement = settle(app, db)
    [first] = standin.client().v1.payment_intents.list().data
    client = standin.client()
    new_card = client.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
    billing = db.exec(select(BillingProfile)).one()
    client.v1.payment_methods.attach(new_card.id, params={"customer": billing.stripe_customer_id})
    billing.payment_method_id = new_card.id
    db.execute(
        update(Job)
        .where(Job.kind == settlements.CHARGE_SETTLEMENT)
        .values(status="queued", run_at=dt.datetime.now(dt.UTC))
    )
    db.commit()

    run_jobs(app)

    [again] = standin.client().v1.payment_intents.list().data
    assert again.id == first.id == db.get(Settlement, settlement.id).payment_intent_id
