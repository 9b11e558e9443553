"""Background work for payments: applying stored Stripe events."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.jobs.queue import job_handler
from referral.payments import webhooks
from referral.payments.models import StripeEvent


@job_handler(webhooks.APPLY_STRIPE_EVENT)
def apply_stripe_event(session: Session, payload: dict[str, Any]) -> None:
    event = session.get(StripeEvent, payload["event_id"], with_for_update=True)
    if event is not None:
        webhooks.apply(session, event)
