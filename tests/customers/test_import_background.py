"""A large customer list is imported by the job worker in batches, with its
progress kept on the import, and a run cut short resumes where it stopped.

CI imports IMPORT_ROWS rows (5,000 by default); the 100,000-row run the issue
asks for is the same test with IMPORT_ROWS=100000:

    IMPORT_ROWS=100000 PYTHONPATH=$PWD python -m pytest -q tests/customers/test_import_background.py
"""

from __future__ import annotations

import os

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlmodel import Session

from referral.customers import imports
from referral.customers.models import Customer, CustomerImport, CustomerJob, ImportStatus
from referral.jobs.models import Job
from tests.support.factories import make_business
from tests.support.jobs import run_jobs

ROWS = int(os.environ.get("IMPORT_ROWS", "5000"))


def customer_list(rows: int) -> bytes:
    """A field-service export: one job per row, every tenth row a second job of
    the customer above it, and a few bad rows."""
    lines = ["Customer ID,Client Name,E-mail,Phone,Zip Code,Invoice #,Invoice Date,Total"]
    for i in range(rows):
        n = i - i % 10 if i % 10 == 9 else i
        amount = "-5" if i % 1000 == 500 else f"{100 + i % 900}.50"
        lines.append(
            f"C{n},Customer {n},c{n}@example.com,,78701,INV-{i},2025-{1 + i % 12:02d}-15,{amount}"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def count(db: Session, model: type) -> int:
    return db.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def record(db: Session) -> CustomerImport:
    business = make_business(db)
    assert business.id is not None
    record = imports.upload_import(
        session=db,
        business_id=business.id,
        user_id=None,
        filename="export.csv",
        content=customer_list(ROWS),
    )
    imports.plan_import(session=db, record=record, shown=0)
    db.commit()
    return record


def test_a_large_file_is_imported_by_the_worker_with_its_progress(
    app: Flask, db: Session, record: CustomerImport
) -> None:
    imports.start_import(session=db, record=record)
    db.commit()
    assert record.status == ImportStatus.QUEUED
    imports.start_import(session=db, record=record)  # a second submit
    db.commit()
    assert count(db, Job) == 1

    run_jobs(app)

    db.refresh(record)
    bad = len([i for i in range(ROWS) if i % 1000 == 500])
    repeats = len([i for i in range(ROWS) if i % 10 == 9])
    assert record.status == ImportStatus.DONE
    assert record.rows_done == record.rows_total == ROWS
    assert record.counts == {
        "customers_created": ROWS - repeats,  # a bad row's customer comes with its repeat
        "customers_updated": 0,
        "customers_unchanged": 0,
        "jobs_added": ROWS - bad,
        "jobs_already_there": 0,
        "rows_skipped": 0,
        "rows_with_errors": bad,
    }
    assert count(db, Customer) == ROWS - repeats
    assert count(db, CustomerJob) == ROWS - bad


def test_a_run_cut_short_resumes_after_its_last_batch(
    app: Flask, db: Session, record: CustomerImport
) -> None:
    imports.start_import(session=db, record=record, in_background=True)
    db.commit()
    # A worker died after committing the first batch: the import is running,
    # its progress says where it stopped.
    record.status = ImportStatus.RUNNING
    record.counts = dict.fromkeys(imports.COUNTS, 0)
    planner = imports.Planner(db, record, write=True)
    first = next(planner.records())
    imports._write_batch(db, record, planner, planner.plan_batch(first))
    record.choices = {**record.choices, "resume_after": first[-1].line}
    db.commit()

    run_jobs(app)

    db.refresh(record)
    assert record.status == ImportStatus.DONE and record.rows_done == ROWS
    assert count(db, CustomerJob) == record.counts["jobs_added"]
    assert record.counts["customers_unchanged"] == 0
