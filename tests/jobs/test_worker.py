"""The job worker: each job runs once when it succeeds, again when it fails or
its worker dies, and is given up after its last attempt."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from referral.db import utcnow
from referral.jobs.models import Job
from referral.jobs.queue import HANDLERS, enqueue, enqueue_once, job_handler
from referral.jobs.running import current_job
from referral.jobs.worker import (
    MAX_BACKOFF_SECONDS,
    PermanentJobError,
    _run_batch,
    backoff,
    claim_due_jobs,
    claim_next_job,
    run_claimed_job,
    run_due_jobs,
    run_worker,
)
from referral.mail.models import OutboxEmail
from tests.support.jobs import run_jobs

calls: list[dict[str, Any]] = []
calls_lock = threading.Lock()


@job_handler("test.record")
def record(session: Session, payload: dict[str, Any]) -> None:
    """Writes a row named after the payload, so a test can tell which runs committed."""
    with calls_lock:
        calls.append(payload)
        run = len(calls)
    session.add(
        OutboxEmail(message_id=f"run-{run}", recipient="x@example.com", subject="s", text_body="")
    )


@job_handler("test.fail")
def fail(session: Session, payload: dict[str, Any]) -> None:
    raise RuntimeError("the remote service is down")


@job_handler("test.refused")
def refused(session: Session, payload: dict[str, Any]) -> None:
    raise PermanentJobError("the remote service refused it for good")


@job_handler("test.bounced")
def bounced(session: Session, payload: dict[str, Any]) -> None:
    raise PermanentJobError("550 mailbox ana.diaz@example.com unknown; call +15125550188")


@job_handler("test.outlasts-lease")
def outlasts_lease(session: Session, payload: dict[str, Any]) -> None:
    """Outlasts its lease several times over while it runs."""
    time.sleep(payload["seconds"])
    with calls_lock:
        calls.append(payload)


@job_handler("test.whoami")
def whoami(session: Session, payload: dict[str, Any]) -> None:
    job = current_job()
    assert job is not None
    calls.append({"id": job.id, "attempts": job.attempts})


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def add_job(db: Session, kind: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> Job:
    job = enqueue(db, kind, payload or {}, **kwargs)
    db.commit()
    return job


def engine_of(app: Flask) -> Engine:
    return app.extensions["db_engine"]


def make_due(db: Session) -> None:
    """Skip the backoff wait: every queued job is due now."""
    db.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow()))
    db.commit()


def test_a_due_job_runs_once_and_is_marked_done(app: Flask, db: Session) -> None:
    job = add_job(db, "test.record", {"n": 1})

    assert run_due_jobs(app) == 1
    assert run_due_jobs(app) == 0

    db.refresh(job)
    assert (job.status, job.attempts, calls) == ("done", 1, [{"n": 1}])
    assert job.finished_at is not None and job.lease_expires_at is None
    assert [e.message_id for e in db.exec(select(OutboxEmail))] == ["run-1"]


def test_a_job_waits_until_its_time(app: Flask, db: Session) -> None:
    add_job(db, "test.record", run_at=utcnow() + dt.timedelta(hours=1))

    assert run_due_jobs(app) == 0
    assert calls == []


def test_due_jobs_run_oldest_first(app: Flask, db: Session) -> None:
    add_job(db, "test.record", {"n": "later"}, run_at=utcnow() - dt.timedelta(seconds=1))
    add_job(db, "test.record", {"n": "earlier"}, run_at=utcnow() - dt.timedelta(seconds=5))

    run_due_jobs(app)

    assert calls == [{"n": "earlier"}, {"n": "later"}]


def test_a_handler_knows_which_job_it_runs(app: Flask, db: Session) -> None:
    job = add_job(db, "test.whoami")

    run_due_jobs(app)

    assert calls == [{"id": job.id, "attempts": 1}]


def test_a_failing_job_is_retried_later_with_backoff_then_dead(app: Flask, db: Session) -> None:
    job = add_job(db, "test.fail", max_attempts=3)

    before = utcnow()
    run_due_jobs(app)
    db.refresh(job)
    assert (job.status, job.attempts) == ("queued", 1)
    assert "RuntimeError: the remote service is down" in job.last_error
    assert before + dt.timedelta(seconds=4) <= job.run_at <= utcnow() + dt.timedelta(seconds=6)

    make_due(db)
    before = utcnow()
    run_due_jobs(app)
    db.refresh(job)
    assert (job.status, job.attempts) == ("queued", 2)
    assert before + dt.timedelta(seconds=8) <= job.run_at <= utcnow() + dt.timedelta(seconds=12)

    make_due(db)
    run_due_jobs(app)
    db.refresh(job)
    assert (job.status, job.attempts) == ("dead", 3)
    assert job.finished_at is not None
    assert run_due_jobs(app) == 0  # dead jobs stay dead


def test_backoff_doubles_with_jitter_up_to_an_hour() -> None:
    for attempts, base in [(1, 5), (2, 10), (3, 20), (8, 640)]:
        delays = [backoff(attempts).total_seconds() for _ in range(200)]
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays), (attempts, delays)
        assert len(set(delays)) > 1  # jitter spreads retries out
    assert backoff(50).total_seconds() <= MAX_BACKOFF_SECONDS * 1.2


def test_a_permanent_failure_is_dead_at_once(app: Flask, db: Session) -> None:
    job = add_job(db, "test.refused", max_attempts=5)

    run_due_jobs(app)

    db.refresh(job)
    assert (job.status, job.attempts) == ("dead", 1)
    assert "refused it for good" in job.last_error


def test_a_failed_job_keeps_its_error_without_the_personal_data_in_it(
    app: Flask, db: Session
) -> None:
    job = add_job(db, "test.bounced")

    run_due_jobs(app)

    db.refresh(job)
    assert "550 mailbox" in job.last_error
    assert "ana.diaz@example.com" not in job.last_error
    assert "+15125550188" not in job.last_error


def test_a_job_of_unknown_kind_is_dead_with_a_clear_error(app: Flask, db: Session) -> None:
    job = add_job(db, "test.nobody-handles-this")

    run_due_jobs(app)

    db.refresh(job)
    assert job.status == "dead"
    assert job.last_error == "no handler for job kind 'test.nobody-handles-this'"


def test_a_failed_handler_writes_nothing(app: Flask, db: Session) -> None:
    @job_handler("test.write-then-fail")
    def write_then_fail(session: Session, payload: dict[str, Any]) -> None:
        session.add(
            OutboxEmail(message_id="half", recipient="x@example.com", subject="s", text_body="")
        )
        session.flush()
        raise RuntimeError("fails after writing")

    try:
        add_job(db, "test.write-then-fail")
        run_due_jobs(app)
    finally:
        del HANDLERS["test.write-then-fail"]

    assert db.exec(select(OutboxEmail)).all() == []


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
    db.refresh(job)
    assert (job.status, job.attempts) == ("done", 2)


def test_a_slow_job_keeps_its_lease_while_it_runs(app: Flask, db: Session) -> None:
    # Twice its lease; the lease is renewed every third of it, so a renewal may
    # be late by over a second (a loaded CI machine) before another worker steals.
    job = add_job(db, "test.outlasts-lease", {"seconds": 4.5})
    engine = engine_of(app)
    claimed = claim_next_job(engine, lease_seconds=2)
    assert claimed is not None
    stolen: list[object] = []

    def another_worker() -> None:
        deadline = time.monotonic() + 4.2
        while time.monotonic() < deadline:
            if (other := claim_next_job(engine, lease_seconds=2)) is not None:
                stolen.append(other)
            time.sleep(0.1)

    thief = threading.Thread(target=another_worker)
    thief.start()
    with app.app_context():
        assert run_claimed_job(engine, claimed, lease_seconds=2)
    thief.join()

    assert stolen == []
    db.refresh(job)
    assert (job.status, job.attempts) == ("done", 1)


def test_concurrent_workers_run_each_job_exactly_once(app: Flask, db: Session) -> None:
    for n in range(40):
        enqueue(db, "test.record", {"n": n})
    db.commit()
    engine = engine_of(app)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while (job := claim_next_job(engine, lease_seconds=60)) is not None:
                with app.app_context():
                    run_claimed_job(engine, job)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Counter(call["n"] for call in calls) == Counter(range(40))
    statuses = db.exec(select(Job.status, Job.attempts)).all()
    assert Counter(statuses) == {("done", 1): 40}
    assert len(db.exec(select(OutboxEmail)).all()) == 40


def test_the_worker_loop_runs_jobs_until_stopped(app: Flask, db: Session) -> None:
    job = add_job(db, "test.record", {"n": 1})
    stop = threading.Event()
    loop = threading.Thread(target=run_worker, args=(app, stop), kwargs={"poll_interval": 0.05})
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.refresh(job)
            if job.status == "done":
                break
            time.sleep(0.05)
        later = add_job(db, "test.record", {"n": 2})  # picked up by the polling loop
        while time.monotonic() < deadline:
            db.refresh(later)
            if later.status == "done":
                break
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(timeout=10)

    assert not loop.is_alive()
    assert (job.status, later.status) == ("done", "done")
    assert calls == [{"n": 1}, {"n": 2}]


def test_logs_name_jobs_but_never_their_payload(
    app: Flask, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    job = add_job(db, "test.fail", {"to": "private.person@example.com"}, max_attempts=1)

    with caplog.at_level(logging.INFO, logger="referral"):
        run_due_jobs(app)

    assert f"job {job.id} (test.fail)" in caplog.text
    assert "private.person" not in caplog.text


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
    assert (job.status, job.attempts, job.finished_at) == ("queued", 0, None)
    assert "queued         1" in status.output and "dead           0" in status.output


def test_only_a_dead_job_can_be_retried(app: Flask, db: Session) -> None:
    job = add_job(db, "test.record")
    runner = app.test_cli_runner()

    for job_id in (job.id, 999_999):
        result = runner.invoke(args=["jobs", "retry", str(job_id)])
        assert result.exit_code != 0
        assert f"No dead job {job_id}." in result.output

    db.refresh(job)
    assert (job.status, job.attempts) == ("queued", 0)


def test_the_jobs_command_alone_shows_counts_and_dead_jobs(app: Flask, db: Session) -> None:
    add_job(db, "test.record")
    dead = add_job(db, "test.nobody-handles-this")
    run_due_jobs(app)

    result = app.test_cli_runner().invoke(args=["jobs"])

    assert result.exit_code == 0, result.output
    assert "done           1" in result.output and "dead           1" in result.output
    assert f"{dead.id:>6}  test.nobody-handles-this" in result.output


def test_the_worker_command_runs_due_jobs_once(app: Flask, db: Session) -> None:
    add_job(db, "test.record", {"n": 1})
    add_job(db, "test.record", {"n": 2})

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    # The two, and the follow-up run a starting worker queues due at once.
    assert "3 jobs run." in result.output
    statuses = db.exec(select(Job.kind, Job.status).order_by(Job.id)).all()
    # A starting worker also keeps the recurring jobs queued; the follow-up
    # run, once done, queued its next run.
    assert statuses[:2] == [("test.record", "done"), ("test.record", "done")]
    assert sorted(statuses[2:]) == [
        ("housekeeping.run", "queued"),
        ("send_follow_ups", "done"),
        ("send_follow_ups", "queued"),
        ("settlements.run", "queued"),
    ]


def test_run_jobs_fails_a_test_when_a_job_fails(app: Flask, db: Session) -> None:
    add_job(db, "test.record")
    add_job(db, "test.fail")

    with pytest.raises(AssertionError, match="the remote service is down"):
        run_jobs(app)
    assert run_jobs(app, allow_failures=True) == 0  # the failed one waits for its backoff


def test_handlers_are_registered_when_the_app_is_created(app: Flask) -> None:
    assert "send_email" in HANDLERS


def test_a_worker_claims_several_due_jobs_at_once_in_the_order_they_fell_due(
    app: Flask, db: Session
) -> None:
    now = utcnow()
    late = add_job(db, "test.record", run_at=now - dt.timedelta(minutes=1))
    early = add_job(db, "test.record", run_at=now - dt.timedelta(minutes=5))
    add_job(db, "test.record", run_at=now + dt.timedelta(hours=1))  # not due yet
    lapsed = add_job(db, "test.record", run_at=now - dt.timedelta(minutes=3))
    db.execute(
        update(Job)
        .where(Job.id == lapsed.id)
        .values(status="running", attempts=1, lease_expires_at=now - dt.timedelta(seconds=1))
    )
    db.commit()

    claimed = claim_due_jobs(engine_of(app), lease_seconds=60, limit=10)

    assert [(job.id, job.attempts) for job in claimed] == [
        (early.id, 1),
        (lapsed.id, 2),
        (late.id, 1),
    ]
    assert claim_due_jobs(engine_of(app), lease_seconds=60, limit=10) == []


def test_a_stopping_worker_gives_back_the_jobs_it_claimed_but_did_not_start(
    app: Flask, db: Session
) -> None:
    first, second, third = (add_job(db, "test.record", {"n": n}) for n in range(3))
    stop = threading.Event()

    @job_handler("test.stop-after-me")
    def stop_after_me(session: Session, payload: dict[str, Any]) -> None:
        stop.set()  # SIGTERM arrives while this job runs

    first.kind = "test.stop-after-me"
    db.add(first)
    db.commit()
    try:
        assert _run_batch(app, "test-worker", limit=3, stop=stop) == 1
    finally:
        del HANDLERS["test.stop-after-me"]

    for job in (first, second, third):
        db.refresh(job)
    assert (first.status, first.attempts) == ("done", 1)
    # Queued again at once, as if never claimed: the next worker takes them.
    assert [(j.status, j.attempts, j.lease_expires_at) for j in (second, third)] == [
        ("queued", 0, None),
        ("queued", 0, None),
    ]
    assert run_due_jobs(app) == 2


def test_claimed_jobs_waiting_their_turn_keep_their_leases(app: Flask, db: Session) -> None:
    slow = add_job(db, "test.outlasts-lease", {"seconds": 2.5})
    waiting = add_job(db, "test.record")
    app.config["JOB_LEASE_SECONDS"] = 1
    stolen: list[object] = []
    done = threading.Event()

    def another_worker() -> None:
        with Session(engine_of(app)) as session:  # starts once the batch is claimed
            while session.get(Job, waiting.id, populate_existing=True).status == "queued":  # type: ignore[union-attr]
                time.sleep(0.02)
        while not done.is_set():
            stolen.extend(claim_due_jobs(engine_of(app), lease_seconds=1, limit=10))
            time.sleep(0.1)

    thief = threading.Thread(target=another_worker)
    thief.start()
    try:
        assert _run_batch(app, "test-worker", limit=2) == 2
    finally:
        done.set()
        thief.join()

    assert stolen == []
    for job in (slow, waiting):
        db.refresh(job)
        assert (job.status, job.attempts) == ("done", 1)


def test_a_job_queued_once_is_not_claimed_before_the_change_that_asked_for_it_commits(
    app: Flask, db: Session
) -> None:
    """A writer asks for a job that is already queued (enqueue_once); until the
    writer commits, no worker may claim that job, or it would run without the
    writer's change (an outgoing webhook was left undelivered so)."""
    engine: Engine = app.extensions["db_engine"]
    enqueue_once(db, "tests.record", {"n": 1}, singleton="tests.record:1")
    db.commit()

    with Session(engine) as writer:
        enqueue_once(writer, "tests.record", {"n": 2}, singleton="tests.record:1")
        if engine.dialect.name == "postgresql":  # SQLite's writers queue instead
            assert claim_next_job(engine, lease_seconds=60) is None
        writer.commit()

    claimed = claim_next_job(engine, lease_seconds=60)
    assert claimed is not None and claimed.payload == {"n": 1}
    assert claim_next_job(engine, lease_seconds=60) is None  # still one job
