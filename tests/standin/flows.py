"""Steps several specifications share, done the way the app does them."""

from __future__ import annotations

import stripe

from tests.support.stripe_standin import StripeStandIn

VISA = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
DECLINED_AFTER_SAVING = "4000000000000341"


def express_account(client: stripe.StripeClient, **params: object) -> stripe.Account:
    return client.v1.accounts.create(
        params={
            "type": "express",
            "country": "US",
            "email": "plumber@example.com",
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
            "business_profile": {"name": "Pipes & Co"},
            "metadata": {"business_id": "42"},
            **params,
        }
    )


def onboarded_account(client: stripe.StripeClient, standin: StripeStandIn) -> stripe.Account:
    account = express_account(client)
    standin.complete_onboarding(account.id)
    return client.v1.accounts.retrieve(account.id)


def customer_with_saved_card(
    client: stripe.StripeClient, standin: StripeStandIn, card: str = VISA
) -> tuple[stripe.Customer, str]:
    """A customer and the payment method id saved through Checkout in setup mode."""
    customer = client.v1.customers.create(
        params={"email": "homeowner@example.com", "metadata": {"customer_id": "7"}}
    )
    session = setup_session(client, customer.id)
    assert standin.complete_checkout(session.id, card).status_code == 200
    session = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["setup_intent"]})
    return customer, session.setup_intent.payment_method


def setup_session(client: stripe.StripeClient, customer_id: str) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer_id,
            "currency": "usd",
            "success_url": "http://app.test/cards/saved?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/cards",
            "metadata": {"purpose": "save-card"},
            "setup_intent_data": {"metadata": {"business_id": "42"}},
        }
    )


def destination_charge(
    client: stripe.StripeClient,
    *,
    customer: str,
    payment_method: str,
    destination: str,
    amount: int = 10_000,
    fee: int = 1_000,
    key: str | None = None,
    settlement_id: str = "12",
) -> stripe.PaymentIntent:
    """An off-session destination charge, as a commission settlement makes one."""
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "customer": customer,
            "payment_method": payment_method,
            "off_session": True,
            "confirm": True,
            "transfer_data": {"destination": destination},
            "application_fee_amount": fee,
            "metadata": {"settlement_id": settlement_id},
            "description": f"Settlement {settlement_id}",
        },
        options={"idempotency_key": key or f"settlement-{settlement_id}-attempt-1"},
    )


def settlement_charge_flow(
    client: stripe.StripeClient, standin: StripeStandIn
) -> stripe.PaymentIntent:
    """A settlement's whole Stripe flow from nothing: an onboarded account, a
    customer's card saved through Checkout, and one destination charge."""
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)
    return destination_charge(
        client, customer=customer.id, payment_method=card, destination=account.id
    )
