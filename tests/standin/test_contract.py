"""Every request is held to the contract stripe-python publishes for its method
(the typed `stripe.params` of the API version the SDK pins): what Stripe would
refuse, the stand-in refuses the same way, so the payments suite is a contract
test of the app's requests."""

from __future__ import annotations

import pytest
import stripe

from tests.support.stripe_standin import StripeStandIn

from .flows import express_account, onboarded_account, setup_session


def refusal(call: object) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_the_removed_payment_method_types_is_refused_on_checkout_session_creation(
    standin: StripeStandIn,
) -> None:
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "owner@example.com"})

    error = refusal(
        lambda: client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "customer": customer.id,
                "currency": "usd",
                "payment_method_types": ["card"],
                "success_url": "http://app.test/cards/saved",
            }
        )
    )

    assert error.http_status == 400
    assert error.code == "parameter_unknown"
    assert error.param == "payment_method_types"
    assert error.error is not None and error.error.type == "invalid_request_error"
    assert "Received unknown parameter: payment_method_types" in str(error.user_message)


def test_allowed_payment_method_types_is_the_parameter_that_replaced_it(
    standin: StripeStandIn,
) -> None:
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "owner@example.com"})

    session = client.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer.id,
            "currency": "usd",
            "allowed_payment_method_types": ["card"],
            "success_url": "http://app.test/cards/saved",
        }
    )

    assert session.allowed_payment_method_types == ["card"]


def test_a_misspelt_nested_parameter_is_named_by_its_path(standin: StripeStandIn) -> None:
    client = standin.client()
    destination = onboarded_account(client, standin).id

    error = refusal(
        lambda: client.v1.payment_intents.create(
            params={
                "amount": 1_000,
                "currency": "usd",
                "transfer_data": {"destinaton": destination},  # type: ignore[typeddict-unknown-key]
            }
        )
    )

    assert (error.code, error.param) == ("parameter_unknown", "transfer_data[destinaton]")


def test_a_value_outside_a_closed_set_is_refused(standin: StripeStandIn) -> None:
    client = standin.client()
    account = express_account(client)

    error = refusal(
        lambda: client.v1.account_links.create(
            params={
                "account": account.id,
                "refresh_url": "http://app.test/refresh",
                "return_url": "http://app.test/return",
                "type": "account_onboard",  # type: ignore[typeddict-item]
            }
        )
    )

    assert (error.code, error.param) == ("parameter_invalid", "type")


def test_a_parameter_of_the_wrong_kind_is_refused(standin: StripeStandIn) -> None:
    client = standin.client()

    error = refusal(lambda: client.v1.payment_intents.list(params={"limit": "ten"}))  # type: ignore[typeddict-item]

    assert (error.code, error.param) == ("parameter_invalid", "limit")


def test_a_refused_request_is_not_saved_under_its_idempotency_key(standin: StripeStandIn) -> None:
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "owner@example.com"})
    good = setup_session(client, customer.id)
    assert good.status == "open"

    params = {
        "mode": "setup",
        "customer": customer.id,
        "currency": "usd",
        "success_url": "http://app.test/cards/saved",
    }
    refusal(
        lambda: client.v1.checkout.sessions.create(
            params={**params, "payment_method_types": ["card"]},  # type: ignore[typeddict-unknown-key]
            options={"idempotency_key": "save-card-1"},
        )
    )
    corrected = client.v1.checkout.sessions.create(
        params=params,  # type: ignore[arg-type]
        options={"idempotency_key": "save-card-1"},
    )

    assert corrected.status == "open"
