"""One partnership's failure cannot stop a settlement run: each partnership is
settled in a transaction of its own; the failing one is recorded with its
reason, shown to the operator, counted by `referral reconcile`, and retried by
the next run; the others settle, and are paid once."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.commissions.models import Commission
from referral.payments import mismatches
from referral.payments.gateway import PaymentState
from referral.settlements import jobs, services
from referral.settlements.cli import reconcile_command
from referral.settlements.models import Settlement, SettlementFailure, SettlementLine

pytestmark = pytest.mark.usefixtures("app_context")


def settlements_of(db: Session, partnership_id: int) -> list[Settlement]:
    return list(db.exec(select(Settlement).where(Settlement.partnership_id == partnership_id)))


def pay(db: Session, settlement: Settlement) -> None:
    services.apply_payment(
        db,
        PaymentState(
            payment_intent_id=f"pi_{settlement.id}",
            status="succeeded",
            amount_cents=settlement.net_cents,
            currency="USD",
            charge_id=f"ch_{settlement.id}",
            metadata={"settlement_id": str(settlement.id), "attempt": "1"},
            failure_message="",
        ),
    )


def test_a_failing_partnership_is_recorded_and_the_others_settle_and_are_paid_once(
    app: Flask,
    db: Session,
    three_partnerships: dict[str, int],
    electrical_fails: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs.run_settlements(db, {})  # the scheduled run
    db.commit()

    plumbing, electrical, roofing = (
        three_partnerships[t] for t in ("plumbing", "electrical", "roofing")
    )
    assert settlements_of(db, electrical) == []  # its half-built settlement was rolled back
    assert db.exec(select(SettlementLine)).all() and all(
        line.settlement_id in {s.id for s in db.exec(select(Settlement))}
        for line in db.exec(select(SettlementLine))
    )
    electrician_commissions = db.exec(
        select(Commission).where(Commission.partnership_id == electrical)
    ).all()
    assert [c.status for c in electrician_commissions] == ["approved"]
    [failure] = db.exec(select(SettlementFailure)).all()
    assert failure.partnership_id == electrical and failure.resolved_at is None
    assert "ZeroDivisionError: a bug in one partnership's settlement" in failure.error

    for partnership in (plumbing, roofing):
        [settlement] = settlements_of(db, partnership)
        pay(db, settlement)
        pay(db, settlement)  # the same success, delivered twice
    db.commit()

    # The next run tries the electrician again, still broken; nobody is paid twice.
    jobs.run_settlements(db, {})
    db.commit()
    db.refresh(failure)
    assert failure.failures == 2 and failure.resolved_at is None
    for partnership in (plumbing, roofing):
        [settlement] = settlements_of(db, partnership)
        assert settlement.status == "paid" and settlement.net_cents == 10_000

    # `referral reconcile` counts it (beside Stripe's side, here with nothing to compare).
    monkeypatch.setattr(mismatches, "find_mismatches", lambda session, since_days: (2, []))
    result = app.test_cli_runner().invoke(reconcile_command)
    assert "1 partnership(s) failed to settle" in result.output
    assert f"partnership {electrical}: failed 2 time(s)" in result.output
    assert result.exit_code == 1

    # Fixed: the following run settles it, once, and closes the failure.
    electrical_fails.undo()
    jobs.run_settlements(db, {})
    db.commit()
    [settlement] = settlements_of(db, electrical)
    assert settlement.net_cents == 10_000
    db.refresh(failure)
    assert failure.resolved_at is not None
    assert services.open_failures(db) == []
    jobs.run_settlements(db, {})
    db.commit()
    assert len(settlements_of(db, electrical)) == 1
