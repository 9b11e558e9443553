"""A customer list is planned and imported a batch at a time: the memory it
takes does not grow with the file (up to 100,000 rows, in the job worker),
and what each row does does not depend on where the batches split."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import pytest
from sqlmodel import Session

from referral.customers import imports, services
from referral.customers.models import CustomerImport, ImportStatus
from tests.support.factories import make_business

# Customers met this many lines earlier come back: a batch behind.
BACK = imports.BATCH_ROWS


def field_service_export(rows: int) -> bytes:
    """Customers with a job each; every seventh line is the customer of the
    line BACK lines above again, with a second job or (every other time) the
    same job, so the planner has to know lines it left batches ago."""
    lines = ["Customer ID,Client Name,E-mail,Zip Code,Invoice #,Invoice Date,Total"]
    for i in range(rows):
        n = i - BACK if i % 7 == 6 and i >= BACK else i
        job = f"INV-{n if i % 14 == 13 else i},2025-{1 + n % 12:02d}-15,{100 + n % 900}.50"
        lines.append(f"C{n},Customer {n},c{n}@example.com,78701,{job}")
    return ("\r\n".join(lines) + "\r\n").encode()


def uploaded(db: Session, content: bytes) -> CustomerImport:
    business = make_business(db)
    record = imports.upload_import(
        session=db, business_id=business.id or 0, user_id=None, filename="c.csv", content=content
    )
    db.commit()
    return record


def peak_bytes(work: Callable[[], object]) -> int:
    """The most the Python heap held at once, above what it held before, while `work` ran."""
    gc.collect()  # garbage of earlier work is not counted, nor freed during this one
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def preview(db: Session, record: CustomerImport) -> None:
    imports.plan_import(session=db, record=record, shown=0)


def worker_run(db: Session, record: CustomerImport) -> None:
    imports.start_import(session=db, record=record, in_background=True)
    db.commit()
    imports.run_import(session=db, record=record, commit_batches=True)
    db.commit()
    assert record.status == ImportStatus.DONE, record.message


@pytest.mark.parametrize("work", [preview, worker_run], ids=["preview", "worker"])
def test_memory_does_not_grow_with_the_file(
    db: Session, monkeypatch: pytest.MonkeyPatch, work: Callable[[Session, CustomerImport], None]
) -> None:
    # The file is read from the database in chunks; a smaller chunk makes these files large.
    monkeypatch.setattr(imports, "FILE_CHUNK_BYTES", 16 * 1024)
    rows = 2 * imports.BATCH_ROWS
    work(db, uploaded(db, field_service_export(rows // 4)))  # caches filled once, not measured
    small, large = (uploaded(db, field_service_export(n)) for n in (rows, 4 * rows))

    at_rows = peak_bytes(lambda: work(db, small))
    at_4x_rows = peak_bytes(lambda: work(db, large))

    # Before FileCustomerIndex, every customer of the file stayed in memory
    # (1.4 KB a row): the larger file took twice the memory.
    assert at_4x_rows < at_rows * 1.4, (at_rows, at_4x_rows)


EVERY_CASE = (
    "name,email,phone,address,zip_code,job_date,job_description,job_amount\n"
    "Ana,ana@example.com,512-555-0101,,78701,2025-03-02,AC tune-up,149\n"  # 2
    "Ben,ben@example.com,,,,,,\n"  # 3
    "Ana,ana@example.com,,1 Main St,,2025-03-02,AC tune-up,149\n"  # 4: the job of line 2
    "Ana,,512-555-0101,,,2025-09-14,New condenser,6200\n"  # 5: another job of line 2's
    "Cy,cy@example.com,512-555-0101,,,,,\n"  # 6: line 2's phone: resolved as new
    "Ben,ben@example.com,512-555-0102,2 Oak,,2025-05-01,Windows,90\n"  # 7: fills line 3's blanks
    "Ben,ben@example.com,,3 Elm,,2025-05-05,Gutters,80\n"  # 8: a street line 7 gave: merged
    "Zed,zed@example.com,512-555-0199,,,2025-01-05,Repair,300\n"  # 9: a stored customer
    "Zed,zed@example.com,,,,2025-01-05,Repair,300\n"  # 10: the same job
    "Dee,ana@example.com,512-555-0199,,,,,\n"  # 11: lines 2 and 9
    "Old,old@example.com,,9 New Rd,,,,\n"  # 12: an update
    "Old,old@example.com,,,,2025-02-02,Visit,100\n"  # 13
    "Cy,cy@example.com,,,,2025-04-04,Fix,50\n"  # 14: the customer line 6 created
    "Ana,ana@example.com,,,,2025-03-02,AC tune-up,149\n"  # 15: line 2's job again
    "Ben,ben@example.com,,3 Elm,,,,\n"  # 16: a conflict, skipped
)


def every_case(db: Session) -> CustomerImport:
    record = uploaded(db, EVERY_CASE.encode())
    for name, email, phone in (
        ("Zed", "zed@example.com", "+15125550199"),
        ("Old", "old@example.com", ""),
    ):
        services.create_customer(
            session=db,
            business_id=record.business_id,
            data={"name": name, "email": email, "phone": phone},
        )
    imports.set_choices(
        session=db,
        record=record,
        updates="overwrite",
        keep={},
        conflicts={"6": "new", "8": "merge"},
    )
    db.commit()
    return record


def planned(db: Session, record: CustomerImport) -> tuple[dict[str, int], list[tuple[object, ...]]]:
    plan = imports.plan_import(session=db, record=record, shown=100)
    return plan.counts, [
        (
            row.line,
            row.outcome.value,
            row.label,
            imports.outcome_message(row),
            row.customer_id,
            [(c.field, c.old, c.new) for c in row.changes],
        )
        for row in plan.shown
    ]


@pytest.mark.parametrize("batch_rows", [1, 2, 3])
def test_what_each_row_does_does_not_depend_on_where_the_batches_split(
    app_context: None, db: Session, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    record = every_case(db)
    counts, rows = planned(db, record)  # the file in one batch

    monkeypatch.setattr(imports, "BATCH_ROWS", batch_rows)
    assert planned(db, record) == (counts, rows)
    imports.start_import(session=db, record=record, in_background=True)
    db.commit()
    imports.run_import(session=db, record=record, commit_batches=True)
    db.commit()

    assert record.counts == counts
    assert [
        (row.line, row.outcome, row.message)
        for row in imports.outcome_rows(session=db, record=record)
    ] == [(line, outcome, message) for line, outcome, _, message, _, _ in rows]
