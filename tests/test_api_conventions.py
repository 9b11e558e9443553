"""The API follows the field's conventions: RFC 9457 problem details for every
error (with the older `message` and `errors` kept), `WWW-Authenticate: Bearer`
on 401, `Idempotency-Key` on every creating POST, and a spec that a standard
OpenAPI validator accepts."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from openapi_spec_validator import validate
from sqlmodel import Session, select

from referral import idempotency
from referral.auth.apikeys.services import create_api_key
from referral.customers.models import Customer
from referral.db import utcnow
from referral.idempotency import IdempotentRequest, prune
from tests.support.factories import make_business, make_user

CUSTOMER = {"name": "Ana Diaz", "email": "ana@example.com"}


def _key(app: Flask, db: Session, name: str = "Cool Air HVAC") -> dict[str, str]:
    business = make_business(db, name=name)
    user = make_user(db, business)
    with app.app_context():
        secret = create_api_key(session=db, actor=user, name="sync").secret
        db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_spec_is_valid_openapi_and_documents_errors_as_problems(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)

    error = spec["components"]["schemas"]["Error"]
    assert {"type", "title", "status", "detail"} <= set(error["required"])
    assert {"message", "errors"} <= set(error["properties"])
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in response:
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
                if status == "401":
                    assert "WWW-Authenticate" in response["headers"], (method, path)
            if method == "post" and "201" in operation["responses"]:
                names = [p["name"] for p in operation.get("parameters", [])]
                assert "Idempotency-Key" in names, path


def test_a_missing_key_is_a_401_problem_asking_for_a_bearer_token(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem = response.json
    assert problem["type"] == "about:blank" and problem["title"] == "Unauthorized"
    assert problem["status"] == 401 and problem["detail"] == problem["message"]


def test_bad_input_is_a_422_problem_naming_the_field(app: Flask, db: Session) -> None:
    headers = _key(app, db)
    response = app.test_client().post(
        "/api/v1/customers", json={"name": "Ana", "email": "nope"}, headers=headers
    )
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    problem = response.json
    assert (problem["title"], problem["status"]) == ("Unprocessable Entity", 422)
    assert "email" in problem["errors"] and problem["detail"]


def test_a_retried_post_with_the_same_key_gets_the_first_answer_and_creates_once(
    app: Flask, db: Session
) -> None:
    headers = {**_key(app, db), "Idempotency-Key": "crm-import-7"}
    client = app.test_client()
    first = client.post("/api/v1/customers", json=CUSTOMER, headers=headers)
    again = client.post("/api/v1/customers", json=CUSTOMER, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len(db.exec(select(Customer)).all()) == 1

    other = client.post(
        "/api/v1/customers", json={**CUSTOMER, "name": "Someone Else"}, headers=headers
    )
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]
    assert len(db.exec(select(Customer)).all()) == 1

    too_long = client.post(
        "/api/v1/customers", json=CUSTOMER, headers={**headers, "Idempotency-Key": "k" * 81}
    )
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.json["errors"]


def test_keys_belong_to_one_business_and_are_forgotten_after_a_day(app: Flask, db: Session) -> None:
    client = app.test_client()
    a = {**_key(app, db, "A"), "Idempotency-Key": "same"}
    b = {**_key(app, db, "B"), "Idempotency-Key": "same"}
    assert client.post("/api/v1/customers", json=CUSTOMER, headers=a).status_code == 201
    assert client.post("/api/v1/customers", json=CUSTOMER, headers=b).status_code == 201
    assert len(db.exec(select(Customer)).all()) == 2

    assert prune(db, now=utcnow() + dt.timedelta(hours=25)) == 2
    db.commit()
    assert db.exec(select(IdempotentRequest)).all() == []
    assert client.post("/api/v1/customers", json=CUSTOMER, headers=a).status_code == 201
    assert len(db.exec(select(Customer)).all()) == 3


def test_an_expired_key_not_pruned_yet_is_taken_over_by_the_next_request(
    app: Flask, db: Session
) -> None:
    client = app.test_client()
    headers = {**_key(app, db), "Idempotency-Key": "nightly-sync"}
    assert client.post("/api/v1/customers", json=CUSTOMER, headers=headers).status_code == 201
    stored = db.exec(select(IdempotentRequest)).one()
    stored.created_at = utcnow() - dt.timedelta(hours=25)
    db.commit()

    other = {**CUSTOMER, "name": "Someone Else"}
    fresh = client.post("/api/v1/customers", json=other, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    again = client.post("/api/v1/customers", json=other, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == fresh.json
    db.expire_all()
    (kept,) = db.exec(select(IdempotentRequest)).all()
    assert kept.created_at > utcnow() - dt.timedelta(hours=1)
    assert len(db.exec(select(Customer)).all()) == 2


def test_a_request_that_loses_the_race_for_its_key_writes_nothing_and_says_retry(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one key at once: both find no answer stored, both do
    the work; the one that stores its answer second is refused whole."""
    client = app.test_client()
    headers = {**_key(app, db), "Idempotency-Key": "double-click"}
    assert client.post("/api/v1/customers", json=CUSTOMER, headers=headers).status_code == 201
    monkeypatch.setattr(idempotency, "_found", lambda *_args: None)  # it looked just before

    late = client.post("/api/v1/customers", json={**CUSTOMER, "name": "Ana D."}, headers=headers)

    assert late.status_code == 409 and "at the same time; retry it" in late.json["detail"]
    assert [c.name for c in db.exec(select(Customer)).all()] == ["Ana Diaz"]
