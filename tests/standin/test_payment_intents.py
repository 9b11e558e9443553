"""Off-session destination charges with PaymentIntents, their charges, lists and search."""

from __future__ import annotations

import pytest
import requests
import stripe

from tests.support.stripe_standin import StripeStandIn, WebhookReceiver

from .flows import (
    DECLINED_AFTER_SAVING,
    INSUFFICIENT_FUNDS,
    customer_with_saved_card,
    destination_charge,
    express_account,
    onboarded_account,
    settlement_charge_flow,
)


def test_a_destination_charge_pays_the_account_less_the_application_fee(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)

    intent = destination_charge(
        client, customer=customer.id, payment_method=card, destination=account.id
    )

    assert intent.id.startswith("pi_")
    assert intent.status == "succeeded"
    assert intent.amount_received == 10_000
    assert intent.latest_charge.startswith("ch_")
    assert intent.transfer_data.destination == account.id
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.payment_intent == intent.id
    assert (charge.amount, charge.amount_refunded, charge.refunded) == (10_000, 0, False)
    assert charge.application_fee_amount == 1_000
    assert charge.destination == account.id
    assert charge.metadata.to_dict() == {"settlement_id": "12"}
    assert charge.balance_transaction.startswith("txn_")
    assert charge.payment_method_details.card.last4 == "4242"
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert transfer.amount == 9_000
    assert transfer.destination == account.id
    assert transfer.source_transaction == charge.id
    assert transfer.metadata.to_dict() == {"settlement_id": "12"}
    assert (transfer.amount_reversed, transfer.reversals.data) == (0, [])

    for event_type, object_id in (
        ("payment_intent.succeeded", intent.id),
        ("charge.succeeded", charge.id),
        ("transfer.created", transfer.id),
    ):
        assert webhooks.wait_for(event_type, id=object_id).data.object.id == object_id


@pytest.mark.parametrize(
    ("asked_for", "sent"),
    [
        (["payment_intent.succeeded"], ["payment_intent.succeeded"]),
        (["payment_intent.*"], ["payment_intent.created", "payment_intent.succeeded"]),
    ],
)
def test_an_endpoint_is_sent_only_the_events_it_asked_for(
    standin: StripeStandIn, webhooks: WebhookReceiver, asked_for: list[str], sent: list[str]
) -> None:
    # A charge makes five events (intent created and succeeded, charge, transfer,
    # application fee); the platform endpoint asked for one type, or for a
    # prefix, as Stripe honours an endpoint's enabled_events.
    standin.send_webhooks_to(webhooks.url, webhooks.secret, events={"platform": asked_for})
    intent = settlement_charge_flow(standin.client(), standin)

    webhooks.wait_for("payment_intent.succeeded", id=intent.id)
    assert sorted(delivery["type"] for delivery in standin.deliveries()) == sent
    assert sorted(event.type for event in webhooks.events()) == sent


@pytest.mark.parametrize("events", [["payment_intent.succeeded", ""], "payment_intent.succeeded"])
def test_an_endpoint_configured_with_malformed_events_is_a_400(
    standin: StripeStandIn, events: object
) -> None:
    response = requests.post(
        standin.api_base + "/_config/webhook",
        json={"url": "http://127.0.0.1:9/hook", "secret": "whsec_x", "enabled_events": events},
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "enabled_events"


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [(DECLINED_AFTER_SAVING, "generic_decline"), (INSUFFICIENT_FUNDS, "insufficient_funds")],
)
def test_a_declined_saved_card_is_a_402_card_error_carrying_the_intent(
    standin: StripeStandIn, webhooks: WebhookReceiver, card: str, decline_code: str
) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, payment_method = customer_with_saved_card(client, standin, card)

    with pytest.raises(stripe.CardError) as raised:
        destination_charge(
            client, customer=customer.id, payment_method=payment_method, destination=account.id
        )

    error = raised.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error.type == "card_error"
    assert error.error.decline_code == decline_code
    intent = error.error.payment_intent
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.decline_code == decline_code
    assert client.v1.charges.retrieve(intent.latest_charge).status == "failed"
    assert client.v1.transfers.list(params={"destination": account.id}).data == []
    event = webhooks.wait_for("payment_intent.payment_failed", id=intent.id)
    assert event.data.object.last_payment_error.code == "card_declined"


def test_a_destination_without_charges_and_payouts_enabled_is_a_400(
    standin: StripeStandIn,
) -> None:
    client = standin.client()
    account = express_account(client)
    customer, card = customer_with_saved_card(client, standin)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        destination_charge(
            client, customer=customer.id, payment_method=card, destination=account.id
        )

    assert raised.value.http_status == 400
    assert raised.value.error.type == "invalid_request_error"
    assert raised.value.param == "transfer_data[destination]"
    assert client.v1.payment_intents.list().data == []


def test_payment_intents_list_newest_first_by_customer_and_page_by_cursor(
    standin: StripeStandIn,
) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)
    other, other_card = customer_with_saved_card(client, standin)
    made = [
        destination_charge(
            client,
            customer=customer.id,
            payment_method=card,
            destination=account.id,
            settlement_id=str(number),
        ).id
        for number in range(3)
    ]
    destination_charge(
        client,
        customer=other.id,
        payment_method=other_card,
        destination=account.id,
        settlement_id="9",
    )

    first = client.v1.payment_intents.list(params={"customer": customer.id, "limit": 2})
    rest = client.v1.payment_intents.list(
        params={"customer": customer.id, "limit": 2, "starting_after": first.data[-1].id}
    )

    assert [intent.id for intent in first.data] == [made[2], made[1]]
    assert first.has_more is True
    assert [intent.id for intent in rest.data] == [made[0]]
    assert rest.has_more is False
    assert len(client.v1.charges.list(params={"customer": customer.id}).data) == 3


def test_payment_intents_and_charges_are_found_by_metadata(standin: StripeStandIn) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)
    for number in ("12", "13"):
        destination_charge(
            client,
            customer=customer.id,
            payment_method=card,
            destination=account.id,
            settlement_id=number,
        )

    found = client.v1.payment_intents.search(params={"query": "metadata['settlement_id']:'13'"})
    charges = client.v1.charges.search(params={"query": "metadata['settlement_id']:'12'"})
    none = client.v1.payment_intents.search(params={"query": "metadata['settlement_id']:'99'"})

    assert found.object == "search_result"
    assert [intent.metadata["settlement_id"] for intent in found.data] == ["13"]
    assert [charge.metadata["settlement_id"] for charge in charges.data] == ["12"]
    assert none.data == []


def test_customers_and_payment_methods_come_back_as_stripe_python_objects(
    standin: StripeStandIn,
) -> None:
    client = standin.client()
    customer, card = customer_with_saved_card(client, standin)

    again = client.v1.customers.retrieve(customer.id)
    payment_method = client.v1.payment_methods.retrieve(card)

    assert isinstance(again, stripe.Customer)
    assert again.metadata.to_dict() == {"customer_id": "7"}
    assert isinstance(payment_method, stripe.PaymentMethod)
    assert payment_method.card.last4 == "4242"
