"""A worker killed while it waits for an endpoint's answer loses nothing: the
event goes out again, with the same webhook-id, once the worker's hold lapses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.db import utcnow
from referral.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from referral.integrations import services
from tests.support.integrations import Party, add_endpoint
from tests.support.jobs import run_jobs
from tests.support.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2
TIMEOUT_SECONDS = 2

pytestmark = pytest.mark.slow


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {
        "JOB_LEASE_SECONDS": LEASE_SECONDS,
        "WEBHOOK_ALLOW_LOOPBACK": True,
        "WEBHOOK_RETRY_BASE_SECONDS": 0,
        "WEBHOOK_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
    }


def test_a_delivery_cut_by_a_killed_worker_goes_out_again_with_the_same_id(
    app: Flask, db: Session, database_url: str, plumber: Party, receiver: Receiver
) -> None:
    endpoint = add_endpoint(app, plumber, receiver)
    with app.app_context():
        event = services.send_test_event(
            session=db, business_id=plumber.business_id, endpoint_id=endpoint["id"]
        )
        db.commit()
    receiver.behaviour = "hang"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "SECRET_KEY": "test-webhook-crash",
        "WEBHOOK_ALLOW_LOOPBACK": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "5",  # it is killed well before
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.killable_worker"], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the worker never sent the event"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    receiver.behaviour = 200
    receiver.release.set()

    db.expire_all()
    stored = db.get(WebhookEndpoint, endpoint["id"])
    assert stored is not None and stored.busy_until is not None  # held by the dead worker
    while utcnow() <= stored.busy_until:
        time.sleep(0.2)
    time.sleep(LEASE_SECONDS)
    run_jobs(app)

    message_id = services.message_id(event)
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [message_id, message_id]
    assert list(receiver.processed) == [message_id]
    assert db.exec(select(WebhookDelivery.status)).all() == [DeliveryStatus.delivered]
