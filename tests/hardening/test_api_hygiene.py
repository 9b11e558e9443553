"""API answers and CSV exports are never cached; a 401 says how to authenticate."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session

from referral.auth.apikeys.services import create_api_key
from tests.support.factories import SignedIn


def test_api_answers_and_csv_exports_are_not_stored_by_any_cache(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    with app.app_context():
        secret = create_api_key(session=db, actor=owner_a.user, name="hygiene").secret
    db.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    answers = [
        api.get("/api/v1/customers", headers=headers),
        api.get("/api/v1/customers/999", headers=headers),  # an error too
        api.post("/api/v1/customers", json={"name": 1}, headers=headers),
        api.get("/api/v1/customers"),  # no key
        owner_a.client.get("/analytics/funnel.csv"),  # type: ignore[attr-defined]
        owner_a.client.get("/statements.csv"),  # type: ignore[attr-defined]
    ]

    assert [a.status_code for a in answers] == [200, 404, 422, 401, 200, 200]
    assert all(a.headers.get("Cache-Control") == "no-store" for a in answers)


def test_a_401_names_the_bearer_scheme(app: Flask) -> None:
    api = app.test_client()

    missing = api.get("/api/v1/customers")
    wrong = api.get("/api/v1/customers", headers={"Authorization": "Bearer nope"})

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
