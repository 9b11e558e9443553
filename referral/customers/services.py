"""Every write to a business's customers and their jobs, and the CSV import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma
from sqlalchemy import func, or_
from sqlmodel import Session, select

from referral.customers.models import Customer, CustomerJob
from referral.customers.schemas import CustomerSchema, DollarAmount, JobFields
from referral.db import utcnow
from referral.errors import NotFound
from referral.mail.services import forget_recipient

MAX_IMPORT_ROWS = 5000
CUSTOMER_COLUMNS = ("name", "email", "phone", "address", "zip_code")
JOB_COLUMNS = ("job_date", "job_description", "job_amount")


def get_customer(*, session: Session, business_id: int, customer_id: int) -> Customer:
    """The business's own customer; NotFound for anyone else's."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.business_id != business_id:
        raise NotFound("No such customer.")
    return customer


def customers_query(*, business_id: int, search: str = "") -> Any:
    query = select(Customer).where(Customer.business_id == business_id)
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Customer.name).like(pattern),
                Customer.email.like(pattern),
                Customer.phone.like(pattern),
            )
        )
    return query.order_by(Customer.name, Customer.id)


def create_customer(*, session: Session, business_id: int, data: dict[str, Any]) -> Customer:
    """A new customer from validated input (CustomerSchema)."""
    customer = Customer(business_id=business_id, **data)
    session.add(customer)
    session.flush()
    return customer


def update_customer(*, session: Session, customer: Customer, data: dict[str, Any]) -> Customer:
    for name, value in data.items():
        setattr(customer, name, value)
    customer.updated_at = utcnow()
    session.flush()
    return customer


def add_job(*, session: Session, customer: Customer, data: dict[str, Any]) -> CustomerJob:
    """Record a job done for the customer (validated by JobSchema / JobFormSchema)."""
    assert customer.id is not None
    job = CustomerJob(business_id=customer.business_id, customer_id=customer.id, **data)
    session.add(job)
    session.flush()
    return job


def customer_jobs(*, session: Session, customer: Customer) -> list[CustomerJob]:
    return list(
        session.exec(
            select(CustomerJob)
            .where(CustomerJob.customer_id == customer.id)
            .order_by(CustomerJob.job_date, CustomerJob.id)
        )
    )


def find_existing(session: Session, business_id: int, *, email: str, phone: str) -> Customer | None:
    """The business's customer with this email or phone, if any (not erased)."""
    matches = [Customer.email == email] if email else []
    if phone:
        matches.append(Customer.phone == phone)
    if not matches:
        return None
    return session.exec(
        select(Customer)
        .where(Customer.business_id == business_id, Customer.erased_at.is_(None), or_(*matches))
        .order_by(Customer.id)
    ).first()


# --- CSV import ------------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    customer: dict[str, Any] = field(default_factory=dict)
    job: dict[str, Any] | None = None
    existing_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    problems: list[str] = field(default_factory=list)  # about the file as a whole

    @property
    def ok(self) -> bool:
        return not self.problems and all(not row.errors for row in self.rows)

    @property
    def new_customers(self) -> int:
        return sum(1 for row in self.rows if row.existing_id is None)

    @property
    def jobs(self) -> int:
        return sum(1 for row in self.rows if row.job is not None)


class _JobRow(JobFields):
    amount_cents = DollarAmount(required=True, data_key="job_amount")


def preview_customer_import(*, session: Session, business_id: int, text: str) -> ImportPreview:
    """Check every row of a CSV file (header: name,email,phone,address,zip_code and
    optionally job_date,job_description,job_amount) without writing anything.
    A row whose email or phone matches an existing customer adds its job to them."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "name" not in header:
        return ImportPreview([], ["The first line must name the columns, including 'name'."])
    unknown = set(header) - set(CUSTOMER_COLUMNS) - set(JOB_COLUMNS)
    if unknown:
        return ImportPreview([], [f"Unknown columns: {', '.join(sorted(unknown))}."])
    reader.fieldnames = header
    rows: list[ImportRow] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        if len(rows) >= MAX_IMPORT_ROWS:
            return ImportPreview(rows, [f"Import at most {MAX_IMPORT_ROWS} rows at a time."])
        values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(values.values()):
            continue  # a blank line
        rows.append(_check_row(session, business_id, line, values, seen))
    if not rows:
        return ImportPreview([], ["The file has no rows."])
    return ImportPreview(rows)


def _check_row(
    session: Session, business_id: int, line: int, values: dict[str, str], seen: dict[str, int]
) -> ImportRow:
    row = ImportRow(line=line)
    customer_values = {k: v for k, v in values.items() if k in CUSTOMER_COLUMNS and v}
    try:
        row.customer = CustomerSchema().load(customer_values)
    except ma.ValidationError as error:
        row.errors.update(_flat(error))
    job_values = {k: v for k, v in values.items() if k in JOB_COLUMNS and v}
    if job_values:
        try:
            job = _JobRow().load(
                {
                    "job_date": job_values.get("job_date", ""),
                    "description": job_values.get("job_description", ""),
                    "job_amount": job_values.get("job_amount", ""),
                }
            )
            row.job = job
        except ma.ValidationError as error:
            column = {"description": "job_description"}  # error keys name CSV columns
            row.errors.update({column.get(k, k): v for k, v in _flat(error).items()})
    if row.customer:
        for key in (row.customer.get("email"), row.customer.get("phone")):
            if key and key in seen and not row.job:
                row.errors.setdefault("email", []).append(
                    f"The same customer is on line {seen[key]} already."
                )
            elif key:
                seen.setdefault(key, line)
        existing = find_existing(
            session,
            business_id,
            email=row.customer.get("email", ""),
            phone=row.customer.get("phone", ""),
        )
        row.existing_id = existing.id if existing else None
    return row


def _flat(error: ma.ValidationError) -> dict[str, list[str]]:
    messages = error.normalized_messages()
    return {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}


def import_customers(*, session: Session, business_id: int, preview: ImportPreview) -> int:
    """Write a checked import, all of it or (when any row has an error) none of it.
    Rows for the same new customer share one customer. Returns rows imported."""
    if not preview.ok:
        raise ValueError("an import with errors cannot be written")
    created: dict[str, Customer] = {}
    for row in preview.rows:
        if row.existing_id is not None:
            customer = get_customer(
                session=session, business_id=business_id, customer_id=row.existing_id
            )
        else:
            key = row.customer.get("email") or row.customer.get("phone")
            customer = created.get(key) if key else None
            if customer is None:
                customer = create_customer(
                    session=session, business_id=business_id, data=row.customer
                )
                if key:
                    created[key] = customer
        if row.job is not None:
            add_job(session=session, customer=customer, data=row.job)
    return len(preview.rows)


def erase_customer(*, session: Session, business_id: int, customer_id: int) -> Customer:
    """Remove the customer's personal data everywhere. Referrals still open are
    withdrawn and the businesses that received them are told; outcomes, jobs
    and money stay, with a pseudonymous customer. NotFound for another's customer."""
    from referral.referrals.services import customer_erased

    customer = get_customer(session=session, business_id=business_id, customer_id=customer_id)
    if customer.erased_at is not None:
        return customer
    forget_recipient(session, customer.email)
    customer.name = f"Erased customer {customer.id}"
    customer.email = customer.phone = customer.address = customer.notes = ""
    customer.zip_code = ""
    customer.erased_at = customer.updated_at = utcnow()
    customer_erased(session=session, customer=customer)
    session.flush()
    return customer
