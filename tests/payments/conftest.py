"""Payments run against the local Stripe stand-in over real HTTP: the app calls
it through stripe-python, and it posts signed webhooks to the app served on
loopback, where a job worker applies them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.support.live_server import LiveServer, worker_thread
from tests.support.stripe_standin import StripeStandIn, standin, stripe_standin  # noqa: F401

WEBHOOK_SECRET = "whsec_payments_tests"


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {"STRIPE_API_BASE": stripe_standin.api_base, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def live(app: Flask, standin: StripeStandIn) -> Iterator[LiveServer]:  # noqa: F811
    """The app on loopback receiving the stand-in's webhooks, with a worker running."""
    with LiveServer(app) as server, worker_thread(app):
        standin.send_webhooks_to(f"{server.url}/stripe/webhook", WEBHOOK_SECRET)
        yield server
        standin.send_webhooks_to(None)


def eventually(check: Callable[[], object], *, timeout: float = 15.0, what: str = "") -> object:
    """Poll until `check()` is truthy (webhooks and jobs run in other threads)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
