"""API keys: shown once, stored hashed, revocable, and scoped to their business."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import ApiKey
from referral.auth.tokens import hash_token
from tests.support.factories import SignedIn, make_user, sign_in

KEY_FORMAT = re.compile(r"rk_live_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def create_key(owner: SignedIn, name: str = "CRM sync") -> str:
    response = owner.client.post_form("/settings/api-keys", {"name": name})  # type: ignore[attr-defined]
    assert response.status_code == 201, response.get_data(as_text=True)
    match = re.search(r'id="new-key-secret">([^<]+)<', response.get_data(as_text=True))
    assert match
    return match.group(1)


def call_me(app: Flask, secret: str):  # type: ignore[no-untyped-def]
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})


def test_a_key_is_shown_once_stored_hashed_and_identifies_the_business(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    secret = create_key(owner_a)

    stored = db.exec(select(ApiKey)).one()
    assert KEY_FORMAT.fullmatch(secret), secret
    assert secret.startswith(stored.prefix + "_") and re.fullmatch(
        r"rk_live_[0-9a-f]{8}", stored.prefix
    )
    assert stored.key_hash == hash_token(secret) and secret not in stored.key_hash
    assert (stored.business_id, stored.created_by_id) == (owner_a.business.id, owner_a.user.id)
    listing = owner_a.client.get("/settings/api-keys").get_data(as_text=True)  # type: ignore[attr-defined]
    assert secret not in listing
    assert "CRM sync" in listing and stored.prefix in listing and "Never" in listing

    me = call_me(app, secret)
    assert me.status_code == 200
    assert me.json["business"]["name"] == "Cool Air HVAC"
    assert me.json["business"]["trade"]["slug"] == "hvac"
    assert me.json["business"]["zip_code"] == "78701"
    assert me.json["api_key"]["name"] == "CRM sync"
    assert me.json["api_key"]["prefix"] == stored.prefix
    assert "key_hash" not in me.json["api_key"]
    db.refresh(stored)
    assert stored.last_used_at is not None
    listing = owner_a.client.get("/settings/api-keys").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Never" not in listing


def test_each_key_answers_for_its_own_business(
    app: Flask, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    key_a, key_b = create_key(owner_a), create_key(owner_b, name="Zapier")

    assert call_me(app, key_a).json["business"]["name"] == "Cool Air HVAC"
    assert call_me(app, key_b).json["business"]["name"] == "Drip Plumbing"
    listing_a = owner_a.client.get("/settings/api-keys").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Zapier" not in listing_a


def test_a_manager_may_create_keys(app: Flask, db: Session, owner_a: SignedIn) -> None:
    manager = make_user(db, owner_a.business, role="manager")

    secret = create_key(SignedIn(owner_a.business, manager, sign_in(app, manager)))

    assert call_me(app, secret).status_code == 200


def test_a_revoked_key_is_refused_at_once(app: Flask, db: Session, owner_a: SignedIn) -> None:
    secret = create_key(owner_a)
    key = db.exec(select(ApiKey)).one()

    response = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/settings/api-keys/{key.id}/revoke", page="/settings/api-keys"
    )

    assert response.status_code == 302
    db.refresh(key)
    assert key.revoked_at is not None
    listing = owner_a.client.get("/settings/api-keys").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "is revoked" in listing and "Revoked" in listing
    refused = call_me(app, secret)
    assert refused.status_code == 401
    assert refused.json == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "The API key is not valid or has been revoked.",
        "message": "The API key is not valid or has been revoked.",
    }


def test_another_businesss_key_cannot_be_revoked_and_is_a_404(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    create_key(owner_b)
    key = db.exec(select(ApiKey)).one()

    response = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/settings/api-keys/{key.id}/revoke", page="/settings/api-keys"
    )
    missing = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/settings/api-keys/999999/revoke", page="/settings/api-keys"
    )

    assert response.status_code == 404 and missing.status_code == 404
    db.refresh(key)
    assert key.revoked_at is None


def test_a_key_needs_a_name_of_at_most_80_characters(db: Session, owner_a: SignedIn) -> None:
    for name in ("", "   ", "x" * 81):
        response = owner_a.client.post_form("/settings/api-keys", {"name": name})  # type: ignore[attr-defined]

        assert response.status_code == 422
        assert "Name the key" in response.get_data(as_text=True)
    assert db.exec(select(ApiKey)).all() == []


def test_staff_cannot_see_or_create_keys(app: Flask, db: Session, owner_a: SignedIn) -> None:
    staff = sign_in(app, make_user(db, owner_a.business, role="staff"))

    page = staff.get("/settings/api-keys")
    created = staff.post_form("/settings/api-keys", {"name": "Sneaky"}, page="/")

    assert page.status_code == 302 and created.status_code == 302
    assert db.exec(select(ApiKey)).all() == []


def test_signed_out_visitors_are_sent_to_log_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/settings/api-keys")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_calls_without_a_valid_key_get_401_in_the_shared_shape(client) -> None:  # type: ignore[no-untyped-def]
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert set(response.json) == {"type", "title", "status", "detail", "message"}


def test_the_me_endpoint_is_documented_with_its_401(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/v1/openapi.json").json

    me = spec["paths"]["/api/v1/me"]["get"]
    assert set(me["responses"]) >= {"200", "401"}
    assert me["summary"]
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert {"apiKey": []} in spec["security"]
