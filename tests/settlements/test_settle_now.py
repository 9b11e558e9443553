""" "Settle now" queues a run for the worker instead of settling in the request:
one run per business at a time, owners and managers only, and a status the
settlements page polls that speaks for the asking business alone."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from tests.support.factories import make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.settlements import press_settle_now, settle_now_jobs, told


def test_a_second_press_while_a_run_is_queued_queues_no_second_run(
    app: Flask, db: Session, three_partnerships: dict[str, int], hvac: Any
) -> None:
    owner = sign_in(app, db.get(User, hvac.user_id))
    press_settle_now(owner)

    again = press_settle_now(owner)

    assert "A settlement run is already under way." in again
    [job] = settle_now_jobs(db)
    assert job.payload == {"business_id": hvac.business_id, "user_id": hvac.user_id}


def test_a_press_while_a_run_is_running_queues_no_second_run(
    app: Flask, db: Session, three_partnerships: dict[str, int], hvac: Any
) -> None:
    owner = sign_in(app, db.get(User, hvac.user_id))
    press_settle_now(owner)
    [job] = settle_now_jobs(db)
    job.status = "running"  # a worker has claimed it
    db.commit()

    again = press_settle_now(owner)

    assert "A settlement run is already under way." in again
    assert len(settle_now_jobs(db)) == 1


def test_the_next_press_after_a_run_finished_starts_another(
    app: Flask, db: Session, three_partnerships: dict[str, int], hvac: Any
) -> None:
    owner = sign_in(app, db.get(User, hvac.user_id))
    press_settle_now(owner)
    run_jobs(app)

    page = press_settle_now(owner)
    run_jobs(app)

    assert "Settling now. This page updates when it is done." in page
    assert [job.status for job in settle_now_jobs(db)] == ["done", "done"]
    titles = told(db, hvac.business_id)
    assert "3 settlement(s) started." in titles
    assert titles[-1] == (
        "Nothing to settle: no approved commissions are waiting (or one is under way)."
    )
    shown = owner.get("/settlements").get_data(as_text=True)
    assert "Nothing to settle" in shown
    assert "3 settlement(s) started." not in shown  # only the last run's outcome


def test_staff_cannot_settle_now(
    app: Flask, db: Session, three_partnerships: dict[str, int], hvac: Any
) -> None:
    staff = make_user(db, hvac.business, email="sam@coolair.example", role="staff")

    page = press_settle_now(sign_in(app, staff))

    assert "Only owners and managers can start a settlement." in page
    assert settle_now_jobs(db) == []


def test_a_manager_can_settle_now(
    app: Flask, db: Session, three_partnerships: dict[str, int], hvac: Any
) -> None:
    manager = make_user(db, hvac.business, email="max@coolair.example", role="manager")

    press_settle_now(sign_in(app, manager))

    assert len(settle_now_jobs(db)) == 1


def test_the_run_status_speaks_for_the_asking_business_only(
    app: Flask, db: Session, three_partnerships: dict[str, int], hvac: Any, plumber: Any
) -> None:
    hvac_owner = sign_in(app, db.get(User, hvac.user_id))
    plumber_owner = sign_in(app, db.get(User, plumber.user_id))
    press_settle_now(hvac_owner)

    assert hvac_owner.get("/settlements/run/status").json == {"state": "queued", "done": False}
    assert plumber_owner.get("/settlements/run/status").json == {"state": "done", "done": True}
    assert "Settling now…" not in plumber_owner.get("/settlements").get_data(as_text=True)

    run_jobs(app)

    assert hvac_owner.get("/settlements/run/status").json == {"state": "done", "done": True}
    assert told(db, plumber.business_id) == []
