"""Businesses set up on the Stripe stand-in as they would be after its hosted
pages (one onboarded to be paid, one with a saved card to pay), and the app
served on loopback receiving the stand-in's signed webhooks. The fixtures
(`app_overrides`, `live`, the autouse `stripe_field_reads`) are imported by the
conftest of each folder whose tests pay through the stand-in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlmodel import Session

from referral.payments.events import STRIPE_HANDLERS
from referral.payments.models import BillingProfile, ConnectedAccount
from tests.support.live_server import LiveServer, worker_thread
from tests.support.stripe_fields import Recorder, recording, unknown_fields
from tests.support.stripe_standin import StripeStandIn

WEBHOOK_SECRET = "whsec_payments_tests"
CONNECT_WEBHOOK_SECRET = "whsec_payments_connect_tests"

TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def connect_onboarded_account(db: Session, standin: StripeStandIn, business_id: int) -> str:
    """An Express account on the stand-in, onboarded, recorded as the business's
    (flushed, not committed). Returns its Stripe id."""
    account = standin.client().v1.accounts.create(params={"type": "express"})
    standin.complete_onboarding(account.id)
    db.add(
        ConnectedAccount(
            business_id=business_id,
            stripe_account_id=account.id,
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
    )
    db.flush()
    return str(account.id)


def save_card(db: Session, standin: StripeStandIn, business_id: int, email: str) -> BillingProfile:
    """A stand-in customer with a Visa test card attached, recorded as the
    business's saved card (flushed, not committed)."""
    client = standin.client()
    customer = client.v1.customers.create(params={"email": email})
    method = client.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    billing = BillingProfile(
        business_id=business_id,
        stripe_customer_id=customer.id,
        payment_method_id=method.id,
        card_brand="visa",
        card_last4="4242",
    )
    db.add(billing)
    db.flush()
    return billing


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {
        "STRIPE_API_BASE": stripe_standin.api_base,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
    }


@pytest.fixture(autouse=True)
def stripe_field_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every field a webhook handler reads in this test exists on stripe-python's
    resource class for the object (checked when the test ends)."""
    recorder = Recorder()
    for event_type, handlers in list(STRIPE_HANDLERS.items()):

        def recorded(handler):  # type: ignore[no-untyped-def]
            return lambda session, obj, as_of: handler(session, recording(obj, recorder), as_of)

        monkeypatch.setitem(STRIPE_HANDLERS, event_type, [recorded(h) for h in handlers])
    yield recorder
    assert unknown_fields(recorder.paths) == [], "fields stripe-python's resources do not have"


@pytest.fixture
def live(app: Flask, standin: StripeStandIn) -> Iterator[LiveServer]:  # noqa: F811
    """The app on loopback receiving the stand-in's webhooks at its platform and
    Connect endpoints, with a worker running."""
    with LiveServer(app) as server, worker_thread(app):
        standin.send_webhooks_to(
            f"{server.url}/stripe/webhook",
            WEBHOOK_SECRET,
            connect_url=f"{server.url}/stripe/webhook/connect",
            connect_secret=CONNECT_WEBHOOK_SECRET,
        )
        yield server
        standin.send_webhooks_to(None)


def eventually(check: Callable[[], object], *, timeout: float = 30.0, what: str = "") -> object:
    """Poll until `check()` is truthy (webhooks and jobs run in other threads)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
