"""The bare loop bench/job_cpu.py measures the job worker against: it sends
Referral's statements, so it must run against the real schema and do what the
worker does with the same jobs (each email stored in the outbox once, each
job done). No timing here: speed is the benchmark's to report."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from bench.job_cpu import bare_jobs
from referral.jobs.models import Job
from referral.mail.models import OutboxEmail
from referral.mail.services import queue_email


@pytest.mark.parametrize("backend", ["postgresql"])  # the bare loop speaks psycopg
def test_the_bare_loop_delivers_queued_emails_to_the_outbox_as_the_worker_does(
    app: Flask, db: Session
) -> None:
    with app.app_context():
        jobs = [
            queue_email(
                db, to=f"ana{n}@example.com", subject="Hello", template="verify_email", link="x"
            )
            for n in range(3)
        ]
        db.commit()
    dsn = app.config["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)

    ran = bare_jobs(dsn, batch=2, lease_seconds=60)

    db.expire_all()
    assert ran == 3
    assert [db.get(Job, job.id).status for job in jobs] == ["done"] * 3  # type: ignore[union-attr]
    stored = db.exec(select(OutboxEmail.recipient).order_by(OutboxEmail.recipient)).all()
    assert stored == ["ana0@example.com", "ana1@example.com", "ana2@example.com"]
