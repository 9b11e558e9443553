"""Reconciliation: the ledger against Stripe's PaymentIntents, charges and
transfers, for settlements and lead purchases (found by the settlement id or
lead purchase id in their metadata). Every difference is listed; nothing is
corrected automatically."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, select

from referral.db import utcnow
from referral.leads.models import LeadPurchase
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.payments import gateway
from referral.settlements.models import ReconciliationRun, Settlement

RECONCILE = "settlements.reconcile"
CHARGED_STATUSES = ("paid", "disputed", "reversed")


@dataclass(frozen=True)
class Mismatch:
    subject: str  # what the money was for: "settlement 12", "lead purchase 7"
    stripe_id: str
    problem: str
    ledger_cents: int | None
    stripe_cents: int | None


def _ledger(session: Session) -> dict[int, dict[str, int]]:
    """Per settlement: cents charged, fee kept, transferred, refunded and
    transfer reversed, summed from the platform's side of each transaction."""
    rows = session.exec(
        select(
            LedgerTransaction.settlement_id,
            LedgerTransaction.kind,
            LedgerEntry.account,
            func.sum(LedgerEntry.amount_cents),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.settlement_id.is_not(None),  # type: ignore[union-attr]
            LedgerEntry.account.in_(("stripe_balance", "platform_fees")),  # type: ignore[attr-defined]
        )
        .group_by(LedgerTransaction.settlement_id, LedgerTransaction.kind, LedgerEntry.account)
    ).all()
    figures: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for settlement_id, kind, account, total in rows:
        total = int(total)
        if kind == "settlement_charge" and account == "stripe_balance":
            figures[settlement_id]["charged"] += total
        elif kind == "platform_fee" and account == "platform_fees":
            figures[settlement_id]["fee"] -= total
        elif kind == "transfer" and account == "stripe_balance":
            figures[settlement_id]["transferred"] -= total
        elif kind == "refund" and account == "stripe_balance":
            figures[settlement_id]["refunded"] -= total
        elif kind == "transfer_reversal" and account == "stripe_balance":
            figures[settlement_id]["transfer_reversed"] += total
    return figures


def find_mismatches(session: Session, *, since_days: int = 90) -> tuple[int, list[Mismatch]]:
    """(settlements and lead purchases checked, mismatches)."""
    since = utcnow() - dt.timedelta(days=since_days)
    payments = gateway.reconcilable_payments(created_since=int(since.timestamp()))
    settlements_checked, settlement_mismatches = _settlements(
        session, since, [p for p in payments if p.pays_for == "settlement"]
    )
    purchases_checked, purchase_mismatches = _lead_purchases(
        session, since, [p for p in payments if p.pays_for == "lead_purchase"]
    )
    return settlements_checked + purchases_checked, settlement_mismatches + purchase_mismatches


Subject = TypeVar("Subject", Settlement, LeadPurchase)


def _gather(
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


def _settlements(
    session: Session, since: dt.datetime, payments: list[gateway.PaymentRecord]
) -> tuple[int, list[Mismatch]]:
    ours, succeeded = _gather(session, Settlement, since, payments)
    checked = sorted(set(ours) | {p.subject_id for p in payments})
    ledger = _ledger(session)
    mismatches: list[Mismatch] = []
    for settlement_id in checked:
        mismatches += _check(
            settlement_id,
            ours.get(settlement_id),
            succeeded.get(settlement_id, []),
            ledger.get(settlement_id, {}),
        )
    return len(checked), mismatches


def _check(
    settlement_id: int,
    settlement: Settlement | None,
    succeeded: list[gateway.PaymentRecord],
    figures: dict[str, int],
) -> list[Mismatch]:
    """One settlement against its successful PaymentIntents at Stripe."""
    subject = f"settlement {settlement_id}"
    if settlement is None:
        return _unknown(subject, succeeded)
    found = _charged_twice(subject, succeeded, settlement.net_cents)
    if not succeeded:
        if settlement.status in CHARGED_STATUSES and settlement.net_cents > 0:
            found.append(
                Mismatch(
                    subject,
                    settlement.payment_intent_id or "",
                    "recorded as charged but no successful charge at Stripe",
                    figures.get("charged", 0),
                    0,
                )
            )
        return found
    payment = succeeded[0]
    if settlement.status not in CHARGED_STATUSES:
        return [*found, _not_applied(subject, payment, settlement.status, figures)]
    return found + _compare(
        subject,
        payment,
        figures,
        [
            ("amount charged", "charged", payment.amount_cents),
            ("platform fee", "fee", payment.platform_fee_cents),
            ("amount transferred", "transferred", payment.transferred_cents),
            ("amount refunded", "refunded", max(payment.refunded_cents, settlement.refunded_cents)),
            ("transfer reversed", "transfer_reversed", payment.transfer_reversed_cents),
        ],
    )


def _unknown(subject: str, succeeded: list[gateway.PaymentRecord]) -> list[Mismatch]:
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


def _charged_twice(
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


def _not_applied(
    subject: str, payment: gateway.PaymentRecord, status: str, figures: dict[str, int]
) -> Mismatch:
    return Mismatch(
        subject,
        payment.payment_intent_id,
        f"charged at Stripe but {status} here (a webhook not applied?)",
        figures.get("charged", 0),
        payment.amount_cents,
    )


def _compare(
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


# --- lead purchases --------------------------------------------------------------------

# Lead purchases that Stripe charged: paid, or paid and refunded after a dispute.
# (A purchase refunded without ever being paid lost its place while paying.)
LEAD_PAID_STATUSES = ("paid", "refunded")


def _lead_ledger(session: Session) -> dict[str, dict[str, int]]:
    """Per Stripe object (the PaymentIntent for the sale, the charge for the
    transfer and the refund): the platform's side of the lead transactions.

    A lead refund books only the platform's net (refunded less the transfer
    reversed), so that is what can be compared; `refunds` counts the bookings."""
    rows = session.exec(
        select(
            LedgerTransaction.stripe_object_id,
            LedgerTransaction.kind,
            LedgerEntry.account,
            func.sum(LedgerEntry.amount_cents),
            func.count(func.distinct(LedgerTransaction.id)),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.settlement_id.is_(None),  # type: ignore[union-attr]
            LedgerTransaction.stripe_object_id.is_not(None),  # type: ignore[union-attr]
            LedgerTransaction.kind.in_(("lead_sale", "transfer", "lead_refund")),  # type: ignore[attr-defined]
            LedgerEntry.account.in_(("stripe_balance", "platform_fees")),  # type: ignore[attr-defined]
        )
        .group_by(LedgerTransaction.stripe_object_id, LedgerTransaction.kind, LedgerEntry.account)
    ).all()
    figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for object_id, kind, account, total, transactions in rows:
        total = int(total)
        if kind == "lead_sale" and account == "stripe_balance":
            figures[object_id]["charged"] += total
        elif kind == "lead_sale" and account == "platform_fees":
            figures[object_id]["fee"] -= total
        elif kind == "transfer" and account == "stripe_balance":
            figures[object_id]["transferred"] -= total
        elif kind == "lead_refund" and account == "stripe_balance":
            figures[object_id]["refund_net"] -= total
            figures[object_id]["refunds"] += int(transactions)
    return figures


def _lead_purchases(
    session: Session, since: dt.datetime, payments: list[gateway.PaymentRecord]
) -> tuple[int, list[Mismatch]]:
    ours, by_purchase = _gather(session, LeadPurchase, since, payments)
    checked = sorted(set(ours) | {p.subject_id for p in payments})
    ledger = _lead_ledger(session)
    mismatches: list[Mismatch] = []
    for purchase_id in checked:
        purchase = ours.get(purchase_id)
        succeeded = by_purchase.get(purchase_id, [])
        object_ids = {p.payment_intent_id for p in succeeded} | {
            p.charge_id for p in succeeded if p.charge_id
        }
        if purchase is not None:
            object_ids |= {i for i in (purchase.payment_intent_id, purchase.charge_id) if i}
        figures: dict[str, int] = defaultdict(int)
        for object_id in object_ids:
            for key, value in ledger.get(object_id, {}).items():
                figures[key] += value
        mismatches += _check_lead_purchase(purchase_id, purchase, succeeded, figures)
    return len(checked), mismatches


def _check_lead_purchase(
    purchase_id: int,
    purchase: LeadPurchase | None,
    succeeded: list[gateway.PaymentRecord],
    figures: dict[str, int],
) -> list[Mismatch]:
    """One lead purchase against its successful PaymentIntents at Stripe and
    the ledger transactions booked under their ids."""
    subject = f"lead purchase {purchase_id}"
    if purchase is None:
        return _unknown(subject, succeeded)
    found = _charged_twice(subject, succeeded, purchase.price_cents)
    paid_here = purchase.status in LEAD_PAID_STATUSES and purchase.paid_at is not None
    if not succeeded:
        if paid_here:
            found.append(
                Mismatch(
                    subject,
                    purchase.payment_intent_id or "",
                    "recorded as paid but no successful charge at Stripe",
                    figures.get("charged", 0),
                    0,
                )
            )
        return found
    payment = succeeded[0]
    if purchase.status == "refunded" and purchase.paid_at is None:
        return found + _check_lost_place(subject, payment, figures)
    if not paid_here:
        return [*found, _not_applied(subject, payment, purchase.status, figures)]
    comparisons = [
        ("amount charged", "charged", payment.amount_cents),
        ("platform fee", "fee", payment.platform_fee_cents),
        ("amount transferred", "transferred", payment.transferred_cents),
    ]
    return (
        found
        + _compare(subject, payment, figures, comparisons)
        + _check_lead_refund(subject, purchase, payment, figures)
    )


def _check_lead_refund(
    subject: str, purchase: LeadPurchase, payment: gateway.PaymentRecord, figures: dict[str, int]
) -> list[Mismatch]:
    """A refund (an upheld dispute): the purchase row, and the ledger's booking
    of the platform's net (refunded less the transfer reversed)."""
    found = []
    ours = purchase.price_cents if purchase.status == "refunded" else 0
    if ours != payment.refunded_cents:
        found.append(
            Mismatch(
                subject,
                payment.charge_id or payment.payment_intent_id,
                f"amount refunded (the purchase is {purchase.status} here)",
                ours,
                payment.refunded_cents,
            )
        )
    booked, net = figures.get("refunds", 0), figures.get("refund_net", 0)
    if payment.refunded_cents and not booked:
        problem, theirs = "refund not booked in the ledger", payment.refunded_cents
    elif booked and not payment.refunded_cents:
        problem, theirs = "refund booked but nothing refunded at Stripe", 0
    elif net != payment.refunded_cents - payment.transfer_reversed_cents:
        problem = "amount refunded less transfer reversed"
        theirs = payment.refunded_cents - payment.transfer_reversed_cents
    else:
        return found
    found.append(
        Mismatch(subject, payment.charge_id or payment.payment_intent_id, problem, net, theirs)
    )
    return found


def _check_lost_place(
    subject: str, payment: gateway.PaymentRecord, figures: dict[str, int]
) -> list[Mismatch]:
    """A buyer who lost the last place while paying: refunded in full at Stripe
    and never booked (the charge never was)."""
    found = []
    if payment.refunded_cents != payment.amount_cents:
        found.append(
            Mismatch(
                subject,
                payment.charge_id or payment.payment_intent_id,
                "lost its place while paying but not refunded in full at Stripe",
                payment.amount_cents,
                payment.refunded_cents,
            )
        )
    if any(figures.values()):
        found.append(
            Mismatch(
                subject,
                payment.payment_intent_id,
                "lost its place while paying yet booked in the ledger",
                figures.get("charged", 0),
                payment.amount_cents,
            )
        )
    return found


def run(session: Session, run_id: int) -> ReconciliationRun:
    """Fill in a queued run (the job's work)."""
    record = session.get(ReconciliationRun, run_id)
    assert record is not None
    checked, mismatches = find_mismatches(session)
    record.checked = checked
    record.mismatches = [asdict(m) for m in mismatches]
    record.status, record.finished_at = "done", utcnow()
    return record


def latest(session: Session) -> ReconciliationRun | None:
    return session.exec(  # type: ignore[no-any-return]
        select(ReconciliationRun).order_by(ReconciliationRun.id.desc())  # type: ignore[union-attr]
    ).first()
