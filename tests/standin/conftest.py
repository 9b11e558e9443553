"""The Stripe stand-in's own specification: run against the real process, over HTTP."""

from tests.support.stripe_standin import standin, stripe_standin, webhooks  # noqa: F401
