"""The pages around a settlement run with a failing partnership: the operator
sees the failure with its error; "Settle now" settles the others and says so."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.settlements import jobs
from referral.settlements.models import Settlement, SettlementFailure
from tests.support.factories import make_user, sign_in


def run_settlements(app: Flask, db: Session) -> None:
    with app.app_context():
        jobs.run_settlements(db, {})
        db.commit()


def test_the_operator_page_shows_a_failing_partnership_with_its_error(
    app: Flask, db: Session, three_partnerships: dict[str, int], electrical_fails: Any, hvac: Any
) -> None:
    run_settlements(app, db)
    operator = make_user(db, hvac.business, email="ops@platform.example", is_operator=True)

    page = sign_in(app, operator).get("/operator/payments").get_data(as_text=True)

    assert "Partnerships that failed to settle" in page
    assert "ZeroDivisionError: a bug in one partnership&#39;s settlement" in page


def test_settle_now_settles_the_others_and_says_one_partnership_failed(
    app: Flask, db: Session, three_partnerships: dict[str, int], electrical_fails: Any, hvac: Any
) -> None:
    owner = sign_in(app, db.get(User, hvac.user_id))

    done = owner.post_form("/settlements/run", {}, page="/settlements", follow_redirects=True)

    page = done.get_data(as_text=True)
    assert "1 partnership(s) could not be settled now" in page
    assert "2 settlement(s) started." in page
    electrical = three_partnerships["electrical"]
    assert db.exec(select(Settlement).where(Settlement.partnership_id == electrical)).all() == []
    assert db.exec(select(SettlementFailure)).one().partnership_id == electrical
