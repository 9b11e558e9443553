"""Every error has one JSON shape for API clients and a page for browsers."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask
from sqlalchemy import text
from sqlmodel import Session, select

from referral.auth.models import ApiKey
from referral.auth.tokens import hash_token
from referral.businesses.models import Business
from referral.db import get_session
from referral.mail.models import OutboxEmail
from tests.support.app import make_test_app
from tests.support.factories import SignedIn


def add_failing_routes(app: Flask) -> None:
    """A page and an API path that write a row, then hit a bug."""
    broken = Blueprint("broken", __name__)

    def write_then_crash() -> str:
        session = get_session()
        session.add(
            OutboxEmail(message_id="half", recipient="x@example.com", subject="s", text_body="")
        )
        session.flush()
        raise RuntimeError("secret internal detail")

    broken.add_url_rule("/api/v1/test-broken", "api", write_then_crash, methods=["GET"])
    broken.add_url_rule("/test-broken", "page", write_then_crash, methods=["GET"])
    app.register_blueprint(broken)


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

    assert api.status_code == 404 and api.json["status"] == 404 and api.json["message"]
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


def test_a_missing_or_invalid_api_key_is_a_401_in_json(client) -> None:
    for headers in ({}, {"Authorization": "Bearer rk_live_00000000_wrong"}):
        response = client.get("/api/v1/me", headers=headers)

        assert response.status_code == 401
        assert response.is_json and response.json["status"] == 401
        assert response.json["message"]


def test_a_wrong_method_is_a_405_in_json_for_the_api(client, key: dict[str, str]) -> None:
    response = client.delete("/api/v1/me", headers=key)

    assert response.status_code == 405
    assert response.json["status"] == 405 and response.json["message"]
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_a_500_that_hides_its_cause_and_writes_nothing(
    app: Flask, client, db: Session
) -> None:
    add_failing_routes(app)

    api = client.get("/api/v1/test-broken")
    page = client.get("/test-broken")

    assert api.status_code == 500 and api.json["status"] == 500
    assert page.status_code == 500 and "text/html" in page.content_type
    for response in (api, page):
        assert "secret internal detail" not in response.get_data(as_text=True)
    assert db.exec(select(OutboxEmail)).all() == []


def test_a_form_without_its_csrf_token_is_a_400_page_and_writes_nothing(
    db: Session, owner_a: SignedIn
) -> None:
    response = owner_a.client.post("/settings/api-keys", data={"name": "No token"})  # type: ignore[attr-defined]

    assert response.status_code == 400 and "text/html" in response.content_type
    assert "CSRF" in response.get_data(as_text=True)
    assert db.exec(select(ApiKey)).all() == []


def test_a_browser_sees_a_not_found_page(client) -> None:
    page = client.get("/nothing-here", headers={"Accept": "text/html"})

    assert page.status_code == 404
    assert "Not found" in page.get_data(as_text=True)
    assert 'href="/"' in page.get_data(as_text=True)


class TestTheDatabaseAway:
    """Nothing listens where the database should be (a restart, a failover)."""

    @pytest.fixture
    def unreachable(self, tmp_path) -> Flask:  # type: ignore[no-untyped-def]
        return make_test_app(
            "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2",
            UPLOAD_FOLDER=str(tmp_path / "uploads"),
        )

    def test_the_api_answers_503_with_retry_after(self, unreachable: Flask) -> None:
        response = unreachable.test_client().get(
            "/api/v1/me", headers={"Authorization": "Bearer rk_test_anything"}
        )

        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["status"] == 503

    def test_a_page_answers_503_with_retry_after(self, unreachable: Flask) -> None:
        response = unreachable.test_client().get("/healthz", headers={"Accept": "text/html"})

        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "try again" in response.get_data(as_text=True).lower()


def test_a_broken_statement_is_still_a_500_not_an_outage(app: Flask, client) -> None:
    broken = Blueprint("bad_sql", __name__)

    @broken.get("/test-bad-sql")
    def bad_sql() -> str:
        get_session().execute(text("SELECT no_such_column FROM business"))
        return "unreachable"

    app.register_blueprint(broken)

    assert client.get("/test-bad-sql").status_code == 500
