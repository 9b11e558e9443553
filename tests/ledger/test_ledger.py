"""The ledger refuses unbalanced transactions, and the database refuses to
change or delete any ledger row."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from referral.ledger.services import (
    Entry,
    Posting,
    UnbalancedTransaction,
    balance,
    pair,
    post,
    post_all,
    transaction_sums,
)

pytestmark = pytest.mark.usefixtures("app_context")


def test_a_balanced_transaction_is_written_and_balances_are_sums(db: Session):
    post(db, "accrual", pair(1_234, debit="stripe_balance", credit="platform_fees"), currency="USD")
    post(db, "accrual", pair(-34, debit="stripe_balance", credit="platform_fees"), currency="USD")
    db.commit()

    assert balance(db, "stripe_balance") == 1_200
    assert balance(db, "platform_fees") == -1_200


def test_an_unbalanced_transaction_is_refused(db: Session):
    with pytest.raises(UnbalancedTransaction):
        post(
            db,
            "accrual",
            [Entry("stripe_balance", 100), Entry("platform_fees", -99)],
            currency="USD",
        )


def test_amounts_are_integer_cents_never_floats(db: Session):
    with pytest.raises(UnbalancedTransaction):
        post(
            db,
            "accrual",
            [Entry("stripe_balance", 1.5), Entry("platform_fees", -1.5)],  # type: ignore[arg-type]
            currency="USD",
        )


def test_an_unknown_account_is_refused(db: Session):
    with pytest.raises(UnbalancedTransaction):
        post(db, "accrual", pair(5, debit="petty_cash", credit="platform_fees"), currency="USD")


def test_many_transactions_are_written_together_each_balanced(db: Session):
    """post_all writes several at once (an approval batch); None where nothing moved."""
    written = post_all(
        db,
        [
            Posting("accrual", pair(700, debit="stripe_balance", credit="platform_fees"), "USD"),
            Posting("accrual", pair(0, debit="stripe_balance", credit="platform_fees"), "USD"),
            Posting("accrual", pair(-200, debit="stripe_balance", credit="platform_fees"), "USD"),
        ],
    )
    db.commit()

    assert [t is None for t in written] == [False, True, False]
    assert balance(db, "stripe_balance") == 500
    assert set(transaction_sums(db).values()) == {0}
    assert set(transaction_sums(db)) == {t.id for t in written if t is not None}


def test_one_unbalanced_transaction_stops_the_whole_batch_before_any_is_written(db: Session):
    with pytest.raises(UnbalancedTransaction):
        post_all(
            db,
            [
                Posting(
                    "accrual", pair(700, debit="stripe_balance", credit="platform_fees"), "USD"
                ),
                Posting("accrual", [Entry("stripe_balance", 100)], "USD"),
            ],
        )
    db.commit()

    assert transaction_sums(db) == {}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET amount_cents = amount_cents + 1",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_transaction SET memo = 'changed'",
        "DELETE FROM ledger_transaction",
    ],
)
def test_ledger_rows_cannot_be_updated_or_deleted(db: Session, statement: str):
    post(db, "accrual", pair(500, debit="stripe_balance", credit="platform_fees"), currency="USD")
    db.commit()

    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text(statement))
        db.flush()
    db.rollback()

    assert balance(db, "stripe_balance") == 500
