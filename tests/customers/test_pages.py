"""Customer pages: add, record jobs, import from CSV; another business sees none of it."""

from __future__ import annotations

from sqlmodel import Session, select

from referral.customers.models import Customer, CustomerImport, CustomerJob
from tests.support.factories import SignedIn, upload_customer_list


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


def test_a_crm_export_is_mapped_previewed_then_imported(db: Session, owner_a: SignedIn) -> None:
    text = (
        "Client Name;E-mail;Mobile;Street;Zip Code;Favourite colour\r\n"
        "Ana Diaz;ana@example.com;512-555-0101;1 Main St;78701;blue\r\n"
        "Ben Ode;;512-555-0102;;;green\r\n"
    )
    uploaded = upload_customer_list(owner_a, text)
    assert uploaded.status_code == 302
    page = owner_a.client.get(uploaded.location).get_data(as_text=True)  # type: ignore[attr-defined]

    assert '<option value=";" selected>Semicolon (;)</option>' in page
    assert "Windows (CR LF)" in page
    assert 'value="Client Name" selected' in page and 'value="Zip Code" selected' in page
    assert "<strong>Not imported:</strong> Favourite colour" in page
    assert "2 rows: 2 new customers" in page
    assert db.exec(select(Customer)).all() == []

    record = db.exec(select(CustomerImport)).one()
    started = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/customers/imports/{record.id}/start", {"updates": "overwrite"}, page=uploaded.location
    )
    assert started.status_code == 302
    assert sorted(db.exec(select(Customer.name, Customer.mobile))) == [
        ("Ana Diaz", "+15125550101"),
        ("Ben Ode", "+15125550102"),
    ]
    done = owner_a.client.get(uploaded.location).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Customers created</th><td>2" in done
    with owner_a.client.get(f"/customers/imports/{record.id}/outcomes.csv") as outcomes:  # type: ignore[attr-defined]
        assert outcomes.get_data(as_text=True).splitlines()[1].startswith("2,created,")


def test_a_file_that_cannot_be_imported_says_why(db: Session, owner_a: SignedIn) -> None:
    refused = upload_customer_list(owner_a, "")

    assert refused.status_code == 422
    assert "The file is empty" in refused.get_data(as_text=True)


def test_the_same_file_uploaded_twice_opens_the_first_import(
    db: Session, owner_a: SignedIn
) -> None:
    first = upload_customer_list(owner_a, "name,email\nAna,ana@example.com\n")
    second = upload_customer_list(owner_a, "name,email\nAna,ana@example.com\n")

    assert second.status_code == 302 and second.location == first.location
    assert len(db.exec(select(CustomerImport)).all()) == 1


def test_an_upload_too_large_shows_the_signed_in_menu(owner_a: SignedIn) -> None:
    client = owner_a.client
    token = client.csrf_token("/customers/import")  # type: ignore[attr-defined]
    body = (
        (
            f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            '--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        ).encode()
        + b"x" * (21 * 1024 * 1024)
        + b"\r\n--b--\r\n"
    )
    response = client.post(  # type: ignore[attr-defined]
        "/customers/import", data=body, content_type="multipart/form-data; boundary=b"
    )

    assert response.status_code == 413
    assert owner_a.business.name in response.get_data(as_text=True)


def test_a_phone_extension_is_kept_and_shown(db: Session, owner_a: SignedIn) -> None:
    owner_a.client.post_form(  # type: ignore[attr-defined]
        "/customers/new", {"name": "Ana", "phone": "512 555 0324 ext 3"}
    )
    customer = db.exec(select(Customer)).one()

    page = owner_a.client.get(f"/customers/{customer.id}").get_data(as_text=True)  # type: ignore[attr-defined]
    assert (customer.phone, customer.phone_extension) == ("+15125550324", "3")
    assert "ext. 3" in page


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
