"""API keys: shown once, stored hashed, revocable, and scoped to their business."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import Session, select

from referral.apikeys.models import ApiKey
from tests.factories import SignedIn, make_user, sign_in


def create_key(owner: SignedIn, name: str = "CRM sync") -> str:
    response = owner.client.post_form("/settings/api-keys", {"name": name})  # type: ignore[attr-defined]
    assert response.status_code == 201, response.get_data(as_text=True)
    match = re.search(r'id="new-key-secret">([^<]+)<', response.get_data(as_text=True))
    assert match
    return match.group(1)


def test_a_key_is_shown_once_stored_hashed_and_identifies_the_business(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    secret = create_key(owner_a)

    stored = db.exec(select(ApiKey)).one()
    assert secret.startswith(stored.prefix) and stored.prefix.startswith("rk_live_")
    assert secret not in stored.key_hash and len(stored.key_hash) == 64
    listing = owner_a.client.get("/settings/api-keys").get_data(as_text=True)  # type: ignore[attr-defined]
    assert secret not in listing and stored.prefix in listing

    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json["business"]["name"] == "Cool Air HVAC"
    assert me.json["business"]["trade"]["slug"] == "hvac"
    assert me.json["api_key"]["name"] == "CRM sync"
    db.refresh(stored)
    assert stored.last_used_at is not None


def test_a_revoked_key_is_refused_at_once(app: Flask, db: Session, owner_a: SignedIn) -> None:
    secret = create_key(owner_a)
    key = db.exec(select(ApiKey)).one()

    owner_a.client.post_form(f"/settings/api-keys/{key.id}/revoke", page="/settings/api-keys")  # type: ignore[attr-defined]

    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert response.json == {
        "status": 401,
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

    assert response.status_code == 404
    db.refresh(key)
    assert key.revoked_at is None


def test_a_key_needs_a_name(db: Session, owner_a: SignedIn) -> None:
    response = owner_a.client.post_form("/settings/api-keys", {"name": ""})  # type: ignore[attr-defined]

    assert response.status_code == 422
    assert "Name the key" in response.get_data(as_text=True)
    assert db.exec(select(ApiKey)).all() == []


def test_staff_cannot_manage_keys(app: Flask, db: Session, owner_a: SignedIn) -> None:
    staff = sign_in(app, make_user(db, owner_a.business, role="staff"))

    response = staff.get("/settings/api-keys")

    assert response.status_code == 302


def test_calls_without_a_key_get_401_in_the_shared_shape(client) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert set(response.json) == {"status", "message"}
