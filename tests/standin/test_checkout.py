"""Checkout Sessions: saving a card (setup) and paying (payment) on the hosted page."""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from tests.support.stripe_standin import StripeStandIn, WebhookReceiver

from .flows import (
    DECLINED,
    DECLINED_AFTER_SAVING,
    INSUFFICIENT_FUNDS,
    VISA,
    onboarded_account,
    setup_session,
)


def payment_session(
    client: stripe.StripeClient, destination: str, **params: object
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "customer_email": "buyer@example.com",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 2_500,
                        "product_data": {"name": "Lead: kitchen remodel"},
                    },
                    "quantity": 2,
                }
            ],
            "payment_intent_data": {
                "transfer_data": {"destination": destination},
                "application_fee_amount": 500,
                "metadata": {"purchase_id": "9"},
            },
            "metadata": {"purchase_id": "9"},
            "success_url": "http://app.test/leads/bought?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/leads",
            **params,
        }
    )


@pytest.mark.parametrize("card", [VISA, INSUFFICIENT_FUNDS, DECLINED_AFTER_SAVING])
def test_setup_mode_saves_the_card_on_the_customer(
    standin: StripeStandIn, webhooks: WebhookReceiver, card: str
) -> None:
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "homeowner@example.com"})
    session = setup_session(client, customer.id)
    assert session.url == f"{standin.api_base}/_standin/checkout/{session.id}"
    assert "Save card" in requests.get(session.url, timeout=5).text

    answer = requests.post(session.url, data={"card": card}, allow_redirects=False, timeout=5)

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"http://app.test/cards/saved?session={session.id}"
    session = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["setup_intent.payment_method"]}
    )
    assert session.status == "complete"
    assert session.setup_intent.status == "succeeded"
    assert session.setup_intent.metadata.to_dict() == {"business_id": "42"}
    payment_method = session.setup_intent.payment_method
    assert payment_method.customer == customer.id
    assert payment_method.card.last4 == card[-4:]
    assert payment_method.card.brand == "visa"
    assert payment_method.card.exp_month == 12
    assert payment_method.card.exp_year > 2030
    assert client.v1.payment_methods.retrieve(payment_method.id).card.last4 == card[-4:]

    event = webhooks.wait_for("checkout.session.completed", id=session.id)
    assert event.data.object.mode == "setup"
    assert event.data.object.setup_intent == session.setup_intent.id
    assert event.data.object.customer == customer.id
    assert event.data.object.metadata.to_dict() == {"purpose": "save-card"}


def test_setup_mode_shows_a_declined_card_and_stays_open(standin: StripeStandIn) -> None:
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "homeowner@example.com"})
    session = setup_session(client, customer.id)

    answer = requests.post(session.url, data={"card": DECLINED}, allow_redirects=False, timeout=5)

    assert answer.status_code == 402
    assert "Your card was declined." in answer.text
    session = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["setup_intent"]})
    assert session.status == "open"
    assert session.setup_intent.payment_method is None
    assert standin.complete_checkout(session.id, VISA).status_code == 200


def test_payment_mode_shows_the_amount_and_pays_into_the_connected_account(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)
    session = payment_session(client, account.id)
    assert session.payment_status == "unpaid"
    assert session.amount_total == 5_000
    page = requests.get(session.url, timeout=5).text
    assert "50.00 USD" in page
    assert "Lead: kitchen remodel" in page

    answer = requests.post(session.url, data={"card": VISA}, allow_redirects=False, timeout=5)

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"http://app.test/leads/bought?session={session.id}"
    session = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert (session.status, session.payment_status) == ("complete", "paid")
    intent = session.payment_intent
    assert intent.status == "succeeded"
    assert intent.amount == 5_000
    assert intent.metadata.to_dict() == {"purchase_id": "9"}
    charge = client.v1.charges.retrieve(intent.latest_charge)
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert (transfer.amount, transfer.destination) == (4_500, account.id)

    completed = webhooks.wait_for("checkout.session.completed", id=session.id)
    assert completed.data.object.payment_status == "paid"
    assert completed.data.object.payment_intent == intent.id
    webhooks.wait_for("payment_intent.succeeded", id=intent.id)


def test_payment_mode_shows_a_decline_and_lets_the_buyer_try_another_card(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    session = payment_session(client, onboarded_account(client, standin).id)

    declined = requests.post(session.url, data={"card": INSUFFICIENT_FUNDS}, timeout=5)

    assert declined.status_code == 402
    assert "Your card has insufficient funds." in declined.text
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert session.status == "open"
    failed = webhooks.wait_for("payment_intent.payment_failed", id=session.payment_intent)
    assert failed.data.object.last_payment_error.decline_code == "insufficient_funds"

    paid = standin.complete_checkout(session.id, VISA)

    assert paid.status_code == 200
    assert paid.json()["session"]["payment_status"] == "paid"
    assert client.v1.payment_intents.retrieve(session.payment_intent).status == "succeeded"


def test_the_cancel_link_goes_back_to_the_cancel_url(standin: StripeStandIn) -> None:
    client = standin.client()
    session = payment_session(client, onboarded_account(client, standin).id)

    assert "href='http://app.test/leads'" in requests.get(session.url, timeout=5).text


def test_expiring_through_the_api_closes_the_session(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    session = payment_session(client, onboarded_account(client, standin).id)

    expired = client.v1.checkout.sessions.expire(session.id)

    assert expired.status == "expired"
    assert expired.url is None
    webhooks.wait_for("checkout.session.expired", id=session.id)
    assert standin.complete_checkout(session.id, VISA).status_code == 400
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)


def test_a_session_expires_by_itself_at_expires_at(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    session = payment_session(
        client, onboarded_account(client, standin).id, expires_at=int(time.time()) + 1
    )

    event = webhooks.wait_for("checkout.session.expired", timeout=4, id=session.id)

    assert event.data.object.status == "expired"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"


def test_a_destination_that_has_not_finished_onboarding_is_refused(standin: StripeStandIn) -> None:
    client = standin.client()
    account = client.v1.accounts.create(params={"type": "express"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        payment_session(client, account.id)

    assert raised.value.http_status == 400
