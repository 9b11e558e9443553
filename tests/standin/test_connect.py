"""Express accounts and onboarding through account links and the hosted page."""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from tests.support.stripe_standin import StripeStandIn, WebhookReceiver, expected_signature

from .flows import express_account


def onboarding_link(client: stripe.StripeClient, account_id: str) -> stripe.AccountLink:
    return client.v1.account_links.create(
        params={
            "account": account_id,
            "refresh_url": "http://app.test/connect/refresh",
            "return_url": "http://app.test/connect/return",
            "type": "account_onboarding",
        }
    )


def test_a_new_express_account_cannot_be_paid_until_onboarded(standin: StripeStandIn) -> None:
    account = express_account(standin.client())

    assert account.id.startswith("acct_")
    assert account.object == "account"
    assert account.type == "express"
    assert account.livemode is False
    assert account.created > 0
    assert account.email == "plumber@example.com"
    assert account.metadata.to_dict() == {"business_id": "42"}
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (
        False,
        False,
        False,
    )
    assert "external_account" in account.requirements.currently_due
    assert "tos_acceptance.date" in account.requirements.currently_due
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}


def test_an_account_link_points_at_the_local_onboarding_page(standin: StripeStandIn) -> None:
    client = standin.client()
    account = express_account(client)

    link = onboarding_link(client, account.id)

    assert link.object == "account_link"
    assert link.url.startswith(f"{standin.api_base}/_standin/onboarding/")
    assert link.expires_at > time.time()
    page = requests.get(link.url, timeout=5)
    assert page.status_code == 200
    assert "Agree and submit" in page.text
    assert "Save and finish later" in page.text
    assert "<script" not in page.text


def test_agreeing_on_the_page_completes_onboarding_and_sends_a_signed_connect_event(
    standin: StripeStandIn, webhooks: WebhookReceiver, connect_webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    account = express_account(client)
    link = onboarding_link(client, account.id)

    answer = requests.post(link.url, data={"action": "submit"}, allow_redirects=False, timeout=5)

    assert answer.status_code == 303
    assert answer.headers["Location"] == "http://app.test/connect/return"
    account = client.v1.accounts.retrieve(account.id)
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (
        True,
        True,
        True,
    )
    assert account.requirements.currently_due == []
    assert account.requirements.disabled_reason is None

    event = connect_webhooks.wait_for("account.updated", id=account.id)
    assert event.account == account.id  # a Connect event names the connected account
    assert [e.type for e in webhooks.events()] == []  # and goes to the Connect endpoint only
    assert event.object == "event" and event.id.startswith("evt_")
    assert event.livemode is False
    assert event.data.object.charges_enabled is True
    assert event.data.previous_attributes.charges_enabled is False
    assert client.v1.events.retrieve(event.id).type == "account.updated"


def test_the_signature_is_stripes_v1_hmac_of_timestamp_and_payload(
    standin: StripeStandIn, connect_webhooks: WebhookReceiver
) -> None:
    account = express_account(standin.client())
    standin.complete_onboarding(account.id)
    connect_webhooks.wait_for("account.updated")

    headers, payload = connect_webhooks.received[-1]
    timestamp, signature = (
        part.split("=", 1)[1] for part in headers["Stripe-Signature"].split(",")
    )
    assert signature == expected_signature(payload, connect_webhooks.secret, int(timestamp))
    assert abs(int(timestamp) - time.time()) < 60
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, headers["Stripe-Signature"], "whsec_wrong")


def test_finishing_later_returns_without_changing_the_account(standin: StripeStandIn) -> None:
    client = standin.client()
    account = express_account(client)
    link = onboarding_link(client, account.id)

    answer = requests.post(link.url, data={"action": "later"}, allow_redirects=False, timeout=5)

    assert answer.status_code == 303
    assert answer.headers["Location"] == "http://app.test/connect/return"
    assert client.v1.accounts.retrieve(account.id).details_submitted is False


def test_a_used_link_sends_the_user_to_the_refresh_url(standin: StripeStandIn) -> None:
    client = standin.client()
    link = onboarding_link(client, express_account(client).id)
    requests.post(link.url, data={"action": "later"}, allow_redirects=False, timeout=5)

    again = requests.get(link.url, allow_redirects=False, timeout=5)

    assert again.status_code == 303
    assert again.headers["Location"] == "http://app.test/connect/refresh"


def test_updating_metadata_sends_account_updated(
    standin: StripeStandIn, connect_webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    account = express_account(client)

    updated = client.v1.accounts.update(account.id, params={"metadata": {"plan": "pro"}})

    assert updated.metadata.to_dict() == {"business_id": "42", "plan": "pro"}
    event = connect_webhooks.wait_for("account.updated", id=account.id)
    assert event.account == account.id
    assert event.data.object.metadata.plan == "pro"


def test_an_unknown_account_is_resource_missing(standin: StripeStandIn) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        standin.client().v1.accounts.retrieve("acct_nope")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_platform_events_go_to_the_platform_endpoint_only(
    standin: StripeStandIn, webhooks: WebhookReceiver, connect_webhooks: WebhookReceiver
) -> None:
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "owner@example.com"})

    event = webhooks.wait_for("customer.created", id=customer.id)

    assert getattr(event, "account", None) is None
    assert connect_webhooks.events() == []


def test_events_are_rendered_in_the_endpoints_api_version(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> None:
    standin.send_webhooks_to(webhooks.url, webhooks.secret, api_version="2025-01-27.acacia")
    client = standin.client()
    customer = client.v1.customers.create(params={"email": "owner@example.com"})

    event = webhooks.wait_for("customer.created", id=customer.id)

    assert event.api_version == "2025-01-27.acacia"
