"""A worker killed after it sent a settlement charge to Stripe and before it
stored the answer: the charge job runs again under the same idempotency key,
Stripe answers with the first result, and the debtor is charged exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session

from referral.settlements import services as settlements
from referral.settlements.models import Settlement
from tests.payments.signing import signed
from tests.support.factories import business, partner_up, percent, won_referral
from tests.support.jobs import run_jobs
from tests.support.live_server import LiveServer
from tests.support.payments import WEBHOOK_SECRET, connect_onboarded_account, eventually, save_card
from tests.support.stripe_standin import StripeStandIn

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2

pytestmark = pytest.mark.slow


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:
    return {
        "STRIPE_API_BASE": stripe_standin.api_base,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JOB_LEASE_SECONDS": LEASE_SECONDS,
    }


def worker(app: Flask, database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STRIPE_API_BASE": app.config["STRIPE_API_BASE"],
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": app.config["STRIPE_CONNECT_WEBHOOK_SECRET"],
        "STRIPE_INSTALL_ID": app.config["STRIPE_INSTALL_ID"],
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "SECRET_KEY": "test-crash",
        "MAIL_BACKEND": "outbox",
    }
    command = [sys.executable, "-m", "referral", "worker", "--poll-interval", "0.05"]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        process.wait(timeout=15)


def ready_to_settle(app: Flask, db: Session, standin: StripeStandIn) -> Settlement:
    """HVAC is owed $100.00 by the plumber; both are set up on the stand-in."""
    with app.app_context():
        hvac = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
        plumber = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        won_referral(db, hvac, plumber, 100_000)
    connect_onboarded_account(db, standin, hvac.business_id)
    save_card(db, standin, plumber.business_id, "blair@drip.example")
    db.commit()
    with app.app_context():
        [settlement] = settlements.build_settlements(db)
        settlements.attempt(db, settlement)  # attempt 1 recorded, its charge job queued
        db.commit()
    assert (settlement.status, settlement.attempts) == ("processing", 1)
    return settlement


def test_a_worker_killed_mid_charge_charges_once_when_run_again(
    app: Flask, db: Session, database_url: str, standin: StripeStandIn
) -> None:
    settlement = ready_to_settle(app, db, standin)
    # Stripe does the charge, then the answer is slow: the worker dies waiting.
    standin.add_fault("respond_late", path_prefix="/v1/payment_intents", delay_seconds=30)

    first = worker(app, database_url)
    try:
        eventually(
            lambda: standin.client().v1.payment_intents.list().data, what="the charge was sent"
        )
    finally:
        stop(first, signal.SIGKILL)
    db.refresh(settlement)
    assert settlement.payment_intent_id is None  # the answer never got stored

    standin.clear_faults()
    time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease lapses
    second = worker(app, database_url)
    try:
        eventually(
            lambda: db.refresh(settlement) or settlement.payment_intent_id,
            what="the charge job ran again",
        )
    finally:
        stop(second)

    [intent] = standin.client().v1.payment_intents.list().data
    assert settlement.payment_intent_id == intent.id
    assert settlement.attempts == 1

    # Stripe's payment_intent.succeeded (its webhook target was not set) then pays it.
    [succeeded] = [
        e for e in standin.client().v1.events.list().data if e.type == "payment_intent.succeeded"
    ]
    with LiveServer(app):
        body, header = signed(succeeded.to_dict(), WEBHOOK_SECRET)
        response = app.test_client().post(
            "/stripe/webhook", data=body, headers={"Stripe-Signature": header}
        )
    assert response.status_code == 200
    run_jobs(app)
    db.refresh(settlement)
    assert settlement.status == "paid"
    assert len(standin.client().v1.payment_intents.list().data) == 1
