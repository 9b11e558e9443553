"""The job worker: each job runs once when it succeeds, again when it fails or
its worker dies, and is given up after its last attempt."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from referral.db import utcnow
from referral.jobs.models import Job
from referral.jobs.queue import HANDLERS, enqueue, job_handler
from referral.jobs.worker import claim_next_job, run_claimed_job, run_due_jobs
from referral.mail.models import OutboxEmail

calls: list[dict[str, Any]] = []


@job_handler("test.record")
def record(session: Session, payload: dict[str, Any]) -> None:
    """Writes a row, so a test can tell which runs were committed."""
    calls.append(payload)
    session.add(
        OutboxEmail(
            message_id=f"run-{len(calls)}", recipient="x@example.com", subject="s", text_body=""
        )
    )


@job_handler("test.fail")
def fail(session: Session, payload: dict[str, Any]) -> None:
    raise RuntimeError("the remote service is down")


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def add_job(db: Session, kind: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> Job:
    job = enqueue(db, kind, payload or {}, **kwargs)
    db.commit()
    return job


def engine_of(app: Flask) -> Engine:
    return app.extensions["db_engine"]


def test_a_due_job_runs_once_and_is_marked_done(app: Flask, db: Session) -> None:
    job = add_job(db, "test.record", {"n": 1})

    assert run_due_jobs(app) == 1
    assert run_due_jobs(app) == 0

    db.refresh(job)
    assert (job.status, job.attempts, calls) == ("done", 1, [{"n": 1}])
    assert job.finished_at is not None


def test_a_job_waits_until_its_time(app: Flask, db: Session) -> None:
    add_job(db, "test.record", run_at=utcnow() + dt.timedelta(hours=1))

    assert run_due_jobs(app) == 0
    assert calls == []


def test_a_failing_job_is_retried_later_with_backoff_then_dead(app: Flask, db: Session) -> None:
    job = add_job(db, "test.fail", max_attempts=2)

    run_due_jobs(app)
    db.refresh(job)
    assert job.status == "queued" and job.attempts == 1
    assert "the remote service is down" in job.last_error
    assert job.run_at > utcnow() + dt.timedelta(seconds=3)

    db.execute(update(Job).values(run_at=utcnow()))
    db.commit()
    run_due_jobs(app)
    db.refresh(job)
    assert (job.status, job.attempts) == ("dead", 2)


def test_a_job_of_unknown_kind_is_dead_with_a_clear_error(app: Flask, db: Session) -> None:
    job = add_job(db, "test.nobody-handles-this")

    run_due_jobs(app)

    db.refresh(job)
    assert job.status == "dead"
    assert "no handler" in job.last_error


def test_a_job_whose_lease_lapsed_is_run_again_by_another_worker(app: Flask, db: Session) -> None:
    job = add_job(db, "test.record")
    claimed = claim_next_job(engine_of(app), lease_seconds=60)
    assert claimed is not None  # ...and this worker dies without finishing

    assert claim_next_job(engine_of(app), lease_seconds=60) is None  # leased: nobody takes it
    later = utcnow() + dt.timedelta(seconds=61)
    retaken = claim_next_job(engine_of(app), lease_seconds=60, now=later)

    assert retaken is not None and retaken.id == job.id and retaken.attempts == 2
    with app.app_context():
        assert run_claimed_job(engine_of(app), retaken)
        # The first worker wakes up and finishes late: its writes are discarded.
        assert not run_claimed_job(engine_of(app), claimed)
    assert len(calls) == 2
    assert [e.message_id for e in db.exec(select(OutboxEmail))] == ["run-1"]


def test_concurrent_workers_never_claim_the_same_job(app: Flask, db: Session) -> None:
    for n in range(40):
        enqueue(db, "test.record", {"n": n})
    db.commit()
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while (job := claim_next_job(engine_of(app), lease_seconds=60)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_the_retry_command_queues_a_dead_job_again(app: Flask, db: Session) -> None:
    job = add_job(db, "test.fail", max_attempts=1)
    run_due_jobs(app)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["jobs", "dead"])
    retried = runner.invoke(args=["jobs", "retry", str(job.id)])
    status = runner.invoke(args=["jobs", "status"])

    assert "test.fail" in listed.output and "RuntimeError" in listed.output
    assert retried.exit_code == 0, retried.output
    db.refresh(job)
    assert (job.status, job.attempts) == ("queued", 0)
    assert "queued         1" in status.output


def test_handlers_are_registered_when_the_app_is_created(app: Flask) -> None:
    assert "send_email" in HANDLERS
