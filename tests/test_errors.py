"""Every error has one JSON shape for API clients and a page for browsers."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.apikeys.models import ApiKey
from referral.auth.tokens import hash_token
from referral.businesses.models import Business
from tests.factories import SignedIn


@pytest.fixture
def key(db: Session, owner_a: SignedIn) -> dict[str, str]:
    secret = "rk_test_errors_key"
    db.add(
        ApiKey(
            business_id=owner_a.business.id,
            created_by_id=owner_a.user.id,
            name="errors",
            prefix="rk_test",
            key_hash=hash_token(secret),
        )
    )
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_malformed_json_is_a_400_with_a_message(client, key: dict[str, str]) -> None:
    response = client.patch(
        "/api/v1/business", data="{not json", headers={**key, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json["status"] == 400
    assert response.json["message"]


def test_invalid_fields_are_a_422_with_a_field_map_and_write_nothing(
    client, db: Session, key: dict[str, str], owner_a: SignedIn
) -> None:
    response = client.patch(
        "/api/v1/business",
        json={"name": "", "zip_code": "00000", "radius_miles": 10_000, "website": "ftp://x"},
        headers=key,
    )

    assert response.status_code == 422
    assert response.json["message"] == "Some fields are not valid."
    assert set(response.json["errors"]) == {"name", "zip_code", "radius_miles", "website"}
    db.refresh(owner_a.business)
    assert owner_a.business.name == "Cool Air HVAC"


def test_a_valid_patch_changes_only_what_it_sends(
    client, db: Session, key: dict[str, str], owner_a: SignedIn
) -> None:
    response = client.patch(
        "/api/v1/business", json={"phone": "(512) 555-0100", "radius_miles": 40}, headers=key
    )

    assert response.status_code == 200, response.json
    business = db.exec(select(Business).where(Business.id == owner_a.business.id)).one()
    db.refresh(business)
    assert (business.phone, business.radius_miles, business.name) == (
        "+15125550100",
        40,
        "Cool Air HVAC",
    )


def test_an_oversize_body_is_a_413(app: Flask, client, key: dict[str, str]) -> None:
    body = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    api = client.patch(
        "/api/v1/business", data=body, headers={**key, "Content-Type": "application/json"}
    )
    page = client.post("/signup", data={"business_name": body})

    assert api.status_code == 413 and api.json["status"] == 413
    assert page.status_code == 413 and "text/html" in page.content_type


def test_unknown_paths_are_404_as_json_for_the_api_and_a_page_otherwise(client) -> None:
    api = client.get("/api/v1/nothing-here")
    page = client.get("/nothing-here")

    assert api.status_code == 404 and api.json["status"] == 404
    assert page.status_code == 404 and "text/html" in page.content_type


def test_every_response_carries_the_security_headers(client) -> None:
    for path in ("/", "/login", "/nothing-here", "/api/v1/openapi.json"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"


def test_the_openapi_spec_and_docs_are_served_by_the_app(client) -> None:
    spec = client.get("/api/v1/openapi.json")
    docs = client.get("/api/v1/docs")
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200

    assert spec.status_code == 200 and "/api/v1/me" in spec.json["paths"]
    assert spec.json["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert docs.status_code == 200 and "<script>" not in docs.get_data(as_text=True)
