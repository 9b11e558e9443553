"""Worker processes: one killed mid-job loses nothing (the job runs again,
once, elsewhere); one asked to stop finishes its job first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.jobs.models import Job
from referral.jobs.queue import enqueue
from referral.mail.models import OutboxEmail

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2

pytestmark = pytest.mark.slow


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"JOB_LEASE_SECONDS": LEASE_SECONDS}


def worker(database_url: str, *args: str) -> subprocess.Popen[bytes]:
    """A worker process on the test's database (a file for SQLite)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "SECRET_KEY": "test-crash",
        "MAIL_BACKEND": "outbox",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.killable_worker", *args], cwd=ROOT, env=env
    )


def wait_for(marker: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the worker never started the job"


def test_a_job_of_a_killed_worker_runs_again_once(
    app: Flask, db: Session, database_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "first-run"
    job = enqueue(db, "test.hang", {"marker": str(marker)})
    db.commit()

    first = worker(database_url)
    try:
        wait_for(marker, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

    db.refresh(job)
    assert (job.status, job.attempts) == ("running", 1)  # left behind by the dead worker
    time.sleep(LEASE_SECONDS + 0.5)  # the lease lapses
    second = worker(database_url, "--once")
    assert second.wait(timeout=60) == 0

    db.refresh(job)
    assert (job.status, job.attempts) == ("done", 2)
    rows = db.exec(select(OutboxEmail.message_id)).all()
    assert rows == [f"hang-{second.pid}"]  # the killed run wrote nothing


def test_sigterm_lets_the_worker_finish_its_job_then_stop(
    app: Flask, db: Session, database_url: str, tmp_path: Path
) -> None:
    current = enqueue(db, "test.patient", {"marker": str(tmp_path / "current")})
    db.commit()
    following = enqueue(db, "test.patient", {"marker": str(tmp_path / "following")})
    db.commit()

    process = worker(database_url)
    try:
        wait_for(tmp_path / "current", process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    db.refresh(current)
    db.refresh(following)
    assert (current.status, current.attempts) == ("done", 1)
    assert (following.status, following.attempts) == ("queued", 0)  # left for the next worker
    assert db.exec(select(OutboxEmail.message_id)).all() == [f"patient-{process.pid}"]
    assert db.exec(select(Job.lease_expires_at).where(Job.id == current.id)).one() is None
