"""`referral worker` runs jobs; `referral jobs ...` inspects and retries them."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from referral.db import transaction, utcnow
from referral.jobs.models import Job


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every due job, then exit.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between polls when idle.")
@with_appcontext
def worker_command(once: bool, poll: float) -> None:
    """Run background jobs (email, Stripe events, expiries) until stopped."""
    from referral.jobs.worker import run_due_jobs, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        click.echo(f"{run_due_jobs(app)} jobs run.")
        return
    run_worker(app, poll_seconds=poll)


jobs_group = click.Group("jobs", help="Inspect and retry background jobs.")


@jobs_group.command("status")
@with_appcontext
def jobs_status() -> None:
    """How many jobs are in each state."""
    with transaction() as session:
        rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = dict(rows)
    for status in ("queued", "running", "done", "dead"):
        click.echo(f"{status:<8}{counts.get(status, 0):>8}")


@jobs_group.command("dead")
@with_appcontext
def jobs_dead() -> None:
    """Jobs that failed every attempt, with the last error's final line."""
    with transaction() as session:
        rows = session.scalars(select(Job).where(Job.status == "dead").order_by(Job.id)).all()
        for job in rows:
            last_line = job.last_error.strip().splitlines()[-1] if job.last_error else ""
            click.echo(f"{job.id:>6}  {job.kind:<24} attempts={job.attempts}  {last_line}")
        if not rows:
            click.echo("No dead jobs.")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@with_appcontext
def jobs_retry(job_id: int) -> None:
    """Queue a dead job again, with a fresh set of attempts."""
    with transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != "dead":
            raise click.ClickException(f"No dead job {job_id}.")
        job.status, job.attempts, job.run_at, job.finished_at = "queued", 0, utcnow(), None
    click.echo(f"Job {job_id} queued again.")


commands: list[click.Command] = [worker_command, jobs_group]
