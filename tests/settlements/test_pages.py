"""The pages around a settlement run with a failing partnership: the operator
sees the failure with its error; "Settle now" (in the worker) settles the
others and says so."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.settlements import jobs
from referral.settlements.models import Settlement, SettlementFailure
from tests.support.factories import make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.markup import problems
from tests.support.settlements import press_settle_now, told


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

    pressed = press_settle_now(owner)
    assert "Settling now. This page updates when it is done." in pressed
    assert "Settling now…" in pressed
    assert problems(pressed) == []
    assert db.exec(select(Settlement)).all() == []  # the worker settles, not the request

    run_jobs(app)

    titles = told(db, hvac.business_id)
    assert (
        "1 partnership(s) could not be settled now; the platform team is told, and the next"
        " run tries again. The others are not held up."
    ) in titles
    assert "2 settlement(s) started." in titles
    page = owner.get("/settlements").get_data(as_text=True)
    assert "Settling now…" not in page
    assert "1 partnership(s) could not be settled now" in page
    assert "2 settlement(s) started." in page
    assert problems(page) == []
    electrical = three_partnerships["electrical"]
    assert db.exec(select(Settlement).where(Settlement.partnership_id == electrical)).all() == []
    assert len(db.exec(select(Settlement)).all()) == 2
    assert db.exec(select(SettlementFailure)).one().partnership_id == electrical
