"""An API client with a business's key, as an integration would call the API."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlmodel import Session

from referral.auth.models import ApiKey, User
from referral.auth.tokens import hash_token, new_token


class ApiClient:
    """Calls the API with a business's key, as an integration would."""

    def __init__(self, app: Flask, key: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", headers=self.headers, json=json or {})

    def put(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.put(f"/api/v1{path}", headers=self.headers, json=json or {})

    def patch(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.patch(f"/api/v1{path}", headers=self.headers, json=json or {})


def api_client(app: Flask, db: Session, user: User) -> ApiClient:
    key = f"rk_test_{new_token()}"
    db.add(
        ApiKey(
            business_id=user.business_id,
            created_by_id=user.id,
            name="tests",
            prefix=key[:12],
            key_hash=hash_token(key),
        )
    )
    db.commit()
    return ApiClient(app, key)
