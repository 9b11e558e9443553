"""Every write to a business's customers and their jobs (imports: customers/imports.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from referral.customers import imports, marketing
from referral.customers.erasure import run_erasure_parts
from referral.customers.models import Customer, CustomerJob
from referral.db import utcnow
from referral.errors import NotFound, ValidationFailed
from referral.mail.services import forget_recipient


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
    """Record a job done for the customer (validated by JobSchema / JobFormSchema).
    ValidationFailed when the customer already has the same job (the same date,
    value and description): recording it twice would count a sale twice."""
    assert customer.id is not None
    twin = session.exec(
        select(CustomerJob.id).where(
            CustomerJob.customer_id == customer.id,
            CustomerJob.external_id == data.get("external_id", ""),
            CustomerJob.job_date == data["job_date"],
            CustomerJob.amount_cents == data["amount_cents"],
            CustomerJob.description == data["description"],
        )
    ).first()
    if twin is not None:
        message = "This job is already recorded (the same date, value and description)."
        raise ValidationFailed(message, errors={"description": [message]})
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


def erase_customer(*, session: Session, business_id: int, customer_id: int) -> Customer:
    """Remove the customer's personal data everywhere. Referrals still open are
    withdrawn and the businesses that received them are told; uploaded consent
    forms are deleted (their records keep the SHA-256, size and upload time);
    imports forget their old values and an upload not yet imported that names
    them is deleted; outcomes, jobs and money stay, with a pseudonymous customer. NotFound for
    another's customer. The other domains' parts are registered in customers/erasure.py."""
    customer = get_customer(session=session, business_id=business_id, customer_id=customer_id)
    if customer.erased_at is not None:
        return customer
    forget_recipient(session, customer.email)
    marketing.forget_pending_sends(session, customer)
    imports.forget_customer(session, customer)
    customer.name = f"Erased customer {customer.id}"
    customer.email = customer.phone = customer.address = customer.notes = ""
    customer.zip_code = customer.phone_extension = customer.mobile = ""
    customer.city = customer.state = customer.external_id = ""
    customer.marketing_permission_source = ""
    customer.erased_at = customer.updated_at = utcnow()
    run_erasure_parts(session, customer)
    return customer
