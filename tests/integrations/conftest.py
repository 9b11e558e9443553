"""Two partners (HVAC refers to plumbing), a customer of the HVAC business,
API keys for both, and a live webhook receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlmodel import Session

from referral.customers.services import create_customer
from tests.support.factories import agreed_partnership
from tests.support.integrations import CUSTOMER, Party, make_party
from tests.support.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # Loopback for the test receiver; retries at once so a test need not wait.
    return {
        "WEBHOOK_ALLOW_LOOPBACK": True,
        "WEBHOOK_RETRY_BASE_SECONDS": 0,
        "WEBHOOK_TIMEOUT_SECONDS": 3,
    }


@pytest.fixture
def hvac(app: Flask, db: Session) -> Party:
    return make_party(app, db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")


@pytest.fixture
def plumber(app: Flask, db: Session, hvac: Party) -> Party:
    party = make_party(app, db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
    with app.app_context():
        agreed_partnership(db, hvac.actor, party.actor)
    return party


@pytest.fixture
def customer_id(db: Session, hvac: Party) -> int:
    customer = create_customer(session=db, business_id=hvac.business_id, data=dict(CUSTOMER))
    db.commit()
    assert customer.id is not None
    return customer.id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as live:
        yield live
