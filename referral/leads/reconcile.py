"""Reconciliation of lead purchases: each PaymentIntent Stripe charged for a
lead (found by the lead purchase id in its metadata) against the purchase and
the ledger transactions booked under its Stripe ids."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func
from sqlmodel import Session, select

from referral.leads.models import PAID_FOR, LeadPurchase, PurchaseStatus
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.payments import gateway
from referral.payments.mismatches import (
    Mismatch,
    charged_twice,
    compare,
    gather,
    not_applied,
    payment_check,
    unknown,
)

# Lead purchases that Stripe charged: paid, or paid and refunded after a dispute.
# (A purchase refunded without ever being paid lost its place while paying.)


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


@payment_check("lead_purchase")
def check_lead_purchases(
    session: Session, since: dt.datetime, payments: list[gateway.PaymentRecord]
) -> tuple[int, list[Mismatch]]:
    ours, by_purchase = gather(session, LeadPurchase, since, payments)
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
        return unknown(subject, succeeded)
    found = charged_twice(subject, succeeded, purchase.price_cents)
    paid_here = purchase.status in PAID_FOR and purchase.paid_at is not None
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
    if purchase.status == PurchaseStatus.REFUNDED and purchase.paid_at is None:
        return found + _check_lost_place(subject, payment, figures)
    if not paid_here:
        return [*found, not_applied(subject, payment, purchase.status, figures)]
    comparisons = [
        ("amount charged", "charged", payment.amount_cents),
        ("platform fee", "fee", payment.platform_fee_cents),
        ("amount transferred", "transferred", payment.transferred_cents),
    ]
    return (
        found
        + compare(subject, payment, figures, comparisons)
        + _check_lead_refund(subject, purchase, payment, figures)
    )


def _check_lead_refund(
    subject: str, purchase: LeadPurchase, payment: gateway.PaymentRecord, figures: dict[str, int]
) -> list[Mismatch]:
    """A refund (an upheld dispute): the purchase row, and the ledger's booking
    of the platform's net (refunded less the transfer reversed)."""
    found = []
    ours = purchase.price_cents if purchase.status == PurchaseStatus.REFUNDED else 0
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
