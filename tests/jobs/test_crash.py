"""A worker killed mid-job loses nothing: the job runs again, once, elsewhere."""

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

from referral.jobs.queue import enqueue
from referral.mail.models import OutboxEmail

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"JOB_LEASE_SECONDS": 2}


def worker(database_url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JOB_LEASE_SECONDS": "2",
        "SECRET_KEY": "test-crash",
        "MAIL_BACKEND": "outbox",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.killable_worker", *args], cwd=ROOT, env=env
    )


@pytest.mark.slow
def test_a_job_of_a_killed_worker_runs_again_once(
    app: Flask, db: Session, database_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "first-run"
    job = enqueue(db, "test.slow", {"marker": str(marker)})
    db.commit()

    first = worker(database_url)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the worker never started the job"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    time.sleep(2.5)  # the lease lapses
    second = worker(database_url, "--once")
    assert second.wait(timeout=60) == 0

    db.refresh(job)
    assert (job.status, job.attempts) == ("done", 2)
    rows = db.exec(select(OutboxEmail.message_id)).all()
    assert rows == [f"slow-{second.pid}"]  # the killed run wrote nothing
