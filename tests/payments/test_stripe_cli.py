"""`referral stripe setup` makes both webhook endpoints; `referral stripe check`
walks the money path (here on the stand-in, as in CI)."""

from __future__ import annotations

import re

import stripe

from referral.payments import webhooks
from referral.payments.events import handled_event_types


def test_setup_creates_both_endpoints_in_the_apps_version_for_exactly_the_handled_events(
    app, standin
):
    result = app.test_cli_runner().invoke(args=["stripe", "setup", "--url", "https://app.test"])

    assert result.exit_code == 0, result.output
    secrets = dict(re.findall(r"(STRIPE_\w*WEBHOOK_SECRET)=(whsec_\w+)", result.output))
    assert set(secrets) == {"STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET"}
    endpoints = {e.url: e for e in standin.client().v1.webhook_endpoints.list().data}
    platform = endpoints["https://app.test/stripe/webhook"]
    connect = endpoints["https://app.test/stripe/webhook/connect"]
    assert platform.api_version == connect.api_version == stripe.api_version
    assert sorted(platform.enabled_events) == sorted(webhooks.platform_events())
    assert connect.enabled_events == ["account.updated"]
    assert set(webhooks.platform_events()) | {"account.updated"} == set(handled_event_types())

    again = app.test_cli_runner().invoke(args=["stripe", "setup", "--url", "https://app.test"])

    assert again.exit_code == 0 and "whsec_" not in again.output
    assert again.output.count("exists") == 2
    assert len(standin.client().v1.webhook_endpoints.list().data) == 2


def test_check_walks_onboarding_card_charge_refund_and_dispute_on_the_stand_in(app, standin):
    result = app.test_cli_runner().invoke(args=["stripe", "check"])

    assert result.exit_code == 0, result.output
    for step in ("onboarding link", "saved card", "destination charge", "refund", "dispute"):
        assert f"pass  {step}:" in result.output
    assert "stripe check: 5 of 5 steps passed" in result.output
