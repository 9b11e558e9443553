"""Enqueue durable jobs, and the registry of what runs each kind.

`enqueue` only adds a row to the caller's session: the job commits (or not)
with the change that caused it (a transactional outbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from referral.db import utcnow
from referral.jobs.models import SINGLETON_QUEUED, Job
from referral.jobs.running import current_job

JobHandler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, JobHandler] = {}


def job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs jobs of `kind`. It must be idempotent:
    a job whose worker died mid-run is run again."""

    def register(func: JobHandler) -> JobHandler:
        if kind in HANDLERS and HANDLERS[kind] is not func:
            raise RuntimeError(f"two handlers for job kind {kind!r}")
        HANDLERS[kind] = func
        return func

    return register


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: dt.datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add a job to `session`. Attempts default to JOB_MAX_ATTEMPTS (8)."""
    job = Job(
        kind=kind,
        payload=payload or {},
        run_at=run_at or utcnow(),
        max_attempts=_max_attempts() if max_attempts is None else max_attempts,
    )
    session.add(job)
    return job


def _max_attempts() -> int:
    return current_app.config.get("JOB_MAX_ATTEMPTS", 8) if current_app else 8


def keep_scheduled(
    session: Session, kind: str, *, after: dt.timedelta, now: dt.datetime | None = None
) -> None:
    """Keep exactly one job of `kind` waiting: queue one to run `after` from
    now, unless another is queued or running. The job calling this (a run
    queueing its successor) does not count."""
    running = current_job()
    others = select(Job.id).where(Job.kind == kind, Job.status.in_(("queued", "running")))  # type: ignore[attr-defined]
    if running is not None:
        others = others.where(Job.id != running.id)
    if session.execute(others.limit(1)).first() is not None:
        return
    # Two workers starting together both find none: the unique index on queued
    # singletons keeps the second insert from adding a row.
    now = now or utcnow()
    enqueue_once(session, kind, {}, singleton=kind, run_at=now + after, now=now)


def enqueue_once(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    singleton: str,
    run_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Queue a job unless one with the same `singleton` name is already queued
    (a running one does not count: it may have looked before the caller's change).

    The queued one found is locked until the caller commits (an UPDATE that
    changes nothing), so no worker claims it in between (claims skip locked
    rows) and runs it without seeing the caller's change: an outgoing webhook
    written just then was left undelivered so."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = now or utcnow()
    table = Job.__table__  # type: ignore[attr-defined]
    session.execute(
        insert(table)
        .values(
            kind=kind,
            singleton=singleton,
            payload=payload,
            status="queued",
            attempts=0,
            max_attempts=_max_attempts(),
            run_at=run_at or now,
            last_error="",
            created_at=now,
        )
        .on_conflict_do_update(
            index_elements=["singleton"],
            index_where=text(SINGLETON_QUEUED),
            set_={"run_at": table.c.run_at},
        )
    )


# Functions run when a worker starts, each keeping one recurring job queued
# (the weekly settlement run, say).
RECURRING: list[Callable[[Session], None]] = []


def recurring(func: Callable[[Session], None]) -> Callable[[Session], None]:
    RECURRING.append(func)
    return func
