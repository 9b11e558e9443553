"""Reconciliation: the ledger against Stripe's PaymentIntents, charges,
transfers and disputes, for settlements and lead purchases (found by the
settlement id or lead purchase id in their metadata), and the ledger against
itself (the money invariants, settlements/invariants.py). Every difference is
listed; nothing is corrected automatically. The settlements' checks are here
(registered with referral/payments/mismatches.py, which runs them all); the
lead purchases' are in referral/leads/reconcile.py."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict

from sqlalchemy import func
from sqlmodel import Session, select

from referral.db import utcnow
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.payments import gateway
from referral.payments.mismatches import (
    Mismatch,
    charged_twice,
    compare,
    find_mismatches,
    gather,
    not_applied,
    payment_check,
    unknown,
)
from referral.settlements.invariants import check_invariants
from referral.settlements.models import CHARGED, ReconciliationRun, Settlement

RECONCILE = "settlements.reconcile"


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
        elif (
            kind in ("dispute_withdrawal", "dispute_reinstatement") and account == "stripe_balance"
        ):
            figures[settlement_id]["disputed"] -= total
        elif kind == "dispute_fee" and account == "stripe_balance":
            figures[settlement_id]["dispute_fees"] -= total
        if account == "stripe_balance":
            figures[settlement_id]["balance"] += total
    return figures


@payment_check("settlement")
def _settlements(
    session: Session, since: dt.datetime, payments: list[gateway.PaymentRecord]
) -> tuple[int, list[Mismatch]]:
    ours, succeeded = gather(session, Settlement, since, payments)
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
        return unknown(subject, succeeded)
    found = charged_twice(subject, succeeded, settlement.net_cents)
    if not succeeded:
        if settlement.status in CHARGED and settlement.net_cents > 0:
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
    if settlement.status not in CHARGED:
        return [*found, not_applied(subject, payment, settlement.status, figures)]
    return found + compare(
        subject,
        payment,
        figures,
        [
            ("amount charged", "charged", payment.amount_cents),
            ("platform fee", "fee", payment.platform_fee_cents),
            ("amount transferred", "transferred", payment.transferred_cents),
            ("amount refunded", "refunded", payment.refunded_cents),
            ("transfer reversed", "transfer_reversed", payment.transfer_reversed_cents),
            ("withdrawn for a dispute", "disputed", payment.disputed_cents),
            ("dispute fees", "dispute_fees", payment.dispute_fee_cents),
            ("platform's Stripe balance for the charge", "balance", platform_balance(payment)),
        ],
    )


def platform_balance(payment: gateway.PaymentRecord) -> int:
    """What Stripe's moves for one charge left in the platform's balance: the
    charge, less the transfer (the fee stays), plus transfer reversals, less
    refunds, what a dispute withdrew and its fees. Stripe's processing fees are
    outside the ledger."""
    return (
        payment.amount_cents
        - payment.transferred_cents
        + payment.transfer_reversed_cents
        - payment.refunded_cents
        - payment.disputed_cents
        - payment.dispute_fee_cents
    )


def run(session: Session, run_id: int) -> ReconciliationRun:
    """Fill in a queued run (the job's work)."""
    record = session.get(ReconciliationRun, run_id)
    assert record is not None
    checked, mismatches = find_mismatches(session)
    record.checked = checked
    record.mismatches = [asdict(m) for m in mismatches]
    record.violations = [asdict(v) for v in check_invariants(session)]
    record.status, record.finished_at = "done", utcnow()
    return record


def latest(session: Session) -> ReconciliationRun | None:
    return session.exec(  # type: ignore[no-any-return]
        select(ReconciliationRun).order_by(ReconciliationRun.id.desc())  # type: ignore[union-attr]
    ).first()
