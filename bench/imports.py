"""Importing a customer list: rows per second, against a bare insert of the same rows.

    .venv/bin/python bench/imports.py                          # 20,000 rows on SQLite
    .venv/bin/python bench/imports.py --rows 100000
    .venv/bin/python bench/imports.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

Builds a field-service export (customer id, name, email, phone, ZIP, invoice
number, date, total, email opt-in; every tenth row a second job of the
customer above it; every other customer opted in, so the import writes their
marketing-permission history too),
then, in the same run and on the same database:

1. bare: the rows already parsed, written with one executemany per table
   (customers, then their jobs and permission events), in one transaction,
   rolled back;
2. import: the product's path as the job worker runs it: upload, preview
   (every row read, parsed and matched), then the worker process
   (`referral.jobs.worker.run_due_jobs`) imports it in batches, each batch
   committed with its progress.

Prints rows/s for both and the import's time as a ratio to the bare insert,
and the worker process's peak memory (its VmHWM, the peak resident set)
beside that of a worker that ran nothing, so the difference is what the
import used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from referral import create_app, migrate  # noqa: E402
from referral.businesses.geo import locate_zip  # noqa: E402
from referral.businesses.models import Business, Trade  # noqa: E402
from referral.businesses.taxonomy import seed_trades  # noqa: E402
from referral.config import Config  # noqa: E402
from referral.customers import imports  # noqa: E402
from referral.customers.models import (  # noqa: E402
    Customer,
    CustomerImport,
    CustomerJob,
    MarketingPermissionEvent,
)

# The worker's peak memory is its VmHWM, not getrusage's ru_maxrss: Linux
# carries ru_maxrss over from the process that started it (this bench, which
# holds the whole file and its preview), so every worker looked as large as it.
WORKER = """
import sys
sys.path.insert(0, {root!r})
from referral import create_app
from referral.config import Config
from referral.domains import load_job_handlers
from referral.jobs.worker import run_due_jobs
app = create_app(Config(env={{"DATABASE_URL": {url!r}, "SECRET_KEY": "bench"}}))
load_job_handlers()
ran = run_due_jobs(app) if {run} else 0
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(ran, peak_kb)
"""


def customer_list(rows: int) -> bytes:
    lines = [
        "Customer ID,Client Name,E-mail,Phone,Zip Code,Invoice #,Invoice Date,Total,Email Opt In"
    ]
    for i in range(rows):
        n = i - i % 10 if i % 10 == 9 else i
        # Unique per customer up to 100,000 rows (one phone for every 10,000
        # customers made conflicts of a fifth of a 100,000-row file).
        phone = f"512{200 + n // 10000:03d}{n % 10000:04d}" if n % 3 == 0 else ""
        lines.append(
            f"C{n},Customer {n},c{n}@example.com,{phone},78701,INV-{i},"
            f"2025-{1 + i % 12:02d}-15,{100 + i % 900}.50,{'yes' if n % 2 == 0 else 'no'}"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def business(session: Session, name: str) -> int:
    centre = locate_zip("78701")
    assert centre is not None
    trade = session.execute(select(Trade.id).limit(1)).scalar_one()
    found = Business(
        name=name,
        trade_id=trade,
        zip_code="78701",
        latitude=centre.latitude,
        longitude=centre.longitude,
        radius_miles=25,
    )
    session.add(found)
    session.commit()
    assert found.id is not None
    return found.id


def bare_insert(engine, business_id: int, rows: int) -> float:  # type: ignore[no-untyped-def]
    """The same customers and jobs, parsed already, by executemany."""
    now = dt.datetime.now(dt.UTC)
    customers = [
        {
            "business_id": business_id,
            "name": f"Customer {i}",
            "email": f"c{i}@example.com",
            "phone": f"+1512{200 + i // 10000:03d}{i % 10000:04d}" if i % 3 == 0 else "",
            "zip_code": "78701",
            "external_id": f"C{i}",
            "marketing_permission": "granted" if i % 2 == 0 else "refused",
            "created_at": now,
        }
        for i in range(rows)
        if i % 10 != 9
    ]
    started = time.perf_counter()
    with engine.connect() as connection:
        transaction = connection.begin()
        ids = (
            connection.execute(
                insert(Customer.__table__)  # type: ignore[attr-defined]
                .returning(
                    Customer.__table__.c.id,  # type: ignore[attr-defined]
                    sort_by_parameter_order=True,
                )
                # The import's page size: psycopg parses each new statement text
                # anew, slowly for thousands of placeholders.
                .execution_options(insertmanyvalues_page_size=imports.INSERT_PAGE_ROWS),
                customers,
            )
            .scalars()
            .all()
        )
        by_row = dict(zip([i for i in range(rows) if i % 10 != 9], ids, strict=True))
        jobs = [
            {
                "business_id": business_id,
                "customer_id": by_row[i - i % 10 if i % 10 == 9 else i],
                "job_date": dt.date(2025, 1 + i % 12, 15),
                "description": "",
                "amount_cents": (100 + i % 900) * 100 + 50,
                "currency": "USD",
                "external_id": f"INV-{i}",
                "created_at": now,
            }
            for i in range(rows)
        ]
        connection.execute(insert(CustomerJob.__table__), jobs)  # type: ignore[attr-defined]
        granted = [
            {
                "business_id": business_id,
                "customer_id": customer_id,
                "change": "granted",
                "source": "import",
                "occurred_on": now.date(),
                "how": f"From the file (import 1, line {i + 2})",
                "created_at": now,
            }
            for i, customer_id in by_row.items()
            if i % 2 == 0
        ]
        connection.execute(insert(MarketingPermissionEvent.__table__), granted)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        transaction.rollback()
    return elapsed


def worker(url: str, *, run: bool) -> tuple[int, int]:
    script = WORKER.format(root=str(ROOT), url=url, run=run)
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout.split()
    return int(out[-2]), int(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="bench-imports-")
    url = args.database_url or f"sqlite:///{scratch}/bench.db"
    migrate.upgrade(url)
    engine = create_engine(url)
    app = create_app(Config(env={"DATABASE_URL": url, "SECRET_KEY": "bench"}))
    with Session(engine) as session:
        if session.execute(select(Trade.id).limit(1)).first() is None:
            seed_trades(session)
            session.commit()
        bare_business = business(session, "Bench bare")
        import_business = business(session, f"Bench import {os.getpid()}")
    content = customer_list(args.rows)
    print(f"{args.rows:,} rows ({len(content) / 1e6:.1f} MB) on {engine.dialect.name}")

    bare = bare_insert(engine, bare_business, args.rows)
    print(f"bare executemany: {bare:.2f} s, {args.rows / bare:,.0f} rows/s")

    started = time.perf_counter()
    with app.app_context(), Session(engine, expire_on_commit=False) as session:
        record = imports.upload_import(
            session=session,
            business_id=import_business,
            user_id=None,
            filename="bench.csv",
            content=content,
        )
        imports.plan_import(session=session, record=record, shown=0)
        imports.start_import(session=session, record=record, in_background=True)
        session.commit()
        record_id = record.id
    previewed = time.perf_counter() - started
    ran, peak_kb = worker(url, run=True)
    total = time.perf_counter() - started
    _, idle_kb = worker(url, run=False)
    with Session(engine) as session:
        done = session.get(CustomerImport, record_id)
        assert done is not None and done.status == "done", done and done.message
        counts = done.counts
    print(
        f"import (upload + preview {previewed:.2f} s, worker {total - previewed:.2f} s): "
        f"{total:.2f} s, {args.rows / total:,.0f} rows/s; ratio to bare: {total / bare:.1f}x"
    )
    print(f"counts: {counts}")
    print(
        f"worker peak memory: {peak_kb / 1024:.0f} MB (an idle worker: {idle_kb / 1024:.0f} MB; "
        f"the import: +{(peak_kb - idle_kb) / 1024:.0f} MB); jobs run: {ran}"
    )


if __name__ == "__main__":
    main()
