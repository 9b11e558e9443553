"""Reconciliation: the ledger against Stripe's PaymentIntents, charges and
transfers (found by the settlement id in their metadata). Every difference is
listed; nothing is corrected automatically."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from referral.db import utcnow
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.payments import gateway
from referral.settlements.models import ReconciliationRun, Settlement

RECONCILE = "settlements.reconcile"
CHARGED_STATUSES = ("paid", "disputed", "reversed")


@dataclass(frozen=True)
class Mismatch:
    settlement_id: int
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
    """(settlements checked, mismatches)."""
    since = utcnow() - dt.timedelta(days=since_days)
    payments = gateway.settlement_payments(created_since=int(since.timestamp()))
    by_settlement: dict[int, list[gateway.PaymentRecord]] = defaultdict(list)
    for payment in payments:
        by_settlement[payment.settlement_id].append(payment)
    ours = {
        s.id: s
        for s in session.exec(
            select(Settlement).where(
                (Settlement.created_at >= since) | Settlement.id.in_(list(by_settlement))  # type: ignore[union-attr]
            )
        ).all()
    }
    ledger = _ledger(session)
    mismatches: list[Mismatch] = []
    for settlement_id in sorted(set(ours) | set(by_settlement)):
        mismatches += _check(
            settlement_id,
            ours.get(settlement_id),
            [p for p in by_settlement.get(settlement_id, []) if p.status == "succeeded"],
            ledger.get(settlement_id, {}),
        )
    return len(set(ours) | set(by_settlement)), mismatches


def _check(
    settlement_id: int,
    settlement: Settlement | None,
    succeeded: list[gateway.PaymentRecord],
    figures: dict[str, int],
) -> list[Mismatch]:
    """One settlement against its successful PaymentIntents at Stripe."""
    if settlement is None:
        return [
            Mismatch(
                settlement_id,
                p.payment_intent_id,
                "charged at Stripe for a settlement we do not have",
                None,
                p.amount_cents,
            )
            for p in succeeded
        ]
    found: list[Mismatch] = []
    if len(succeeded) > 1:
        found.append(
            Mismatch(
                settlement_id,
                ", ".join(p.payment_intent_id for p in succeeded),
                "charged more than once",
                settlement.net_cents,
                sum(p.amount_cents for p in succeeded),
            )
        )
    if not succeeded:
        if settlement.status in CHARGED_STATUSES and settlement.net_cents > 0:
            found.append(
                Mismatch(
                    settlement_id,
                    settlement.payment_intent_id or "",
                    "recorded as charged but no successful charge at Stripe",
                    figures.get("charged", 0),
                    0,
                )
            )
        return found
    payment = succeeded[0]
    if settlement.status not in CHARGED_STATUSES:
        found.append(
            Mismatch(
                settlement_id,
                payment.payment_intent_id,
                f"charged at Stripe but {settlement.status} here (a webhook not applied?)",
                figures.get("charged", 0),
                payment.amount_cents,
            )
        )
        return found
    comparisons = [
        ("amount charged", "charged", payment.amount_cents),
        ("platform fee", "fee", payment.platform_fee_cents),
        ("amount transferred", "transferred", payment.transferred_cents),
        ("amount refunded", "refunded", max(payment.refunded_cents, settlement.refunded_cents)),
        ("transfer reversed", "transfer_reversed", payment.transfer_reversed_cents),
    ]
    for problem, key, theirs in comparisons:
        if figures.get(key, 0) != theirs:
            found.append(
                Mismatch(
                    settlement_id, payment.payment_intent_id, problem, figures.get(key, 0), theirs
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
