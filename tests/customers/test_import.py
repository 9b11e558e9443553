"""Importing customers from CSV: a preview with per-row errors, then all or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from referral.customers import services
from referral.customers.models import Customer, CustomerJob
from tests.factories import make_business

HEADER = "name,email,phone,address,zip_code,job_date,job_description,job_amount\n"


@pytest.fixture
def business_id(db: Session) -> int:
    business = make_business(db)
    assert business.id is not None
    return business.id


def preview(db: Session, business_id: int, body: str) -> services.ImportPreview:
    return services.preview_customer_import(session=db, business_id=business_id, text=HEADER + body)


def test_a_clean_file_imports_customers_with_their_jobs(db: Session, business_id: int) -> None:
    checked = preview(
        db,
        business_id,
        "Ana Diaz,ANA@example.com,(512) 555-0101,1 Main St,78701,2025-03-02,AC tune-up,149.00\n"
        "Ana Diaz,ana@example.com,,1 Main St,78701,2025-09-14,New condenser,6200\n"
        "Ben Ode,,512-555-0102,,,,,\n",
    )
    assert checked.ok and checked.new_customers == 3 and checked.jobs == 2

    imported = services.import_customers(session=db, business_id=business_id, preview=checked)
    db.commit()

    assert imported == 3
    customers = db.exec(select(Customer).order_by(Customer.id)).all()
    assert [(c.name, c.email, c.phone) for c in customers] == [
        ("Ana Diaz", "ana@example.com", "+15125550101"),
        ("Ben Ode", "", "+15125550102"),
    ]
    jobs = db.exec(select(CustomerJob).order_by(CustomerJob.id)).all()
    assert [(j.customer_id, j.job_date, j.amount_cents) for j in jobs] == [
        (customers[0].id, dt.date(2025, 3, 2), 14900),
        (customers[0].id, dt.date(2025, 9, 14), 620000),
    ]


def test_every_bad_row_is_reported_and_nothing_is_written(db: Session, business_id: int) -> None:
    checked = preview(
        db,
        business_id,
        "Good Row,good@example.com,,,,,,\n"
        ",nobody@example.com,,,,,,\n"
        "No Contact,,,,,,,\n"
        "Bad Phone,,12,,,,,\n"
        "Bad Zip,z@example.com,,,00000,,,\n"
        "Bad Job,j@example.com,,,,2025-13-40,Repair,ten dollars\n",
    )

    assert not checked.ok
    errors = {row.line: set(row.errors) for row in checked.rows if row.errors}
    assert errors == {
        3: {"name"},
        4: {"email"},
        5: {"phone"},
        6: {"zip_code"},
        7: {"job_date", "job_amount"},
    }
    with pytest.raises(ValueError):
        services.import_customers(session=db, business_id=business_id, preview=checked)
    assert db.exec(select(Customer)).all() == []


def test_a_row_matching_an_existing_customer_adds_its_job_to_them(
    db: Session, business_id: int
) -> None:
    existing = services.create_customer(
        session=db,
        business_id=business_id,
        data={"name": "Ana Diaz", "email": "ana@example.com", "phone": ""},
    )
    db.commit()

    checked = preview(db, business_id, "Ana D.,ana@example.com,,,,2025-10-01,Duct cleaning,350\n")
    services.import_customers(session=db, business_id=business_id, preview=checked)
    db.commit()

    assert checked.rows[0].existing_id == existing.id and checked.new_customers == 0
    assert len(db.exec(select(Customer)).all()) == 1
    assert db.exec(select(CustomerJob.customer_id)).all() == [existing.id]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must name the columns"),
        ("email,phone\nx@example.com,\n", "must name the columns"),
        ("name,shoe_size\nAna,9\n", "Unknown columns: shoe_size."),
        ("name,email\n", "no rows"),
    ],
)
def test_a_file_that_is_not_a_customer_list_is_refused(
    db: Session, business_id: int, text: str, problem: str
) -> None:
    checked = services.preview_customer_import(session=db, business_id=business_id, text=text)

    assert not checked.ok
    assert problem in checked.problems[0]


def test_another_businesss_customer_is_not_found(db: Session, business_id: int) -> None:
    other = make_business(db, trade="plumbing")
    customer = services.create_customer(
        session=db, business_id=other.id, data={"name": "Zed", "email": "z@example.com"}
    )
    db.commit()

    from referral.errors import NotFound

    with pytest.raises(NotFound):
        services.get_customer(session=db, business_id=business_id, customer_id=customer.id)
