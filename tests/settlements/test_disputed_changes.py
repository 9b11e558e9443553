"""A refund or correction reported while a settlement's charge is disputed is a
clawback, collected once the dispute closes: by the next settlement when the
dispute is won, netted into the reversal when it is lost. A held commission
with something outstanding is never marked paid, and a commission refunded to
nothing is closed.

The dispute webhooks are applied in-process (referral.settlements.reversals);
a lost dispute takes the transfer back through the Stripe stand-in."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from referral.commissions import services as commissions
from referral.commissions.models import Commission
from referral.ledger.models import LedgerTransaction
from referral.payments.gateway import PaymentState
from referral.settlements import reversals, services
from referral.settlements.invariants import check_invariants
from referral.settlements.models import Settlement
from tests.support.factories import partner_up, percent, ready_to_pay, won_referral

pytestmark = pytest.mark.usefixtures("app_context")


def settle_and_pay(db: Session) -> Settlement:
    [settlement] = services.build_settlements(db)
    services.attempt(db, settlement)
    services.apply_payment(
        db,
        PaymentState(
            payment_intent_id=f"pi_{settlement.id}",
            status="succeeded",
            amount_cents=settlement.net_cents,
            currency="USD",
            charge_id=f"ch_{settlement.id}",
            metadata={"settlement_id": str(settlement.id), "attempt": str(settlement.attempts)},
        ),
    )
    db.commit()
    return settlement


def dispute(
    settlement: Settlement, status: str = "needs_response", *, moves: bool = False
) -> dict[str, object]:
    """A dispute object as Stripe sends it; with `moves`, the balance transactions
    of the amount withdrawn with its 1,500 fee (and given back when won)."""
    withdrawn = {"id": f"txn_{settlement.id}_out", "amount": -settlement.net_cents, "fee": 1_500}
    given_back = {"id": f"txn_{settlement.id}_back", "amount": settlement.net_cents, "fee": 0}
    transactions = [withdrawn, given_back] if status == "won" else [withdrawn]
    return {
        "id": f"dp_{settlement.id}",
        "object": "dispute",
        "charge": settlement.charge_id,
        "amount": settlement.net_cents,
        "currency": "usd",
        "status": status,
        "balance_transactions": transactions if moves else [],
    }


@pytest.fixture
def paid_then_disputed(db, hvac, plumber):  # type: ignore[no-untyped-def]
    """The issue's interleaving, steps 1 to 3: a paid settlement with a
    commission of 12,346 (10% of a 123,457 job), its charge disputed, and a
    refund of 23,457 reported during the dispute."""
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 123_457)
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    settlement = settle_and_pay(db)
    assert reversals.apply_dispute_created(db, dispute(settlement)) == "applied: held"
    commission = commissions.report_refund(
        session=db, business_id=plumber.business_id, referral_id=referral.id, refund_cents=23_457
    )
    db.commit()
    return settlement, commission


def test_a_refund_during_a_dispute_is_a_clawback_on_a_held_commission(db, paid_then_disputed):
    _, commission = paid_then_disputed

    assert (commission.status, commission.amount_cents, commission.settled_cents) == (
        "held",
        10_000,
        12_346,
    )
    assert commissions.outstanding_cents(commission) == -2_346
    kinds = db.exec(
        select(LedgerTransaction.kind).where(LedgerTransaction.commission_id == commission.id)
    ).all()
    assert kinds[-1] == "clawback"
    assert check_invariants(db) == []


def test_a_won_dispute_leaves_the_clawback_to_the_next_settlement(
    db, hvac, plumber, paid_then_disputed
):
    """Before the fix the commission went back to paid with 2,346 never collected."""
    settlement, commission = paid_then_disputed

    reversals.apply_dispute_closed(db, dispute(settlement, "won"))
    db.commit()

    assert (commission.status, commission.settlement_id) == ("approved", None)
    assert commissions.outstanding_cents(commission) == -2_346
    assert check_invariants(db) == []
    ready_to_pay(db, plumber.business_id, hvac.business_id)
    second = settle_and_pay(db)
    assert (second.debtor_id, second.net_cents) == (hvac.business_id, 2_346)
    db.refresh(commission)
    assert (commission.status, commission.settled_cents) == ("paid", 10_000)
    assert commissions.outstanding_cents(commission) == 0
    assert check_invariants(db) == []


def test_a_commission_refunded_to_nothing_is_closed(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 50_000)

    commission = commissions.report_refund(
        session=db, business_id=plumber.business_id, referral_id=referral.id, refund_cents=50_000
    )
    db.commit()

    assert (commission.status, commission.amount_cents) == ("closed", 0)
    assert services.build_settlements(db) == []
    assert check_invariants(db) == []

    # A correction that raises the job value reopens it.
    commissions.correct_job_value(
        session=db,
        business_id=plumber.business_id,
        referral_id=referral.id,
        job_value_cents=60_000,
    )
    db.commit()
    assert (commission.status, commission.amount_cents) == ("approved", 1_000)
    assert check_invariants(db) == []


def test_a_paid_commission_refunded_in_full_is_closed_once_the_clawback_is_settled(
    db, hvac, plumber
):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 50_000)
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    ready_to_pay(db, plumber.business_id, hvac.business_id)
    settle_and_pay(db)

    commission = commissions.report_refund(
        session=db, business_id=plumber.business_id, referral_id=referral.id, refund_cents=50_000
    )
    db.commit()
    assert (commission.status, commissions.outstanding_cents(commission)) == ("approved", -5_000)
    settle_and_pay(db)
    db.refresh(commission)

    assert (commission.status, commission.amount_cents, commission.settled_cents) == (
        "closed",
        0,
        0,
    )
    assert check_invariants(db) == []


@pytest.mark.parametrize("outcome", ["won", "warning_closed"])
def test_a_dispute_whose_closing_arrives_before_its_opening_leaves_nothing_held(
    db, hvac, plumber, outcome
):
    """Found by the money machine on the old code: `charge.dispute.closed`
    applied before `charge.dispute.created` was ignored, and the late opening
    then left the settlement disputed and its commissions held for ever."""
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    won_referral(db, hvac, plumber, 123_457)
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    settlement = settle_and_pay(db)

    assert reversals.apply_dispute_closed(db, dispute(settlement, outcome, moves=True)) == (
        "applied: released"
    )
    assert reversals.apply_dispute_created(db, dispute(settlement, moves=True)).startswith(
        "ignored: dispute already applied"
    )
    db.commit()

    assert settlement.status == "paid"
    assert {c.status for c in db.exec(select(Commission)).all()} == {"paid"}
    kinds = db.exec(
        select(LedgerTransaction.kind).where(LedgerTransaction.settlement_id == settlement.id)
    ).all()
    assert kinds.count("dispute_fee") == 1
    assert check_invariants(db) == []
