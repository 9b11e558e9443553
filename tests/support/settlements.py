"""A settlement's PaymentIntent in a chosen state, for tests that apply
payment states directly instead of through the Stripe stand-in; "Settle now"
pressed, its jobs, and what the business was told."""

from __future__ import annotations

from sqlmodel import Session, select

from referral.jobs.models import Job
from referral.notifications.models import Notification
from referral.payments.gateway import PaymentState
from referral.settlements.models import Settlement
from referral.settlements.services import SETTLE_NOW


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


def press_settle_now(client):  # type: ignore[no-untyped-def]
    """Press "Settle now" on the settlements page; the page it lands on, as text."""
    response = client.post_form("/settlements/run", {}, page="/settlements", follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def told(db: Session, business_id: int) -> list[str]:
    """The titles of a business's notifications, oldest first."""
    db.expire_all()
    return list(
        db.exec(
            select(Notification.title)
            .where(Notification.business_id == business_id)
            .order_by(Notification.id)  # type: ignore[arg-type]
        ).all()
    )


def settle_now_jobs(db: Session) -> list[Job]:
    """Every "settle now" job queued so far, in any state."""
    db.expire_all()
    return list(db.exec(select(Job).where(Job.kind == SETTLE_NOW)).all())
