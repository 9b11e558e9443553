"""The stand-in as a service: where it listens, how it answers, how it delivers."""

from __future__ import annotations

import socket

import pytest
import requests
import stripe

from tests.support.stripe_standin import StripeStandIn, WebhookReceiver

from .flows import express_account


def test_it_listens_only_on_127_0_0_1(standin: StripeStandIn) -> None:
    for other_address, family in (("127.0.0.2", socket.AF_INET), ("::1", socket.AF_INET6)):
        with socket.socket(family) as sock:
            sock.settimeout(1)
            try:
                refused = sock.connect_ex((other_address, standin.port)) != 0
            except OSError:  # no IPv6 on this machine: nothing listens there either
                refused = True
        assert refused, f"the stand-in answers on {other_address}"
    assert requests.get(f"{standin.api_base}/_config/health", timeout=5).ok


def test_the_api_needs_a_secret_key(standin: StripeStandIn) -> None:
    answer = requests.get(f"{standin.api_base}/v1/customers", timeout=5)

    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_an_unknown_url_is_a_stripe_shaped_404(standin: StripeStandIn) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        standin.client().v1.issuing.cards.list()

    assert raised.value.http_status == 404


def test_unknown_parameters_are_refused_like_stripe(standin: StripeStandIn) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        standin.client().v1.accounts.create(params={"type": "express", "colour": "blue"})

    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "colour"


def test_every_event_can_be_fetched_and_listed(standin: StripeStandIn) -> None:
    client = standin.client()
    account = express_account(client)
    standin.complete_onboarding(account.id)

    events = client.v1.events.list(params={"type": "account.updated"}).data

    assert [event.account for event in events] == [account.id]
    assert client.v1.events.retrieve(events[0].id).data.object.id == account.id


def test_failed_deliveries_are_retried_until_accepted(
    standin: StripeStandIn, connect_webhooks: WebhookReceiver
) -> None:
    connect_webhooks.fail_next(2)
    account = express_account(standin.client())

    standin.complete_onboarding(account.id)

    delivery = standin.wait_for_delivery("account.updated")
    assert (delivery["attempts"], delivery["status"], delivery["delivered"]) == (3, 200, True)
    assert len({body for _, body in connect_webhooks.received}) == 1  # the same event, resent


def test_an_unreachable_endpoint_is_recorded_as_undelivered(standin: StripeStandIn) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    hook = f"http://127.0.0.1:{closed_port}/hook"
    standin.send_webhooks_to(hook, "whsec_x", connect_url=hook, connect_secret="whsec_y")
    account = express_account(standin.client())

    standin.complete_onboarding(account.id)

    [delivery] = standin.deliveries()
    assert delivery["type"] == "account.updated"
    assert delivery["delivered"] is False


def test_events_for_one_object_arrive_in_order(
    standin: StripeStandIn, connect_webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    account = express_account(client)
    for number in range(5):
        client.v1.accounts.update(account.id, params={"metadata": {"step": str(number)}})

    connect_webhooks.wait_for("account.updated", metadata={"business_id": "42", "step": "4"})

    steps = [event.data.object.metadata["step"] for event in connect_webhooks.events()]
    assert steps == ["0", "1", "2", "3", "4"]
