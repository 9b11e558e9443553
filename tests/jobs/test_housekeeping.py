"""Daily housekeeping deletes what is past keeping, and only that."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import LoginSession, UserToken
from referral.db import utcnow
from referral.housekeeping import HOUSEKEEPING, prune
from referral.jobs.models import Job
from referral.jobs.queue import keep_scheduled
from referral.payments.models import StripeEvent
from tests.support.factories import make_business, make_user
from tests.support.jobs import run_jobs

pytestmark = pytest.mark.usefixtures("app_context")

DAY = dt.timedelta(days=1)


def finished_job(db: Session, kind: str, *, days_ago: float, status: str = "done") -> Job:
    job = Job(kind=kind, status=status, finished_at=utcnow() - days_ago * DAY)
    db.add(job)
    db.flush()
    return job


def test_finished_jobs_go_after_the_retention_period_and_dead_ones_stay(db: Session) -> None:
    old = finished_job(db, "send_email", days_ago=31)
    recent = finished_job(db, "send_email", days_ago=29)
    dead = finished_job(db, "send_email", days_ago=90, status="dead")
    queued = Job(kind="referral.expire", run_at=utcnow() - 60 * DAY)  # overdue, not finished
    db.add(queued)
    applied = StripeEvent(
        stripe_event_id="evt_old",
        type="account.updated",
        event_created=utcnow() - 31 * DAY,
        payload={"id": "evt_old"},
        status="applied",
        job_id=old.id,
    )
    db.add(applied)
    db.commit()

    assert prune(db)["jobs"] == 1
    db.commit()

    assert set(db.exec(select(Job.id)).all()) == {recent.id, dead.id, queued.id}
    db.refresh(applied)
    assert (applied.status, applied.job_id) == ("applied", None)  # the event's record stays


def test_expired_login_sessions_and_long_expired_tokens_go(db: Session) -> None:
    user = make_user(db, make_business(db))
    db.add_all(
        [
            LoginSession(user_id=user.id, token_hash="a" * 64, expires_at=utcnow() - DAY),
            LoginSession(user_id=user.id, token_hash="b" * 64, expires_at=utcnow() + DAY),
            UserToken(
                user_id=user.id,
                purpose="reset_password",
                token_hash="c" * 64,
                sent_to="x@example.com",
                expires_at=utcnow() - 8 * DAY,
            ),
            UserToken(
                user_id=user.id,
                purpose="verify_email",
                token_hash="d" * 64,
                sent_to="x@example.com",
                expires_at=utcnow() - 6 * DAY,  # a late click is still told "expired"
            ),
        ]
    )
    db.commit()

    deleted = prune(db)
    db.commit()

    assert (deleted["login_sessions"], deleted["user_tokens"]) == (1, 1)
    assert db.exec(select(LoginSession.token_hash)).all() == ["b" * 64]
    assert db.exec(select(UserToken.token_hash)).all() == ["d" * 64]


def test_a_backlog_larger_than_one_batch_is_cleared_in_one_run(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("referral.housekeeping.BATCH", 3)
    for _ in range(7):
        finished_job(db, "send_email", days_ago=40)
    db.commit()

    assert prune(db)["jobs"] == 7


def test_the_housekeeping_run_prunes(app: Flask, db: Session) -> None:
    finished_job(db, "send_email", days_ago=40)
    db.add(Job(kind=HOUSEKEEPING))  # due now
    db.commit()

    run_jobs(app)

    assert db.exec(select(Job).where(Job.kind == "send_email")).all() == []


@pytest.mark.parametrize(("kind", "every"), [(HOUSEKEEPING, DAY), ("settlements.run", 7 * DAY)])
def test_a_recurring_run_queues_its_successor_in_a_worker_that_keeps_running(
    app: Flask, db: Session, kind: str, every: dt.timedelta
) -> None:
    """A run sees itself running: it must still queue the next one, or the
    schedule would stop until the worker restarts."""
    db.add(Job(kind=kind))  # due now
    db.commit()

    run_jobs(app)

    db.expire_all()
    runs = db.exec(select(Job).where(Job.kind == kind).order_by(Job.id)).all()
    assert [run.status for run in runs] == ["done", "queued"]
    assert utcnow() + every - DAY < runs[1].run_at <= utcnow() + every


def test_workers_starting_together_queue_one_recurring_run(db: Session) -> None:
    """Each checks before the other has committed, so both find none queued:
    the unique index on queued singletons keeps the second insert out."""
    engine = db.get_bind()
    with Session(engine) as first, Session(engine) as second:
        keep_scheduled(first, HOUSEKEEPING, after=DAY)  # inserted, not committed yet

        def second_worker() -> None:
            keep_scheduled(second, HOUSEKEEPING, after=DAY)  # waits for the first's row
            second.commit()

        starting = threading.Thread(target=second_worker)
        starting.start()
        time.sleep(0.5)  # the second has checked and is waiting on the first's insert
        first.commit()
        starting.join(timeout=30)
        assert not starting.is_alive()

    queued = db.exec(select(Job).where(Job.kind == HOUSEKEEPING, Job.status == "queued")).all()
    assert [job.singleton for job in queued] == [HOUSEKEEPING]


def test_a_dead_recurring_run_retried_beside_its_successor_runs_once_more(db: Session) -> None:
    from referral.jobs.cli import retry_job

    dead = Job(kind=HOUSEKEEPING, singleton=HOUSEKEEPING, status="dead")
    db.add(dead)
    db.commit()
    keep_scheduled(db, HOUSEKEEPING, after=DAY)  # the dead one does not count
    db.commit()

    retry_job(session=db, job_id=dead.id)
    db.commit()

    queued = db.exec(select(Job).where(Job.kind == HOUSEKEEPING, Job.status == "queued")).all()
    assert sorted((job.id == dead.id, job.singleton) for job in queued) == [
        (False, HOUSEKEEPING),
        (True, None),
    ]


def test_applied_stripe_event_payloads_go_after_400_days_and_their_record_stays(
    db: Session,
) -> None:
    def event(name: str, *, days_ago: int, status: str) -> StripeEvent:
        stored = StripeEvent(
            stripe_event_id=f"evt_{name}",
            type="payment_intent.succeeded",
            object_id=f"pi_{name}",
            event_created=utcnow() - days_ago * DAY,
            created_at=utcnow() - days_ago * DAY,
            payload={"id": f"evt_{name}", "data": {"object": {"id": f"pi_{name}"}}},
            status=status,
            note="applied: paid" if status == "applied" else "",
        )
        db.add(stored)
        return stored

    old = event("old", days_ago=401, status="applied")
    recent = event("recent", days_ago=399, status="applied")
    waiting = event("waiting", days_ago=500, status="received")  # not applied yet
    db.commit()

    assert prune(db)["stripe_payloads"] == 1
    db.commit()

    for stored in (old, recent, waiting):
        db.refresh(stored)
    assert old.payload is None
    assert (old.stripe_event_id, old.type, old.status, old.note) == (
        "evt_old",
        "payment_intent.succeeded",
        "applied",
        "applied: paid",
    )
    assert recent.payload is not None and waiting.payload is not None
    assert prune(db)["stripe_payloads"] == 0
