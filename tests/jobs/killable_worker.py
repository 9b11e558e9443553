"""A worker process for the crash tests: `python -m tests.jobs.killable_worker`.

Settings come from the environment (DATABASE_URL, JOB_LEASE_SECONDS). It
registers two test-only handlers:
- `test.hang`: its first run hangs (so a test can SIGKILL the process
  mid-job); later runs finish at once;
- `test.patient`: takes a second and a half (so a test can SIGTERM the
  process mid-job and see the job finish).
Both write a marker file when they start and an outbox row named after the
process, so a test can tell which run committed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from referral import create_app
from referral.config import Config
from referral.jobs.queue import job_handler
from referral.jobs.worker import run_due_jobs, run_worker
from referral.mail.models import OutboxEmail


def _write_row(session: Session, name: str) -> None:
    session.add(
        OutboxEmail(
            message_id=f"{name}-{os.getpid()}",
            recipient="x@example.com",
            subject=name,
            text_body="",
        )
    )


@job_handler("test.hang")
def hang(session: Session, payload: dict[str, Any]) -> None:
    marker = Path(payload["marker"])
    _write_row(session, "hang")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(600)  # killed here


@job_handler("test.patient")
def patient(session: Session, payload: dict[str, Any]) -> None:
    Path(payload["marker"]).write_text(str(os.getpid()))
    time.sleep(1.5)  # SIGTERM arrives here
    _write_row(session, "patient")


if __name__ == "__main__":
    app = create_app(Config())
    if sys.argv[1:] == ["--once"]:
        run_due_jobs(app)
    else:
        run_worker(app, poll_interval=0.1)
