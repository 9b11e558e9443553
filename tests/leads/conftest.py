"""The lead marketplace runs against the local Stripe stand-in over real HTTP,
as payments do (tests/payments/conftest.py): the app on loopback receives its
signed webhooks, a job worker applies them."""

from __future__ import annotations

import pytest

from tests.support.leads import Market
from tests.support.payments import (  # noqa: F401
    app_overrides,
    live,
    stripe_field_reads,
)
from tests.support.stripe_standin import standin, stripe_standin  # noqa: F401


@pytest.fixture
def market(app, db, standin, live) -> Market:  # type: ignore[no-untyped-def]  # noqa: F811
    return Market(app, db, standin)
