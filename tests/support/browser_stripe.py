"""The app of a browser test that pays through the Stripe stand-in: its settings
(import `app_overrides` into the test module; `stripe` in tests/browser/conftest.py
then points the stand-in's webhooks at it)."""

from __future__ import annotations

import pytest

from tests.support.stripe_standin import StripeStandIn

WEBHOOK_SECRET = "whsec_browser_money"
CONNECT_WEBHOOK_SECRET = "whsec_browser_money_connect"


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {
        "STRIPE_API_BASE": stripe_standin.api_base,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
    }
