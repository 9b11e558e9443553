"""A settlement's PaymentIntent in a chosen state, for tests that apply
payment states directly instead of through the Stripe stand-in."""

from __future__ import annotations

from referral.payments.gateway import PaymentState
from referral.settlements.models import Settlement


def payment(settlement: Settlement, status: str = "succeeded") -> PaymentState:
    return PaymentState(
        payment_intent_id=f"pi_{settlement.id}_{settlement.attempts}",
        status=status,
        amount_cents=settlement.net_cents,
        currency="USD",
        charge_id=f"ch_{settlement.id}_{settlement.attempts}",
        metadata={"settlement_id": str(settlement.id), "attempt": str(settlement.attempts)},
        failure_message="Your card was declined." if status != "succeeded" else "",
    )
