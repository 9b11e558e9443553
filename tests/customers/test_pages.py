"""Customer pages: add, record jobs, import from CSV; another business sees none of it."""

from __future__ import annotations

import io

from sqlmodel import Session, select

from referral.customers.models import Customer, CustomerJob
from tests.factories import SignedIn


def upload(owner: SignedIn, text: str):  # type: ignore[no-untyped-def]
    client = owner.client
    return client.post(  # type: ignore[attr-defined]
        "/customers/import",
        data={
            "csrf_token": client.csrf_token("/customers/import"),  # type: ignore[attr-defined]
            "file": (io.BytesIO(text.encode()), "customers.csv"),
        },
        content_type="multipart/form-data",
    )


def test_adding_a_customer_and_their_jobs_shows_the_lifetime_value(
    db: Session, owner_a: SignedIn
) -> None:
    client = owner_a.client
    added = client.post_form(  # type: ignore[attr-defined]
        "/customers/new", {"name": "Ana Diaz", "email": "ana@example.com", "zip_code": "78701"}
    )
    customer = db.exec(select(Customer)).one()
    for date, amount in (("2025-03-02", "149"), ("2025-09-14", "6,200.50")):
        client.post_form(  # type: ignore[attr-defined]
            f"/customers/{customer.id}/jobs",
            {"job_date": date, "description": "Work", "amount": amount},
            page=f"/customers/{customer.id}",
        )

    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)  # type: ignore[attr-defined]
    assert added.status_code == 302
    assert "Sale 2" in page and "$6,349.50" in page


def test_bad_customer_and_job_input_is_shown_and_not_saved(db: Session, owner_a: SignedIn) -> None:
    client = owner_a.client
    bad = client.post_form("/customers/new", {"name": "", "phone": "12"})  # type: ignore[attr-defined]
    assert bad.status_code == 422
    assert "Enter the customer" in bad.get_data(as_text=True) or "Enter a name" in bad.get_data(
        as_text=True
    )
    client.post_form("/customers/new", {"name": "Ben", "phone": "512 555 0102"})  # type: ignore[attr-defined]
    customer = db.exec(select(Customer)).one()
    bad_job = client.post_form(  # type: ignore[attr-defined]
        f"/customers/{customer.id}/jobs",
        {"job_date": "someday", "description": "", "amount": "-5"},
        page=f"/customers/{customer.id}",
    )
    assert bad_job.status_code == 422
    assert db.exec(select(CustomerJob)).all() == []


def test_a_csv_import_is_previewed_then_confirmed(db: Session, owner_a: SignedIn) -> None:
    text = "name,email,phone\nAna Diaz,ana@example.com,\nBen Ode,,512-555-0102\n"

    checked = upload(owner_a, text)
    assert checked.status_code == 200
    assert "New customer" in checked.get_data(as_text=True)
    assert db.exec(select(Customer)).all() == []

    confirmed = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/customers/import", {"text": text, "confirm": "yes"}
    )
    assert confirmed.status_code == 302
    assert sorted(db.exec(select(Customer.name))) == ["Ana Diaz", "Ben Ode"]


def test_a_csv_with_bad_rows_shows_them_and_cannot_be_confirmed(
    db: Session, owner_a: SignedIn
) -> None:
    text = "name,email,phone\nAna Diaz,ana@example.com,\n,nobody@example.com,\n"

    checked = upload(owner_a, text)
    forced = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/customers/import", {"text": text, "confirm": "yes"}
    )

    assert checked.status_code == forced.status_code == 422
    assert "Fix the rows marked below" in checked.get_data(as_text=True)
    assert db.exec(select(Customer)).all() == []


def test_another_businesss_customers_are_404(db: Session, owner_a: SignedIn, owner_b) -> None:
    owner_b.client.post_form("/customers/new", {"name": "Zed", "email": "zed@example.com"})
    customer = db.exec(select(Customer)).one()
    client = owner_a.client

    assert client.get(f"/customers/{customer.id}").status_code == 404  # type: ignore[attr-defined]
    response = client.post_form(  # type: ignore[attr-defined]
        f"/customers/{customer.id}/jobs",
        {"job_date": "2025-01-01", "description": "x", "amount": "1"},
        page="/customers",
    )
    assert response.status_code == 404
    assert "Zed" not in client.get("/customers").get_data(as_text=True)  # type: ignore[attr-defined]
    assert db.exec(select(CustomerJob)).all() == []
