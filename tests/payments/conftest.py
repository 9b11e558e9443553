"""Payments run against the local Stripe stand-in over real HTTP: the app calls
it through stripe-python, and it posts signed webhooks to the app served on
loopback, where a job worker applies them."""

from __future__ import annotations

from tests.support.payments import (  # noqa: F401
    app_overrides,
    live,
    stripe_field_reads,
)
from tests.support.stripe_standin import standin, stripe_standin  # noqa: F401
