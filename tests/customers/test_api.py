"""The customers API."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.customers.models import Customer
from tests.support.api import ApiClient, api_client
from tests.support.factories import make_business, make_user


@pytest.fixture
def api(app: Flask, db: Session) -> ApiClient:
    business = make_business(db)
    return api_client(app, db, make_user(db, business))


def test_create_list_and_record_jobs(api: ApiClient) -> None:
    created = api.post(
        "/customers", {"name": "Ana Diaz", "email": "ANA@example.com", "phone": "512 555 0101"}
    )
    assert created.status_code == 201, created.json
    customer_id = created.json["id"]
    assert (created.json["email"], created.json["phone"]) == ("ana@example.com", "+15125550101")

    job = api.post(
        f"/customers/{customer_id}/jobs",
        {"job_date": "2025-05-01", "description": "Tune-up", "amount_cents": 14900},
    )
    assert job.status_code == 201
    assert job.json["lifetime_value_cents"] == 14900
    listing = api.get("/customers?q=ana").json
    assert listing["total"] == 1 and listing["items"][0]["name"] == "Ana Diaz"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "No Contact"}, "email"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "phone": "12"}, "phone"),
        ({"name": "X", "email": "x@example.com", "zip_code": "00000"}, "zip_code"),
    ],
)
def test_bad_customers_get_a_field_map(
    api: ApiClient, db: Session, body: dict[str, str], field: str
) -> None:
    response = api.post("/customers", body)

    assert response.status_code == 422
    assert field in response.json["errors"]
    assert db.exec(select(Customer)).all() == []


def test_bad_jobs_and_other_tenants_customers(app: Flask, api: ApiClient, db: Session) -> None:
    customer_id = api.post("/customers", {"name": "Ana", "email": "a@example.com"}).json["id"]
    for body in (
        {"job_date": "2025-05-01", "description": "x", "amount_cents": -1},
        {"job_date": "2025-05-01", "description": "x", "amount_cents": "lots"},
        {"job_date": "soon", "description": "x", "amount_cents": 1},
    ):
        assert api.post(f"/customers/{customer_id}/jobs", body).status_code == 422

    other = api_client(app, db, make_user(db, make_business(db, trade="plumbing")))
    assert other.get(f"/customers/{customer_id}").status_code == 404
    job = {"job_date": "2025-05-01", "description": "x", "amount_cents": 1}
    assert other.post(f"/customers/{customer_id}/jobs", job).status_code == 404
    assert other.get("/customers").json["total"] == 0


def _upload(api: ApiClient, text: str, name: str = "crm.csv"):  # type: ignore[no-untyped-def]
    return api.client.post(
        "/api/v1/customers/imports",
        headers=api.headers,
        data={"file": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
    )


def test_an_import_through_the_api_is_mapped_previewed_started_and_reported(
    api: ApiClient, db: Session
) -> None:
    uploaded = _upload(
        api,
        "Client Name,E-mail,Favourite colour,Invoice Date,Invoice Total\n"
        'Ana Diaz,ana@example.com,blue,2025-03-02,"$4,250.00"\n',
    )
    assert uploaded.status_code == 201, uploaded.json
    body = uploaded.json
    import_id = body["id"]
    assert body["status"] == "uploaded" and body["delimiter"] == ","
    assert body["mapping"] == {
        "name": "Client Name",
        "email": "E-mail",
        "job_date": "Invoice Date",
        "job_amount": "Invoice Total",
    }

    refused = api.client.put(
        f"/api/v1/customers/imports/{import_id}/mapping",
        headers=api.headers,
        json={"mapping": {"name": "Nope"}},
    )
    assert refused.status_code == 422 and "name" in refused.json["errors"]
    mapped = api.client.put(
        f"/api/v1/customers/imports/{import_id}/mapping",
        headers=api.headers,
        json={"mapping": {**body["mapping"], "notes": "Favourite colour"}},
    )
    assert mapped.status_code == 200, mapped.json
    preview = api.get(f"/customers/imports/{import_id}/preview").json
    assert preview["counts"]["customers_created"] == 1 and preview["counts"]["jobs_added"] == 1

    started = api.post(f"/customers/imports/{import_id}/start", {"updates": "overwrite"})
    assert started.status_code == 202 and started.json["status"] == "done"
    assert started.json["counts"]["jobs_added"] == 1
    outcomes = api.get(f"/customers/imports/{import_id}/outcomes").json
    assert [(o["line"], o["outcome"]) for o in outcomes["items"]] == [(2, "created")]
    assert db.exec(select(Customer.notes)).all() == ["blue"]

    again = _upload(
        api,
        "Client Name,E-mail,Favourite colour,Invoice Date,Invoice Total\n"
        'Ana Diaz,ana@example.com,blue,2025-03-02,"$4,250.00"\n',
    )
    assert again.status_code == 201
    preview = api.get(f"/customers/imports/{again.json['id']}/preview").json
    assert preview["counts"]["jobs_added"] == 0 and preview["counts"]["jobs_already_there"] == 1


def test_the_same_file_uploaded_twice_through_the_api_is_one_import(api: ApiClient) -> None:
    first = _upload(api, "name,email\nAna,ana@example.com\n")
    second = _upload(api, "name,email\nAna,ana@example.com\n")

    assert first.status_code == 201 and second.status_code == 409
    assert f"import {first.json['id']}" in second.json["message"]


def test_a_file_that_is_not_csv_is_refused_through_the_api(api: ApiClient) -> None:
    refused = _upload(api, "")

    assert refused.status_code == 422
    assert refused.json["errors"]["file"] == [
        "The file is empty: export the customer list again and upload it."
    ]


def test_an_upload_with_fields_besides_the_file_is_refused_naming_them(
    api: ApiClient, db: Session
) -> None:
    answer = api.client.post(
        "/api/v1/customers/imports",
        headers=api.headers,
        data={"file": (io.BytesIO(b"name,email\nAna,a@example.com\n"), "crm.csv"), "mode": "x"},
        content_type="multipart/form-data",
    )

    assert answer.status_code == 422
    assert answer.json["errors"] == {"mode": ["Unknown field."]}
    assert api.get("/customers/imports").json["total"] == 0
