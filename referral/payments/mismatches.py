"""What reconciliation reports, and the checks every kind of payment shares:
a charge for a record we do not have, a record charged twice, a charge not
applied here, figures that differ. Settlements (referral/settlements/reconcile.py)
and lead purchases (referral/leads/reconcile.py) each compare their own: they
register a check for what their PaymentIntents pay for (`payment_check`), and
`find_mismatches` hands each the PaymentIntents Stripe has for it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlmodel import Session, select

from referral.db import utcnow
from referral.payments import gateway
from referral.tables import TableBase


@dataclass(frozen=True)
class Mismatch:
    subject: str  # what the money was for: "settlement 12", "lead purchase 7"
    stripe_id: str
    problem: str
    ledger_cents: int | None
    stripe_cents: int | None


Subject = TypeVar("Subject", bound=TableBase)

# (session, since when, Stripe's PaymentIntents for this kind of record) ->
# (records checked, mismatches).
PaymentCheck = Callable[
    [Session, dt.datetime, list[gateway.PaymentRecord]], tuple[int, list[Mismatch]]
]
PAYMENT_CHECKS: dict[str, PaymentCheck] = {}


def payment_check(pays_for: str) -> Callable[[PaymentCheck], PaymentCheck]:
    """Register the check of one kind of record paid through Stripe (one of
    gateway.PAYS_FOR: "settlement", "lead_purchase")."""
    assert pays_for in gateway.PAYS_FOR, pays_for

    def register(check: PaymentCheck) -> PaymentCheck:
        PAYMENT_CHECKS[pays_for] = check
        return check

    return register


def find_mismatches(session: Session, *, since_days: int = 90) -> tuple[int, list[Mismatch]]:
    """(records checked, mismatches) over every kind of record paid through
    Stripe, in the order of gateway.PAYS_FOR (Stripe is listed once)."""
    since = utcnow() - dt.timedelta(days=since_days)
    payments = gateway.reconcilable_payments(created_since=int(since.timestamp()))
    checked, mismatches = 0, []
    for kind in gateway.PAYS_FOR:
        check = PAYMENT_CHECKS.get(kind)
        if check is not None:
            count, found = check(session, since, [p for p in payments if p.pays_for == kind])
            checked, mismatches = checked + count, mismatches + found
    return checked, mismatches


def gather(
    session: Session,
    model: type[Subject],
    since: dt.datetime,
    payments: list[gateway.PaymentRecord],
) -> tuple[dict[int, Subject], dict[int, list[gateway.PaymentRecord]]]:
    """Our records created since then or paid for at Stripe, and the
    successful PaymentIntents of each, both by the record's id."""
    succeeded: dict[int, list[gateway.PaymentRecord]] = defaultdict(list)
    for payment in payments:
        if payment.status == "succeeded":
            succeeded[payment.subject_id].append(payment)
    paid_for = sorted({p.subject_id for p in payments})
    ours = {
        record.id: record
        for record in session.exec(
            select(model).where((model.created_at >= since) | model.id.in_(paid_for))  # type: ignore[union-attr]
        ).all()
    }
    return ours, succeeded


def unknown(subject: str, succeeded: list[gateway.PaymentRecord]) -> list[Mismatch]:
    """Charges at Stripe for a record we do not have."""
    what = subject.rsplit(" ", 1)[0]
    return [
        Mismatch(
            subject,
            p.payment_intent_id,
            f"charged at Stripe for a {what} we do not have",
            None,
            p.amount_cents,
        )
        for p in succeeded
    ]


def charged_twice(
    subject: str, succeeded: list[gateway.PaymentRecord], ours_cents: int
) -> list[Mismatch]:
    if len(succeeded) < 2:
        return []
    return [
        Mismatch(
            subject,
            ", ".join(p.payment_intent_id for p in succeeded),
            "charged more than once",
            ours_cents,
            sum(p.amount_cents for p in succeeded),
        )
    ]


def not_applied(
    subject: str, payment: gateway.PaymentRecord, status: str, figures: dict[str, int]
) -> Mismatch:
    return Mismatch(
        subject,
        payment.payment_intent_id,
        f"charged at Stripe but {status} here (a webhook not applied?)",
        figures.get("charged", 0),
        payment.amount_cents,
    )


def compare(
    subject: str,
    payment: gateway.PaymentRecord,
    figures: dict[str, int],
    comparisons: list[tuple[str, str, int]],
) -> list[Mismatch]:
    """(problem, ledger figure, Stripe's cents): a mismatch for each that differs."""
    return [
        Mismatch(subject, payment.payment_intent_id, problem, figures.get(key, 0), theirs)
        for problem, key, theirs in comparisons
        if figures.get(key, 0) != theirs
    ]
