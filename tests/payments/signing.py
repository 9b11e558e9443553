"""Stripe-style webhook signatures, computed the way Stripe documents them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import stripe


def signed(
    event: dict[str, Any] | bytes, secret: str, *, at: int | None = None
) -> tuple[bytes, str]:
    """The body and `Stripe-Signature` header for `event`, signed at `at` (now)."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, f"t={timestamp},v1={digest.hexdigest()}"


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str = "evt_1",
    created: int | None = None,
    account: str | None = None,
    api_version: str = stripe.api_version,
) -> dict[str, Any]:
    """An event as Stripe renders it for an endpoint in `api_version` (by default
    the one stripe-python pins, which the app speaks)."""
    data: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "api_version": api_version,
        "data": {"object": obj},
    }
    if account:
        data["account"] = account
    return data
