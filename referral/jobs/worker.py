"""The job worker: claim a due job, run it, record the outcome.

A claim is one atomic statement: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets
many workers claim side by side; on SQLite the claim runs under `BEGIN
IMMEDIATE`, the database's single write lock, so two processes never take the
same job. A claimed job carries a lease, renewed while its handler runs: if its
worker dies, the lease lapses and another worker runs the job again, so every
handler must be idempotent.

The handler's writes and the job's "done" commit in one transaction, guarded
by the attempt number, so a worker whose lease was taken over cannot also
commit its result.

Logs name job ids and kinds, never payloads: emails carry personal data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import random
import signal
import socket
import threading
import traceback
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, Integer, bindparam, or_, select, union_all, update
from sqlmodel import Session

from referral.db import utcnow
from referral.jobs.models import Job
from referral.jobs.queue import HANDLERS
from referral.jobs.running import ClaimedJob, running
from referral.logs import redact

log = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 5
MAX_BACKOFF_SECONDS = 3600
MAX_ERROR_CHARS = 4000


class PermanentJobError(Exception):
    """Raised by a handler when trying again cannot help (a refused address, a
    deleted record): the job is dead at once instead of being retried."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _due() -> Any:
    return or_(
        (Job.status == "queued") & (Job.run_at <= bindparam("now")),
        (Job.status == "running") & (Job.lease_expires_at < bindparam("now")),
    )


def _next_due_ids(dialect_name: str) -> Any:
    """The ids of the first `limit` due jobs by (run_at, id) that no other claim
    holds.

    The two kinds of due job are looked up apart, each in (run_at, id) order
    from ix_job_claim, and the earliest of both are taken: one query with their
    OR would read and sort every queued job for each claim.
    """
    firsts = []
    limit = bindparam("limit", type_=Integer)
    for name, kind in (
        ("queued_first", (Job.status == "queued") & (Job.run_at <= bindparam("now"))),
        ("lapsed_first", (Job.status == "running") & (Job.lease_expires_at < bindparam("now"))),
    ):
        first = select(Job.id, Job.run_at).where(kind).order_by(Job.run_at, Job.id).limit(limit)
        if dialect_name == "postgresql":
            first = first.with_for_update(skip_locked=True)
        firsts.append(first.cte(name))
    both = union_all(*(select(f.c.id, f.c.run_at) for f in firsts)).subquery("due")
    return select(both.c.id).order_by(both.c.run_at, both.c.id).limit(limit)


@functools.cache
def _claim(dialect_name: str) -> Any:
    """The claim, built once per dialect with its values bound: a worker sends
    it for every batch, and building it (with the ORM's checks of each
    comparison) cost more CPU than running it."""
    return (
        update(Job)
        .where(Job.id.in_(_next_due_ids(dialect_name)), _due())  # type: ignore[union-attr]
        .values(
            status="running",
            attempts=Job.attempts + 1,
            lease_expires_at=bindparam("lease_expires_at"),
        )
        .returning(Job.run_at, Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
    )


def claim_due_jobs(
    engine: Engine,
    *,
    lease_seconds: int,
    limit: int = 1,
    worker_id: str = "",
    now: dt.datetime | None = None,
) -> list[ClaimedJob]:
    """Atomically take up to `limit` due jobs (or ones whose lease lapsed), in
    the order they fell due.

    The claim commits at once, in a transaction of its own, so it takes the
    engine rather than a caller's session. Claiming several at a time spares a
    busy worker a transaction (and its commit) per job.
    """
    now = now or utcnow()
    values = {
        "now": now,
        "limit": limit,
        "lease_expires_at": now + dt.timedelta(seconds=lease_seconds),
    }
    with engine.begin() as connection:  # on SQLite it begins IMMEDIATE (db.py)
        rows = connection.execute(_claim(engine.dialect.name), values).all()
    jobs = [ClaimedJob(*row[1:]) for row in sorted(rows, key=lambda row: (row[0], row[1]))]
    for job in jobs:
        log.info(
            "worker %s claimed job %s (%s), attempt %s of %s",
            worker_id or default_worker_id(),
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
        )
    return jobs


def claim_next_job(
    engine: Engine,
    *,
    lease_seconds: int,
    worker_id: str = "",
    now: dt.datetime | None = None,
) -> ClaimedJob | None:
    """The next due job, claimed as `claim_due_jobs` does, or None."""
    jobs = claim_due_jobs(engine, lease_seconds=lease_seconds, worker_id=worker_id, now=now)
    return jobs[0] if jobs else None


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s ... up to an hour, with ±20% jitter so retries spread out."""
    seconds = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


# The job's row while this worker's claim holds it (not lapsed and taken over):
# what every statement about a claimed job is guarded by. Built once, its
# values bound (`_ours`), and run with no synchronisation of the session
# (the job row is never loaded in it): building it per job and the ORM's
# evaluation of it against what the handler had loaded cost more than the
# statements themselves.
_OURS = (
    (Job.id == bindparam("job_id"))
    & (Job.status == "running")
    & (Job.attempts == bindparam("attempt"))
)


def _ours(job: ClaimedJob) -> dict[str, Any]:
    """The values of `_OURS` for the job."""
    return {"job_id": job.id, "attempt": job.attempts}


def _still_ours(jobs: list[ClaimedJob]) -> Any:
    """`_OURS` for several jobs at once, as one condition (their leases are
    renewed by one statement, whose row count says whether any is left)."""
    return or_(
        *(
            (Job.id == job.id) & (Job.status == "running") & (Job.attempts == job.attempts)
            for job in jobs
        )
    )


_DONE = (
    update(Job)
    .where(_OURS)
    .values(status="done", finished_at=bindparam("now"), lease_expires_at=None, last_error="")
    .execution_options(synchronize_session=False)
)
# Not started: queued again at once, the attempt not counted.
_GIVEN_BACK = (
    update(Job)
    .where(_OURS)
    .values(status="queued", attempts=Job.attempts - 1, lease_expires_at=None)
)


@contextlib.contextmanager
def _leases_kept(engine: Engine, jobs: list[ClaimedJob], lease_seconds: int) -> Iterator[None]:
    """Renew the leases of the claimed jobs not yet finished while they wait and
    run, so a slow job is not taken over by another worker; a dead worker stops
    renewing and its leases lapse. One thread and one statement for all of them."""
    stop = threading.Event()
    names = ", ".join(str(job.id) for job in jobs)

    def renew() -> None:
        while not stop.wait(max(lease_seconds / 3, 0.2)):
            try:
                with engine.begin() as connection:
                    renewed = connection.execute(
                        update(Job)
                        .where(_still_ours(jobs))
                        .values(lease_expires_at=utcnow() + dt.timedelta(seconds=lease_seconds))
                    ).rowcount
            except Exception as exc:  # busy database: try again at the next beat
                log.warning("jobs %s: leases not renewed: %r", names, exc)
                continue
            if renewed == 0:
                return  # all finished, or taken over: nothing left to keep

    keeper = threading.Thread(target=renew, name=f"lease-jobs-{names}"[:60], daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()


def _release(engine: Engine, jobs: list[ClaimedJob]) -> None:
    """Give back claimed jobs that were not started (the worker is stopping):
    queued again at once, the attempt not counted."""
    if not jobs:
        return
    with engine.begin() as connection:
        connection.execute(_GIVEN_BACK, [_ours(job) for job in jobs])


def run_claimed_job(engine: Engine, job: ClaimedJob, *, lease_seconds: int | None = None) -> bool:
    """Run one claimed job in its own transaction, keeping its lease; True when
    it succeeded. Needs an app context (handlers read config and render
    templates). Never raises for the job's own failure: that is recorded on the
    job instead."""
    lease = lease_seconds or current_app.config["JOB_LEASE_SECONDS"]
    with _leases_kept(engine, [job], lease):
        return _run(engine, job)


def _run(engine: Engine, job: ClaimedJob) -> bool:
    """Run a claimed job whose lease the caller keeps."""
    handler = HANDLERS.get(job.kind)
    if handler is None:
        _record_failure(engine, job, f"no handler for job kind {job.kind!r}", final=True)
        return False
    with running(job):
        try:
            with Session(engine, expire_on_commit=False) as session:
                handler(session, job.payload)
                done = session.execute(_DONE, {**_ours(job), "now": utcnow()})
                if done.rowcount != 1:  # our lease lapsed and another worker took the job
                    session.rollback()
                    log.warning("job %s (%s): lease lost, result discarded", job.id, job.kind)
                    return False
                session.commit()
        except PermanentJobError as exc:
            _record_failure(engine, job, f"{type(exc).__name__}: {exc}", final=True)
            return False
        except Exception as exc:
            final = job.attempts >= job.max_attempts
            log.warning(
                "job %s (%s) failed on attempt %s of %s: %s",
                job.id,
                job.kind,
                job.attempts,
                job.max_attempts,
                type(exc).__name__,
            )
            _record_failure(engine, job, traceback.format_exc(limit=8), final=final)
            return False
    log.info("job %s (%s) done", job.id, job.kind)
    return True


def _record_failure(engine: Engine, job: ClaimedJob, error: str, *, final: bool) -> None:
    # Errors quote what failed (a refused address, a row the database rejected):
    # kept redacted, as logs are, since operators read them on the failures page.
    error = redact(error)[-MAX_ERROR_CHARS:]
    values: dict[str, Any] = {"last_error": error, "lease_expires_at": None}
    if final:
        values.update(status="dead", finished_at=utcnow())
        log.error("job %s (%s) is dead after %s attempts", job.id, job.kind, job.attempts)
    else:
        values.update(status="queued", run_at=utcnow() + backoff(job.attempts))
    with engine.begin() as connection:
        connection.execute(update(Job).where(_OURS).values(**values), _ours(job))


def _run_batch(
    app: Flask, worker_id: str, *, limit: int, stop: threading.Event | None = None
) -> int:
    """Claim up to `limit` due jobs and run them one by one, each in a fresh app
    context; the number run (0 when none was due). Jobs not started when `stop`
    is set are given back."""
    engine: Engine = app.extensions["db_engine"]
    lease_seconds = app.config["JOB_LEASE_SECONDS"]
    jobs = claim_due_jobs(engine, lease_seconds=lease_seconds, limit=limit, worker_id=worker_id)
    ran = 0
    with _leases_kept(engine, jobs, lease_seconds):
        try:
            for job in jobs:
                if stop is not None and stop.is_set():
                    break
                with app.app_context():  # a fresh `g` per job: nothing leaks between jobs
                    _run(engine, job)
                ran += 1
        finally:
            _release(engine, jobs[ran:])
    return ran


def run_due_jobs(app: Flask, *, limit: int | None = None) -> int:
    """Run due jobs until none is left (or `limit` ran); the number run.

    A failed job is queued again for later, so it does not run twice here.
    """
    worker_id = default_worker_id()
    batch = app.config["JOB_CLAIM_BATCH"]
    ran = 0
    while limit is None or ran < limit:
        done = _run_batch(app, worker_id, limit=batch if limit is None else min(batch, limit - ran))
        if done == 0:
            break
        ran += done
    return ran


@contextlib.contextmanager
def _stop_on_signals(stop_event: threading.Event, worker_id: str) -> Iterator[None]:
    """SIGTERM and SIGINT ask the loop to stop after the current job (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, _frame: object) -> None:
        log.info("worker %s: %s received, stopping after the current job", worker_id, signum)
        stop_event.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_worker(
    app: Flask,
    stop_event: threading.Event | None = None,
    *,
    poll_interval: float = 1.0,
    worker_id: str | None = None,
) -> None:
    """Run jobs until `stop_event` is set or SIGTERM/SIGINT arrives; the job
    under way is finished first. An unreachable database is waited out."""
    stop_event = stop_event or threading.Event()
    worker_id = worker_id or default_worker_id()
    log.info("worker %s started", worker_id)
    with _stop_on_signals(stop_event, worker_id):
        while not stop_event.is_set():
            try:
                ran = _run_batch(
                    app, worker_id, limit=app.config["JOB_CLAIM_BATCH"], stop=stop_event
                )
            except Exception:  # the database is away (restart, failover): wait and retry
                log.exception("worker %s could not claim or record a job", worker_id)
                stop_event.wait(max(poll_interval, 1.0) * 5)
                continue
            if ran == 0:
                stop_event.wait(poll_interval)
    log.info("worker %s stopped", worker_id)
