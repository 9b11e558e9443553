"""Idempotency-Key and injected faults: a retried charge is charged exactly once."""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from tests.support.stripe_standin import StripeStandIn

from .flows import customer_with_saved_card, destination_charge, onboarded_account


@pytest.fixture
def payer(standin: StripeStandIn) -> dict[str, str]:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin)
    return {"customer": customer.id, "payment_method": card, "destination": account.id}


def charges(standin: StripeStandIn) -> list[stripe.Charge]:
    return standin.client().v1.charges.list().data


def test_the_same_key_twice_replays_the_first_answer_and_charges_once(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    client = standin.client()

    first = destination_charge(client, **payer, key="settlement-12-attempt-1")
    second = destination_charge(client, **payer, key="settlement-12-attempt-1")

    assert second.id == first.id
    assert second.to_dict() == first.to_dict()
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(charges(standin)) == 1


def test_the_same_key_with_other_params_is_an_idempotency_error(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    client = standin.client()
    destination_charge(client, **payer, key="settlement-12-attempt-1")

    with pytest.raises(stripe.IdempotencyError) as raised:
        destination_charge(client, **payer, amount=20_000, key="settlement-12-attempt-1")

    assert raised.value.http_status == 400
    assert len(charges(standin)) == 1


def test_keys_belong_to_one_api_key(standin: StripeStandIn, payer: dict[str, str]) -> None:
    destination_charge(standin.client("sk_test_one"), **payer, key="settlement-12-attempt-1")
    destination_charge(standin.client("sk_test_two"), **payer, key="settlement-12-attempt-1")

    assert len(charges(standin)) == 2


def test_a_decline_is_replayed_too(standin: StripeStandIn) -> None:
    client = standin.client()
    account = onboarded_account(client, standin)
    customer, card = customer_with_saved_card(client, standin, "4000000000000341")
    payer = {"customer": customer.id, "payment_method": card, "destination": account.id}

    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as raised:
            destination_charge(client, **payer, key="settlement-12-attempt-1")
        errors.append(raised.value.json_body)

    assert errors[0] == errors[1]
    assert len(charges(standin)) == 1


def test_a_worker_killed_after_sending_the_charge_charges_once_on_restart(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    # Stripe does the work, but the answer arrives after the client has given up.
    standin.add_fault("respond_late", path_prefix="/v1/payment_intents", delay_seconds=1.5)
    impatient = standin.client(timeout=0.5, max_network_retries=0)
    with pytest.raises(stripe.APIConnectionError):
        destination_charge(impatient, **payer, key="settlement-12-attempt-1")

    # The restarted worker sends the same request with the same key.
    retried = destination_charge(standin.client(), **payer, key="settlement-12-attempt-1")

    assert retried.status == "succeeded"
    assert len(charges(standin)) == 1
    assert len(standin.client().v1.transfers.list().data) == 1


def test_a_500_does_no_work_and_stripe_python_retries_with_the_same_key(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    standin.add_fault("error_500", path_prefix="/v1/payment_intents", count=1)

    intent = destination_charge(standin.client(max_network_retries=2), **payer)

    assert intent.status == "succeeded"
    assert len(charges(standin)) == 1


def test_a_500_is_stripe_shaped_when_the_client_does_not_retry(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    standin.add_fault("error_500", path_prefix="/v1/payment_intents", count=1)

    with pytest.raises(stripe.APIError) as raised:
        destination_charge(standin.client(max_network_retries=0), **payer)

    assert raised.value.http_status == 500
    assert raised.value.error.type == "api_error"
    assert charges(standin) == []


def test_a_timeout_then_a_retry_with_the_same_key_charges_once(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    standin.add_fault("timeout", path_prefix="/v1/payment_intents", delay_seconds=1.0)

    intent = destination_charge(standin.client(timeout=0.5, max_network_retries=2), **payer)

    assert intent.status == "succeeded"
    assert len(charges(standin)) == 1


def test_a_rate_fails_a_seeded_share_of_requests(standin: StripeStandIn) -> None:
    standin.add_fault("error_500", method="GET", path_prefix="/v1/customers", rate=0.5, count=None)
    client = standin.client(max_network_retries=0)

    outcomes = []
    for _ in range(20):
        try:
            client.v1.customers.list()
            outcomes.append("ok")
        except stripe.APIError:
            outcomes.append("500")

    assert 3 <= outcomes.count("500") <= 17
    standin.clear_faults()
    assert client.v1.customers.list().data == []


def test_faults_only_touch_matching_requests(standin: StripeStandIn) -> None:
    standin.add_fault("error_500", path_prefix="/v1/payment_intents", count=5)

    customer = standin.client(max_network_retries=0).v1.customers.create()

    assert customer.id.startswith("cus_")
    assert requests.get(f"{standin.api_base}/_config/faults", timeout=5).json()[0]["count"] == 5


def test_a_timed_out_request_may_still_charge_which_is_why_retries_reuse_the_key(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    standin.add_fault("timeout", path_prefix="/v1/payment_intents", delay_seconds=0.5)
    with pytest.raises(stripe.APIConnectionError):
        destination_charge(standin.client(timeout=0.2, max_network_retries=0), **payer)

    time.sleep(0.6)

    assert len(charges(standin)) == 1
    destination_charge(standin.client(), **payer)  # same key: replayed, not charged again
    assert len(charges(standin)) == 1


def test_a_refusal_before_any_work_is_not_saved_so_a_retry_can_succeed(
    standin: StripeStandIn,
) -> None:
    client = standin.client()
    account = client.v1.accounts.create(params={"type": "express"})
    customer, card = customer_with_saved_card(client, standin)
    payer = {"customer": customer.id, "payment_method": card, "destination": account.id}
    with pytest.raises(stripe.InvalidRequestError):
        destination_charge(client, **payer)

    standin.complete_onboarding(account.id)

    assert destination_charge(client, **payer).status == "succeeded"


def test_a_key_is_forgotten_after_24_hours(standin: StripeStandIn, payer: dict[str, str]) -> None:
    client = standin.client()
    first = destination_charge(client, **payer, key="settlement-12-attempt-1")

    standin.advance_idempotency_clock(24 * 3600)
    again = destination_charge(client, **payer, amount=20_000, key="settlement-12-attempt-1")

    assert again.id != first.id  # a new request, not an idempotency error
    assert len(charges(standin)) == 2


def test_a_429_with_should_retry_is_retried_by_stripe_python_with_the_same_key(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    standin.add_fault("rate_limit", path_prefix="/v1/payment_intents", should_retry=True)

    intent = destination_charge(standin.client(), **payer, key="settlement-12-attempt-1")

    assert intent.status == "succeeded"
    assert len(charges(standin)) == 1


def test_a_429_without_should_retry_reaches_the_caller_as_a_rate_limit_error(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    standin.add_fault("rate_limit", path_prefix="/v1/payment_intents", should_retry=False)

    with pytest.raises(stripe.RateLimitError) as raised:
        destination_charge(standin.client(), **payer)

    assert raised.value.http_status == 429
    assert raised.value.headers["Stripe-Should-Retry"] == "false"
    assert charges(standin) == []


def test_a_destination_without_an_active_transfers_capability_is_refused(
    standin: StripeStandIn, payer: dict[str, str]
) -> None:
    client = standin.client()
    client.v1.accounts.update(
        payer["destination"], params={"capabilities": {"transfers": {"requested": False}}}
    )

    with pytest.raises(stripe.InvalidRequestError) as raised:
        destination_charge(client, **payer)

    assert raised.value.code == "insufficient_capabilities_for_transfer"
    assert raised.value.param == "transfer_data[destination]"
    assert charges(standin) == []
