"""The Stripe stand-in's own specification: run against the real process, over HTTP."""

from tests.support.stripe_standin import (  # noqa: F401
    connect_webhooks,
    standin,
    stripe_standin,
    webhooks,
)
