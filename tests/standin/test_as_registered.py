"""The stand-in's endpoints configured for the events `referral stripe setup`
registers them for, as the demo (`referral up`) and the soak configure them:
Stripe sends an endpoint only what it asked for."""

from __future__ import annotations

from urllib.parse import urlsplit

from referral import create_app, devserver
from referral.config import TestConfig
from tests.support.stripe_standin import StripeStandIn, WebhookReceiver

from .flows import settlement_charge_flow


def test_the_demo_stand_in_sends_each_endpoint_only_what_stripe_setup_registers(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    create_app(TestConfig(DATABASE_URL="sqlite://"))  # every domain's handlers registered
    where = urlsplit(webhooks.url)
    config = {
        "STRIPE_API_BASE": standin.api_base,
        "STRIPE_WEBHOOK_SECRET": webhooks.secret,
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_demo_connect",
    }
    child = devserver._standin(config, str(where.hostname), int(where.port or 80))
    assert child.after_start is not None
    child.after_start()  # as once its process is up; the fixture's stand-in stands for it
    intent = settlement_charge_flow(standin.client(), standin)

    standin.wait_for_delivery("payment_intent.succeeded", object_id=intent.id)
    # Of the account's, the customer's, the card's and the charge's events,
    # the three the app handles (card saved through Checkout, charge succeeded).
    assert sorted(delivery["type"] for delivery in standin.deliveries()) == [
        "account.updated",
        "checkout.session.completed",
        "payment_intent.succeeded",
    ]
