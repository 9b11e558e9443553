"""Reconciliation checks the ledger against itself: on a database written by the
old behaviour (a refund during a dispute booked as a plain adjustment and the
commission marked paid when the dispute was won), `referral reconcile` and the
operator page list the stranded clawback with its commission, settlement and
amounts."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from referral.ledger.services import pair, post
from referral.payments.gateway import PaymentState
from referral.settlements import reconcile, services
from referral.settlements.invariants import STRANDED, check_invariants
from referral.settlements.models import ReconciliationRun, Settlement
from tests.support.factories import (
    business,
    commission_of,
    partner_up,
    percent,
    ready_to_pay,
    sign_in,
    won_referral,
)


@pytest.fixture
def stranded(app: Flask, db: Session):  # type: ignore[no-untyped-def]
    """Rows as the old code left them: settled 12,346, amount 10,000, status paid."""
    with app.app_context():
        hvac = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
        plumber = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        referral = won_referral(db, hvac, plumber, 123_457)
        ready_to_pay(db, hvac.business_id, plumber.business_id)
        [settlement] = services.build_settlements(db)
        services.attempt(db, settlement)
        services.apply_payment(
            db,
            PaymentState(
                payment_intent_id="pi_old",
                status="succeeded",
                amount_cents=12_346,
                currency="USD",
                charge_id="ch_old",
                metadata={"settlement_id": str(settlement.id), "attempt": "1"},
            ),
        )
        commission = commission_of(db, referral)
        # The old refund during the dispute, then the won dispute's "paid".
        referral.refunded_cents = commission.refunded_cents = 23_457
        commission.amount_cents = 10_000
        post(
            db,
            "adjustment",
            pair(
                -2_346,
                debit="receivable",
                credit="payable",
                debit_business=plumber.business_id,
                credit_business=hvac.business_id,
                partnership_id=commission.partnership_id,
            ),
            currency="USD",
            memo="refund of $234.57 reported",
            commission_id=commission.id,
        )
        db.commit()
        return hvac, commission, settlement


def test_the_invariants_find_the_stranded_clawback(app, db, stranded):
    _, commission, settlement = stranded

    with app.app_context():
        [violation] = check_invariants(db)

    assert violation.invariant == STRANDED
    assert (violation.commission_id, violation.settlement_id) == (commission.id, settlement.id)
    assert (violation.expected_cents, violation.found_cents) == (0, -2_346)


def test_referral_reconcile_lists_it_with_commission_settlement_and_amounts(app, db, stranded):
    _, commission, settlement = stranded

    result = app.test_cli_runner().invoke(args=["reconcile"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "Money invariants: 1 violation(s)." in lines
    assert (
        f"  [{STRANDED}] commission {commission.id} is paid with -2346 cents outstanding that"
        " no open settlement holds and no next settlement will take: expected $0.00,"
        f" found -$23.46 (commission {commission.id}, settlement {settlement.id},"
        f" partnership {commission.partnership_id})"
    ) in lines


def test_the_operator_page_lists_it(app, db, stranded):
    hvac, commission, settlement = stranded
    operator = db.get(User, hvac.user_id)
    operator.is_operator = True
    run = ReconciliationRun()
    db.add(run)
    db.commit()
    with app.app_context():
        reconcile.run(db, run.id)
        db.commit()

    page = sign_in(app, operator).get("/operator/payments").get_data(as_text=True)

    assert "1 violation(s)" in page
    assert STRANDED in page
    assert f"<td>{commission.id}</td><td>{settlement.id}</td>" in page
    assert db.get(Settlement, settlement.id).status == "paid"
