"""Background work for customers: importing large files."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.customers.imports import IMPORT_JOB, run_import
from referral.customers.models import CustomerImport
from referral.jobs.queue import job_handler


@job_handler(IMPORT_JOB)
def import_customers(session: Session, payload: dict[str, Any]) -> None:
    """Import a file in batches, each committed with the progress; a run cut
    short (a worker killed) resumes after the last committed batch."""
    record = session.get(CustomerImport, payload["import_id"])
    if record is None:
        return
    run_import(session=session, record=record, commit_batches=True)
