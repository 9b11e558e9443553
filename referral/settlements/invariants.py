"""The money invariants (docs/money.md), checked against the database itself.

`check_invariants` is the one check: the tests call it after every step of the
stateful money test, and reconciliation lists what it finds beside what differs
from Stripe. It reads and never writes. Each violation names the invariant, the
commission, settlement, partnership or business it is about, and the cents
expected and found.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from referral.commissions.models import Commission, CommissionStatus
from referral.commissions.services import (
    current_amount,
    eligible_for_settlement,
    outstanding_cents,
)
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.settlements.models import (
    SETTLED,
    UNFINISHED,
    Settlement,
    SettlementLine,
    SettlementStatus,
)

# One name per invariant, as docs/money.md numbers them.
AMOUNT = "amount follows the terms"
SETTLED_SUM = "settled = sum of paid settlement lines"
STRANDED = "nothing outstanding is stranded"
POSITION = "ledger position = outstanding"
PENDING = "pending ledger = commissions in hold"
CLOSED = "a commission at 0 with nothing outstanding is closed"
STRIPE_BALANCE = "platform Stripe balance = fees kept - dispute fees - written off"
BALANCED = "every ledger transaction sums to zero"

# The platform's own accounts. Within one settlement's transactions they net to
# zero: what Stripe holds for the platform is the fee it kept, less the dispute
# fees it paid and what it wrote off (docs/money.md, invariant 7).
PLATFORM_ACCOUNTS = (
    "stripe_balance",
    "stripe_disputed",
    "platform_fees",
    "dispute_fees",
    "written_off",
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str
    expected_cents: int | None = None
    found_cents: int | None = None
    commission_id: int | None = None
    settlement_id: int | None = None
    partnership_id: int | None = None
    business_id: int | None = None


def check_invariants(session: Session) -> list[Violation]:
    """Every violation of the money invariants in the database (empty when sound)."""
    commissions = list(session.exec(select(Commission).order_by(Commission.id)).all())
    return [
        *_commission_checks(session, commissions),
        *_position_checks(session, commissions),
        *_settlement_checks(session),
        *_unbalanced(session),
    ]


def _settled_lines(session: Session) -> dict[int, int]:
    rows = session.exec(
        select(SettlementLine.commission_id, func.sum(SettlementLine.amount_cents))
        .join(Settlement, Settlement.id == SettlementLine.settlement_id)
        .where(Settlement.status.in_(SETTLED))  # type: ignore[attr-defined]
        .group_by(SettlementLine.commission_id)
    ).all()
    return {int(cid): int(total) for cid, total in rows}


def _statuses_by_settlement(session: Session) -> dict[int, str]:
    return {int(i): s for i, s in session.exec(select(Settlement.id, Settlement.status)).all()}


def _disputed_lines(session: Session) -> set[int]:
    """Commissions with a line in a settlement whose charge is disputed now."""
    return set(
        session.exec(
            select(SettlementLine.commission_id)
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .where(Settlement.status == SettlementStatus.DISPUTED)
        ).all()
    )


def _commission_checks(session: Session, commissions: list[Commission]) -> list[Violation]:
    settled = _settled_lines(session)
    settlement_status = _statuses_by_settlement(session)
    disputed = _disputed_lines(session)
    found: list[Violation] = []
    for c in commissions:
        where = {"commission_id": c.id, "partnership_id": c.partnership_id}
        if c.status != CommissionStatus.REVERSED and c.amount_cents != current_amount(c):
            found.append(
                Violation(
                    AMOUNT,
                    f"commission {c.id} ({c.status})",
                    current_amount(c),
                    c.amount_cents,
                    **where,
                )
            )
        lines = settled.get(c.id, 0)  # type: ignore[arg-type]
        if c.settled_cents != lines:
            found.append(
                Violation(
                    SETTLED_SUM,
                    f"commission {c.id}: settled_cents against its paid lines",
                    lines,
                    c.settled_cents,
                    **where,
                )
            )
        outstanding = outstanding_cents(c)
        if outstanding != 0 and not _accounted_for(c, settlement_status, disputed):
            found.append(
                Violation(
                    STRANDED,
                    f"commission {c.id} is {c.status} with {outstanding} cents outstanding"
                    " that no open settlement holds and no next settlement will take",
                    0,
                    outstanding,
                    settlement_id=c.settlement_id,
                    **where,
                )
            )
        if (
            c.status in (CommissionStatus.APPROVED, CommissionStatus.PAID)
            and c.amount_cents == 0
            and outstanding == 0
        ):
            found.append(
                Violation(
                    CLOSED,
                    f"commission {c.id} owes nothing and is still {c.status}",
                    None,
                    0,
                    **where,
                )
            )
        if c.status == CommissionStatus.CLOSED and (c.amount_cents != 0 or outstanding != 0):
            found.append(
                Violation(
                    CLOSED,
                    f"commission {c.id} is closed but amounts to {c.amount_cents}"
                    f" with {outstanding} outstanding",
                    0,
                    c.amount_cents,
                    **where,
                )
            )
    return found


def _accounted_for(c: Commission, settlement_status: dict[int, str], disputed: set[int]) -> bool:
    """Its outstanding amount is in a settlement under way, waits for the dispute
    of a settlement it was paid in, or will be taken by the next settlement."""
    if eligible_for_settlement(c):
        return True
    if c.status == CommissionStatus.SETTLING:
        return settlement_status.get(c.settlement_id or 0) in UNFINISHED
    if c.status == CommissionStatus.HELD:
        return c.id in disputed
    return False


def _position_checks(session: Session, commissions: list[Commission]) -> list[Violation]:
    """Per partnership and business: the ledger between the two businesses holds
    exactly what their commissions have outstanding (approved accounts) and what
    is still in hold (pending accounts). Positive: the business owes."""
    expected: dict[tuple[int, int, str], int] = defaultdict(int)
    for c in commissions:
        if c.status == CommissionStatus.PENDING:
            key, amount = "pending", c.amount_cents
        else:
            key, amount = "approved", outstanding_cents(c)
        expected[(c.partnership_id, c.payer_id, key)] += amount
        expected[(c.partnership_id, c.referrer_id, key)] -= amount
    rows = session.exec(
        select(
            LedgerEntry.partnership_id,
            LedgerEntry.business_id,
            LedgerEntry.account,
            func.sum(LedgerEntry.amount_cents),
        )
        .where(
            LedgerEntry.partnership_id.is_not(None),  # type: ignore[union-attr]
            LedgerEntry.business_id.is_not(None),  # type: ignore[union-attr]
            LedgerEntry.account.in_(  # type: ignore[attr-defined]
                ("receivable", "payable", "pending_receivable", "pending_payable")
            ),
        )
        .group_by(LedgerEntry.partnership_id, LedgerEntry.business_id, LedgerEntry.account)
    ).all()
    ledger: dict[tuple[int, int, str], int] = defaultdict(int)
    for partnership_id, business_id, account, total in rows:
        key = "pending" if account.startswith("pending_") else "approved"
        ledger[(int(partnership_id), int(business_id), key)] += int(total)
    found = []
    for key in sorted(set(expected) | set(ledger)):
        partnership_id, business_id, stage = key
        if expected.get(key, 0) != ledger.get(key, 0):
            found.append(
                Violation(
                    POSITION if stage == "approved" else PENDING,
                    f"business {business_id} in partnership {partnership_id}: ledger"
                    f" {'receivable + payable' if stage == 'approved' else 'pending accounts'}"
                    " against its commissions",
                    expected.get(key, 0),
                    ledger.get(key, 0),
                    partnership_id=partnership_id,
                    business_id=business_id,
                )
            )
    return found


def _settlement_checks(session: Session) -> list[Violation]:
    """Per settlement: the platform's accounts net to zero (Stripe holds the fee
    kept, less dispute fees and write-offs), and a charge books its net."""
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
            LedgerEntry.account.in_(PLATFORM_ACCOUNTS),  # type: ignore[attr-defined]
        )
        .group_by(LedgerTransaction.settlement_id, LedgerTransaction.kind, LedgerEntry.account)
    ).all()
    held: dict[int, int] = defaultdict(int)
    kept: dict[int, int] = defaultdict(int)
    charged: dict[int, int] = defaultdict(int)
    for settlement_id, kind, account, total in rows:
        total = int(total)
        if account in ("stripe_balance", "stripe_disputed"):
            held[settlement_id] += total
            if kind == "settlement_charge":
                charged[settlement_id] += total
        else:
            kept[settlement_id] -= total
    found = []
    for settlement in session.exec(select(Settlement).order_by(Settlement.id)).all():
        sid = settlement.id
        if held.get(sid, 0) != kept.get(sid, 0):  # type: ignore[arg-type]
            found.append(
                Violation(
                    STRIPE_BALANCE,
                    f"settlement {sid} ({settlement.status}): ledger stripe_balance against"
                    " fees kept less dispute fees and write-offs",
                    kept.get(sid, 0),  # type: ignore[arg-type]
                    held.get(sid, 0),  # type: ignore[arg-type]
                    settlement_id=sid,
                    partnership_id=settlement.partnership_id,
                )
            )
        paid = settlement.status in (
            SettlementStatus.PAID,
            SettlementStatus.DISPUTED,
            SettlementStatus.REVERSED,
        )
        expected_charge = settlement.net_cents if paid else 0
        if charged.get(sid, 0) != expected_charge:  # type: ignore[arg-type]
            found.append(
                Violation(
                    STRIPE_BALANCE,
                    f"settlement {sid} ({settlement.status}): charge booked against its net",
                    expected_charge,
                    charged.get(sid, 0),  # type: ignore[arg-type]
                    settlement_id=sid,
                    partnership_id=settlement.partnership_id,
                )
            )
    return found


def _unbalanced(session: Session) -> list[Violation]:
    rows = session.exec(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_cents))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_cents) != 0)
    ).all()
    return [
        Violation(BALANCED, f"ledger transaction {tx} sums to {total}", 0, int(total))
        for tx, total in rows
    ]
