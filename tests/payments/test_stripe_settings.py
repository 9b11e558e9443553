"""Stripe settings: real Stripe needs both webhook secrets; the stand-in's and the
install id that namespaces idempotency keys are generated once and kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from referral.config import resolve_stripe_settings


@pytest.mark.parametrize("missing", ["STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET"])
def test_real_stripe_refuses_to_start_without_either_webhook_secret(
    tmp_path: Path, missing: str
) -> None:
    config: dict[str, object] = {
        "STRIPE_SECRET_KEY": "sk_live_example",
        "STRIPE_WEBHOOK_SECRET": "whsec_platform",
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect",
    }
    config[missing] = None

    with pytest.raises(RuntimeError, match=missing):
        resolve_stripe_settings(config, tmp_path)


def test_the_stand_in_secrets_and_the_install_id_are_generated_once_and_kept(
    tmp_path: Path,
) -> None:
    first: dict[str, object] = {}
    second: dict[str, object] = {}

    resolve_stripe_settings(first, tmp_path)
    resolve_stripe_settings(second, tmp_path)

    assert first == second
    assert str(first["STRIPE_WEBHOOK_SECRET"]).startswith("whsec_")
    assert first["STRIPE_CONNECT_WEBHOOK_SECRET"] != first["STRIPE_WEBHOOK_SECRET"]
    assert len(str(first["STRIPE_INSTALL_ID"])) == 12


def test_a_configured_install_id_is_kept(tmp_path: Path) -> None:
    config: dict[str, object] = {"STRIPE_INSTALL_ID": "prod-eu"}

    resolve_stripe_settings(config, tmp_path)

    assert config["STRIPE_INSTALL_ID"] == "prod-eu"


def test_every_request_names_the_api_version_the_sdk_pins(app, standin) -> None:  # type: ignore[no-untyped-def]
    import stripe

    from referral.payments import gateway

    with app.app_context():
        customer = gateway.client().v1.customers.create(params={"email": "owner@example.com"})

    assert gateway.API_VERSION == stripe.api_version
    assert customer.last_response.headers["Stripe-Version"] == gateway.API_VERSION
