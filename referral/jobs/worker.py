"""The job worker: claim a due job, run it, record the outcome.

A claim is one atomic statement: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets
many workers claim side by side; on SQLite the claim runs under `BEGIN
IMMEDIATE`, the database's single write lock. A claimed job carries a lease:
if its worker dies, the lease lapses and another worker runs it again, so every
handler must be idempotent.

The handler's writes and the job's "done" commit in one transaction, guarded
by the attempt number, so a worker whose lease was taken over cannot also
commit its result.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import signal
import socket
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine, or_, select, update
from sqlmodel import Session

from referral.db import utcnow
from referral.jobs.models import Job
from referral.jobs.queue import HANDLERS

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def _due(now: dt.datetime) -> Any:
    return or_(
        (Job.status == "queued") & (Job.run_at <= now),
        (Job.status == "running") & (Job.lease_expires_at < now),
    )


def claim_next_job(
    engine: Engine, *, lease_seconds: int, now: dt.datetime | None = None
) -> ClaimedJob | None:
    """Atomically take the next due job (or one whose lease lapsed), or None."""
    now = now or utcnow()
    next_id = select(Job.id).where(_due(now)).order_by(Job.run_at, Job.id).limit(1)
    if engine.dialect.name == "postgresql":
        next_id = next_id.with_for_update(skip_locked=True)
    claim = (
        update(Job)
        .where(Job.id == next_id.scalar_subquery(), _due(now))
        .values(
            status="running",
            attempts=Job.attempts + 1,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
    )
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                row = connection.execute(claim).first()
                connection.exec_driver_sql("COMMIT")
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
    else:
        with engine.begin() as connection:
            row = connection.execute(claim).first()
    return ClaimedJob(*row) if row else None


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s ... up to an hour, with jitter so retries spread out."""
    seconds = min(MAX_BACKOFF_SECONDS, 5 * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def _still_ours(job: ClaimedJob) -> Any:
    return (Job.id == job.id) & (Job.status == "running") & (Job.attempts == job.attempts)


def run_claimed_job(engine: Engine, job: ClaimedJob) -> bool:
    """Run one claimed job; True when it succeeded. Never raises for the job's own failure."""
    handler = HANDLERS.get(job.kind)
    if handler is None:
        _record_failure(engine, job, f"no handler for job kind {job.kind!r}", final=True)
        return False
    try:
        with Session(engine) as session:
            handler(session, job.payload)
            done = session.execute(
                update(Job)
                .where(_still_ours(job))
                .values(status="done", finished_at=utcnow(), lease_expires_at=None, last_error="")
            )
            if done.rowcount != 1:  # our lease lapsed and another worker took the job
                session.rollback()
                log.warning("job %s (%s): lease lost, result discarded", job.id, job.kind)
                return False
            session.commit()
    except Exception:
        error = traceback.format_exc(limit=8)
        log.warning("job %s (%s) failed on attempt %s", job.id, job.kind, job.attempts)
        _record_failure(engine, job, error, final=job.attempts >= job.max_attempts)
        return False
    log.info("job %s (%s) done", job.id, job.kind)
    return True


def _record_failure(engine: Engine, job: ClaimedJob, error: str, *, final: bool) -> None:
    values: dict[str, Any] = {"last_error": error[-4000:], "lease_expires_at": None}
    if final:
        values.update(status="dead", finished_at=utcnow())
        log.error("job %s (%s) is dead after %s attempts", job.id, job.kind, job.attempts)
    else:
        values.update(status="queued", run_at=utcnow() + backoff(job.attempts))
    with Session(engine) as session:
        session.execute(update(Job).where(_still_ours(job)).values(**values))
        session.commit()


def run_due_jobs(app: Flask, *, limit: int | None = None) -> int:
    """Run due jobs until none is left (or `limit` ran); the number run."""
    engine: Engine = app.extensions["db_engine"]
    ran = 0
    with app.app_context():
        while limit is None or ran < limit:
            job = claim_next_job(engine, lease_seconds=app.config["JOB_LEASE_SECONDS"])
            if job is None:
                break
            run_claimed_job(engine, job)
            ran += 1
    return ran


def run_worker(
    app: Flask, *, stop: threading.Event | None = None, poll_seconds: float = 1.0
) -> None:
    """Run jobs until stopped. SIGTERM and SIGINT finish the current job, then stop."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.info("worker %s started", name)
    engine: Engine = app.extensions["db_engine"]
    with app.app_context():
        while not stop.is_set():
            try:
                job = claim_next_job(engine, lease_seconds=app.config["JOB_LEASE_SECONDS"])
            except Exception:  # the database is away (restart, failover): wait and retry
                log.exception("worker %s could not claim a job", name)
                stop.wait(poll_seconds * 5)
                continue
            if job is None:
                stop.wait(poll_seconds)
                continue
            run_claimed_job(engine, job)
    log.info("worker %s stopped", name)
