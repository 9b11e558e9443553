"""Refunds that reverse destination transfers, and transfers with their reversals."""

from __future__ import annotations

import pytest
import stripe

from tests.support.stripe_standin import StripeStandIn, WebhookReceiver

from .flows import customer_with_saved_card, destination_charge, onboarded_account


@pytest.fixture
def paid(standin: StripeStandIn) -> stripe.PaymentIntent:
    """10 000 charged, 1 000 application fee, 9 000 transferred."""
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)
    return destination_charge(
        client, customer=customer.id, payment_method=card, destination=account.id
    )


def test_a_partial_refund_reverses_the_same_share_of_the_transfer(
    standin: StripeStandIn, webhooks: WebhookReceiver, paid: stripe.PaymentIntent
) -> None:
    client = standin.client()

    refund = client.v1.refunds.create(
        params={
            "payment_intent": paid.id,
            "amount": 2_500,
            "reverse_transfer": True,
            "metadata": {"settlement_id": "12"},
        }
    )

    assert refund.id.startswith("re_")
    assert (refund.status, refund.amount, refund.metadata.to_dict()) == (
        "succeeded",
        2_500,
        {"settlement_id": "12"},
    )
    charge = client.v1.charges.retrieve(paid.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (2_500, False)
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert transfer.amount_reversed == 2_250  # 9 000 * 2 500 / 10 000
    assert refund.transfer_reversal == transfer.reversals.data[0].id
    assert webhooks.wait_for("charge.refunded", id=charge.id).data.object.amount_refunded == 2_500
    webhooks.wait_for("refund.created", id=refund.id)
    assert (
        webhooks.wait_for("transfer.reversed", id=transfer.id).data.object.amount_reversed == 2_250
    )


def test_reversals_round_to_the_cent_and_never_exceed_what_is_left(
    standin: StripeStandIn, paid: stripe.PaymentIntent
) -> None:
    client = standin.client()
    amounts = [3_333, 3_333, 3_334]

    for amount in amounts:
        client.v1.refunds.create(
            params={"charge": paid.latest_charge, "amount": amount, "reverse_transfer": True}
        )

    charge = client.v1.charges.retrieve(paid.latest_charge)
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert [reversal.amount for reversal in reversed(transfer.reversals.data)] == [
        3_000,
        3_000,
        3_000,
    ]
    assert (transfer.amount_reversed, transfer.reversed) == (9_000, True)
    assert (charge.amount_refunded, charge.refunded) == (10_000, True)


def test_the_default_refund_is_what_remains_and_more_is_refused(
    standin: StripeStandIn, paid: stripe.PaymentIntent
) -> None:
    client = standin.client()
    client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 4_000})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 6_001})
    rest = client.v1.refunds.create(params={"payment_intent": paid.id})

    assert raised.value.http_status == 400
    assert rest.amount == 6_000
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": paid.id})


def test_refund_application_fee_gives_back_the_same_share_of_the_fee(
    standin: StripeStandIn, paid: stripe.PaymentIntent
) -> None:
    client = standin.client()

    client.v1.refunds.create(
        params={"payment_intent": paid.id, "amount": 5_000, "refund_application_fee": True}
    )

    charge = client.v1.charges.retrieve(paid.latest_charge, params={"expand": ["application_fee"]})
    assert charge.application_fee.amount_refunded == 500
    assert client.v1.transfers.retrieve(charge.transfer).amount_reversed == 0


def test_a_transfer_to_an_onboarded_account_can_be_reversed(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)

    transfer = client.v1.transfers.create(
        params={
            "amount": 7_000,
            "currency": "usd",
            "destination": account.id,
            "metadata": {"payout_id": "3"},
            "transfer_group": "payout-3",
        }
    )
    reversal = client.v1.transfers.reversals.create(
        transfer.id, params={"amount": 2_000, "metadata": {"reason": "clawback"}}
    )

    assert transfer.id.startswith("tr_")
    assert (transfer.amount, transfer.destination, transfer.transfer_group) == (
        7_000,
        account.id,
        "payout-3",
    )
    assert reversal.object == "transfer_reversal"
    assert (reversal.amount, reversal.transfer, reversal.metadata.to_dict()) == (
        2_000,
        transfer.id,
        {"reason": "clawback"},
    )
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 2_000
    assert [t.id for t in client.v1.transfers.list(params={"destination": account.id}).data] == [
        transfer.id
    ]
    webhooks.wait_for("transfer.created", id=transfer.id)
    webhooks.wait_for("transfer.reversed", id=transfer.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 5_001})


def test_a_transfer_to_an_account_still_onboarding_is_refused(standin: StripeStandIn) -> None:
    client = standin.client()
    account = client.v1.accounts.create(params={"type": "express"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.transfers.create(
            params={"amount": 100, "currency": "usd", "destination": account.id}
        )

    assert raised.value.http_status == 400
