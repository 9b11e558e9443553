"""`referral worker` runs jobs; `referral jobs ...` inspects and retries them.

Output names job ids, kinds and errors, never payloads (they hold personal data).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlmodel import Session

from referral.db import transaction, utcnow
from referral.jobs.models import JOB_STATUSES, Job


class JobNotRetryable(Exception):
    """Only a dead job can be retried."""


def count_jobs_by_status(*, session: Session) -> dict[str, int]:
    """How many jobs are in each state (every state listed, zero included)."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = dict.fromkeys(JOB_STATUSES, 0)
    counts.update(tuple(row) for row in rows)
    return counts


def list_dead_jobs(*, session: Session, limit: int) -> list[Job]:
    """Dead jobs, newest first."""
    query = select(Job).where(Job.status == "dead").order_by(Job.id.desc()).limit(limit)
    return list(session.scalars(query))


def retry_job(*, session: Session, job_id: int) -> Job:
    """Queue a dead job again, due now, with a fresh set of attempts.
    Raises JobNotRetryable when there is no such job or it is not dead."""
    job = session.get(Job, job_id)
    if job is None or job.status != "dead":
        raise JobNotRetryable(f"No dead job {job_id}.")
    job.status, job.attempts, job.run_at = "queued", 0, utcnow()
    job.finished_at = job.lease_expires_at = None
    # A recurring run queued again beside its successor: it runs once more and
    # does not queue another (keep_scheduled finds the successor).
    job.singleton = None
    session.flush()
    return job


def _error_summary(job: Job) -> str:
    return job.last_error.strip().splitlines()[-1] if job.last_error.strip() else ""


def _echo_status(session: Session) -> None:
    for status, count in count_jobs_by_status(session=session).items():
        click.echo(f"{status:<8}{count:>8}")


def _echo_dead(session: Session, limit: int) -> None:
    jobs = list_dead_jobs(session=session, limit=limit)
    for job in jobs:
        click.echo(f"{job.id:>6}  {job.kind:<24} attempts={job.attempts}  {_error_summary(job)}")
    if not jobs:
        click.echo("No dead jobs.")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every due job, then exit.")
@click.option(
    "--poll-interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between polls when the queue is empty.",
)
@with_appcontext
def worker_command(once: bool, poll_interval: float) -> None:
    """Run background jobs (email, Stripe events, expiries) until stopped.

    SIGTERM or Ctrl-C finishes the job under way, then exits.
    """
    from referral.jobs.queue import RECURRING
    from referral.jobs.worker import run_due_jobs, run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with transaction() as session:
        for keep_queued in RECURRING:
            keep_queued(session)
    if once:
        click.echo(f"{run_due_jobs(app)} jobs run.")
        return
    from referral.longlived import freeze_loaded_objects

    freeze_loaded_objects()
    run_worker(app, poll_interval=poll_interval)


@click.group("jobs", invoke_without_command=True)
@click.pass_context
@with_appcontext
def jobs_group(ctx: click.Context) -> None:
    """Inspect and retry background jobs. Alone: counts by state, then dead jobs."""
    if ctx.invoked_subcommand is None:
        with transaction() as session:
            _echo_status(session)
            click.echo("")
            _echo_dead(session, limit=20)


@jobs_group.command("status")
@with_appcontext
def jobs_status() -> None:
    """How many jobs are in each state."""
    with transaction() as session:
        _echo_status(session)


@jobs_group.command("dead")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@with_appcontext
def jobs_dead(limit: int) -> None:
    """Jobs that failed every attempt, newest first, with their last error's final line."""
    with transaction() as session:
        _echo_dead(session, limit)


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@with_appcontext
def jobs_retry(job_id: int) -> None:
    """Queue a dead job again, with a fresh set of attempts."""
    try:
        with transaction() as session:
            retry_job(session=session, job_id=job_id)
    except JobNotRetryable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Job {job_id} queued again.")


commands: list[click.Command] = [worker_command, jobs_group]
