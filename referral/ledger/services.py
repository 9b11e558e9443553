"""Posting to the ledger and reading balances.

`post` is the only way money enters the ledger: it refuses a transaction whose
entries do not sum to zero, so an unbalanced write never reaches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert
from sqlmodel import Session, select

from referral.ledger.models import ACCOUNTS, LedgerEntry, LedgerTransaction


class UnbalancedTransaction(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    account: str
    amount_cents: int  # debit positive, credit negative
    business_id: int | None = None
    partnership_id: int | None = None


def pair(
    amount_cents: int,
    *,
    debit: str,
    credit: str,
    debit_business: int | None = None,
    credit_business: int | None = None,
    partnership_id: int | None = None,
) -> list[Entry]:
    """Two entries moving `amount_cents` (any sign) into `debit` out of `credit`."""
    return [
        Entry(debit, amount_cents, debit_business, partnership_id),
        Entry(credit, -amount_cents, credit_business, partnership_id),
    ]


@dataclass(frozen=True)
class Posting:
    """One transaction to write: its kind, entries and what it is about."""

    kind: str
    entries: Sequence[Entry]
    currency: str
    memo: str = ""
    commission_id: int | None = None
    settlement_id: int | None = None
    stripe_object_id: str | None = None


def post(
    session: Session,
    kind: str,
    entries: list[Entry] | tuple[Entry, ...],
    *,
    currency: str,
    memo: str = "",
    commission_id: int | None = None,
    settlement_id: int | None = None,
    stripe_object_id: str | None = None,
) -> LedgerTransaction | None:
    """Write one balanced transaction; None when every amount is zero (nothing moved)."""
    posting = Posting(
        kind,
        entries,
        currency,
        memo=memo,
        commission_id=commission_id,
        settlement_id=settlement_id,
        stripe_object_id=stripe_object_id,
    )
    [transaction] = post_all(session, [posting])
    return transaction


def post_all(session: Session, postings: Sequence[Posting]) -> list[LedgerTransaction | None]:
    """Write balanced transactions, each as `post` would (None where nothing
    moved), in two INSERTs whatever their number: the transactions (batched
    where the database returns ids in order, as PostgreSQL does), then all
    their entries. Every one is checked before any is written."""
    moving = [_moving(posting) for posting in postings]
    written: list[LedgerTransaction | None] = [
        LedgerTransaction(
            kind=posting.kind,
            currency=posting.currency,
            memo=posting.memo[:200],
            commission_id=posting.commission_id,
            settlement_id=posting.settlement_id,
            stripe_object_id=posting.stripe_object_id,
        )
        if entries
        else None
        for posting, entries in zip(postings, moving, strict=True)
    ]
    if not any(written):
        return written
    session.add_all([transaction for transaction in written if transaction is not None])
    session.flush()
    # The entries as rows, not objects: nothing reads them back from the
    # session, and with no ids to return every database takes them in one INSERT.
    session.execute(
        insert(LedgerEntry),
        [
            {
                "transaction_id": transaction.id,
                "account": entry.account,
                "business_id": entry.business_id,
                "partnership_id": entry.partnership_id,
                "amount_cents": entry.amount_cents,
                "currency": transaction.currency,
            }
            for transaction, entries in zip(written, moving, strict=True)
            if transaction is not None
            for entry in entries
        ],
    )
    return written


def _moving(posting: Posting) -> list[Entry]:
    """The posting's non-zero entries, refused unless they balance."""
    kind = posting.kind
    moving = [e for e in posting.entries if e.amount_cents != 0]
    for entry in moving:
        if entry.account not in ACCOUNTS:
            raise UnbalancedTransaction(f"unknown account {entry.account!r}")
        if not isinstance(entry.amount_cents, int) or isinstance(entry.amount_cents, bool):
            raise UnbalancedTransaction("amounts are integer cents")
    if sum(e.amount_cents for e in moving) != 0:
        raise UnbalancedTransaction(f"{kind} entries sum to {sum(e.amount_cents for e in moving)}")
    return moving


def balance(
    session: Session,
    account: str,
    *,
    business_id: int | None = None,
    partnership_id: int | None = None,
    currency: str = "USD",
) -> int:
    """The sum of an account's entries (debits positive), optionally for one owner."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.account == account, LedgerEntry.currency == currency
    )
    if business_id is not None:
        query = query.where(LedgerEntry.business_id == business_id)
    if partnership_id is not None:
        query = query.where(LedgerEntry.partnership_id == partnership_id)
    return int(session.exec(query).one())  # type: ignore[call-overload]


def transaction_sums(session: Session) -> dict[int, int]:
    """Every transaction's sum of entries (all zero in a sound ledger)."""
    rows = session.exec(  # type: ignore[call-overload]
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_cents)).group_by(
            LedgerEntry.transaction_id
        )
    ).all()
    return {int(tx): int(total) for tx, total in rows}
