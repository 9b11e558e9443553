"""Run the job queue inside a test, as the worker process would."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine, select
from sqlmodel import Session

from referral.jobs.models import Job
from referral.jobs.worker import claim_next_job, run_claimed_job

MAX_JOBS = 1000  # a job that keeps queueing jobs fails the test instead of hanging it


def run_jobs(app: Flask, *, allow_failures: bool = False) -> int:
    """Run every due job (and the jobs they queue) until none is due; the
    number run. A failing job fails the test unless `allow_failures`."""
    engine: Engine = app.extensions["db_engine"]
    lease_seconds = app.config["JOB_LEASE_SECONDS"]
    failed: list[int] = []
    for ran in range(MAX_JOBS + 1):
        job = claim_next_job(engine, lease_seconds=lease_seconds, worker_id="test")
        if job is None:
            break
        assert ran < MAX_JOBS, f"more than {MAX_JOBS} jobs: does a job queue itself?"
        with app.app_context():
            if not run_claimed_job(engine, job, lease_seconds=lease_seconds):
                failed.append(job.id)
    if failed and not allow_failures:
        with Session(engine) as session:
            jobs = session.scalars(select(Job).where(Job.id.in_(failed))).all()  # type: ignore[attr-defined]
            report = "\n\n".join(f"job {j.id} ({j.kind}):\n{j.last_error}" for j in jobs)
        raise AssertionError(f"{len(failed)} job(s) failed:\n{report}")
    return ran
