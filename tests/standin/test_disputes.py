"""Disputes opened and closed from the test dashboard (or its JSON twins)."""

from __future__ import annotations

import re

import pytest
import requests
import stripe

from tests.support.stripe_standin import StripeStandIn, WebhookReceiver

from .flows import customer_with_saved_card, destination_charge, onboarded_account


@pytest.fixture
def charge(standin: StripeStandIn) -> stripe.Charge:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)
    intent = destination_charge(
        client, customer=customer.id, payment_method=card, destination=account.id
    )
    return client.v1.charges.retrieve(intent.latest_charge)


def test_opening_a_dispute_sends_charge_dispute_created(
    standin: StripeStandIn, webhooks: WebhookReceiver, charge: stripe.Charge
) -> None:
    dispute = standin.open_dispute(charge.id, reason="product_not_received")

    assert dispute["id"].startswith("dp_")
    assert dispute["status"] == "needs_response"
    assert (dispute["charge"], dispute["payment_intent"]) == (charge.id, charge.payment_intent)
    assert (dispute["amount"], dispute["reason"]) == (10_000, "product_not_received")
    event = webhooks.wait_for("charge.dispute.created", id=dispute["id"])
    assert event.data.object.status == "needs_response"
    assert standin.client().v1.charges.retrieve(charge.id).disputed is True


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_closing_a_dispute_sends_charge_dispute_closed(
    standin: StripeStandIn, webhooks: WebhookReceiver, charge: stripe.Charge, outcome: str
) -> None:
    dispute = standin.open_dispute(charge.id)

    closed = standin.close_dispute(dispute["id"], outcome)

    assert closed["status"] == outcome
    event = webhooks.wait_for("charge.dispute.closed", id=dispute["id"])
    assert event.data.object.status == outcome
    assert standin.client().v1.disputes.retrieve(dispute["id"]).status == outcome


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_dispute_withdraws_the_amount_and_the_fee_and_a_won_one_returns_only_the_amount(
    standin: StripeStandIn, charge: stripe.Charge, outcome: str
) -> None:
    client = standin.client()
    dispute = standin.open_dispute(charge.id)
    [withdrawal] = dispute["balance_transactions"]
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (-10_000, 1_500, -11_500)
    assert withdrawal["reporting_category"] == "dispute"
    assert withdrawal["fee_details"][0]["amount"] == 1_500

    closed = standin.close_dispute(dispute["id"], outcome)

    moved = [(t["amount"], t["fee"]) for t in closed["balance_transactions"]]
    assert moved == ([(-10_000, 1_500), (10_000, 0)] if outcome == "won" else [(-10_000, 1_500)])
    listed = client.v1.balance_transactions.list(params={"source": dispute["id"]}).data
    # What the platform's balance lost to the dispute: the fee, and the amount if lost.
    assert -sum(t.net for t in listed) == (1_500 if outcome == "won" else 11_500)


def test_a_closed_dispute_cannot_be_closed_again(
    standin: StripeStandIn, charge: stripe.Charge
) -> None:
    dispute = standin.open_dispute(charge.id)
    standin.close_dispute(dispute["id"], "won")

    again = requests.post(
        f"{standin.api_base}/_standin/disputes/{dispute['id']}/close",
        json={"outcome": "lost"},
        timeout=5,
    )

    assert again.status_code == 400
    assert again.json()["error"]["type"] == "invalid_request_error"


def test_the_dashboard_lists_payments_and_its_buttons_drive_disputes(
    standin: StripeStandIn, webhooks: WebhookReceiver, charge: stripe.Charge
) -> None:
    dashboard = f"{standin.api_base}/_standin/dashboard"
    page = requests.get(dashboard, timeout=5).text
    assert charge.id in page
    assert "100.00 USD" in page
    assert "Open dispute" in page

    opened = requests.post(
        f"{standin.api_base}/_standin/charges/{charge.id}/dispute",
        data={"reason": "fraudulent"},
        timeout=5,
    )
    assert opened.url == dashboard
    dispute_id = re.search(r"dp_\w+", opened.text).group(0)  # type: ignore[union-attr]
    assert "Close: lost" in opened.text

    closed = requests.post(
        f"{standin.api_base}/_standin/disputes/{dispute_id}/close",
        data={"outcome": "lost"},
        timeout=5,
    )

    assert closed.url == dashboard
    assert "lost" in closed.text
    webhooks.wait_for("charge.dispute.closed", id=dispute_id)


@pytest.mark.parametrize("outcome", ["warning_closed", "prevented"])
def test_an_inquiry_moves_no_money_and_closes_without_a_chargeback(
    standin: StripeStandIn, webhooks: WebhookReceiver, charge: stripe.Charge, outcome: str
) -> None:
    inquiry = standin.open_dispute(charge.id, inquiry=True)

    assert inquiry["status"] == "warning_needs_response"
    assert inquiry["balance_transactions"] == []
    with pytest.raises(requests.HTTPError):
        standin.close_dispute(inquiry["id"], "lost")  # an inquiry is never lost
    closed = standin.close_dispute(inquiry["id"], outcome)

    assert closed["status"] == outcome
    event = webhooks.wait_for("charge.dispute.closed", id=inquiry["id"])
    assert event.data.object.status == outcome
