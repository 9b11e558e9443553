"""The customers API."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.customers.models import Customer
from tests.factories import make_business, make_user
from tests.partnerships.test_api import ApiClient, api_client


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
