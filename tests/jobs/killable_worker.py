"""A worker process for the crash test: `python -m tests.jobs.killable_worker`.

Registers `test.slow`, whose first run hangs (so the test can SIGKILL the
process mid-job) and whose later runs finish at once.
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


@job_handler("test.slow")
def slow(session: Session, payload: dict[str, Any]) -> None:
    marker = Path(payload["marker"])
    session.add(
        OutboxEmail(
            message_id=f"slow-{os.getpid()}", recipient="x@example.com", subject="s", text_body=""
        )
    )
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(600)  # killed here


if __name__ == "__main__":
    app = create_app(Config())
    if sys.argv[1:] == ["--once"]:
        run_due_jobs(app)
    else:
        run_worker(app, poll_seconds=0.1)
