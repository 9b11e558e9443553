"""Idempotency-Key, as Stripe honours it on every POST.

The first request with a key (per API key) runs and its status and body are
saved; a later request with the same key and the same parameters gets that
exact answer back without doing any work, even while the first is still
running (it waits for it). The same key with other parameters is a 400
idempotency_error. Parameter validation errors are not saved, like Stripe.
Keys are forgotten 24 hours after their first use, as Stripe forgets them;
`advance(seconds)` moves the keys' clock on, for tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from .base import StripeError


@dataclass
class SavedResponse:
    fingerprint: str
    request_id: str
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    status: int = 0
    body: bytes = b""
    replayable: bool = False
    used_at: float = field(default_factory=time.time)


KEY_LIFETIME_SECONDS = 24 * 3600


class IdempotencyKeys:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], SavedResponse] = {}
        self.offset = 0.0  # seconds the keys' clock was moved on

    def clear(self) -> None:
        self.saved.clear()
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def get(self, slot: tuple[str, str]) -> SavedResponse | None:
        """The saved response under this key, unless the key has expired."""
        saved = self.saved.get(slot)
        if saved is not None and saved.finished.is_set():
            if time.time() + self.offset - saved.used_at >= KEY_LIFETIME_SECONDS:
                del self.saved[slot]
                return None
        return saved


keys = IdempotencyKeys()


def fingerprint(request: web.Request, body: bytes) -> str:
    """Same path and same parameters (in any order) give the same fingerprint."""
    if request.content_type == "application/x-www-form-urlencoded":
        params = repr(sorted(parse_qsl(body.decode(), keep_blank_values=True)))
    else:
        params = body.decode(errors="replace")
    return hashlib.sha256(f"{request.method} {request.path} {params}".encode()).hexdigest()


def replay(saved: SavedResponse, key: str) -> web.Response:
    return web.Response(
        status=saved.status,
        body=saved.body,
        content_type="application/json",
        headers={
            "Idempotency-Key": key,
            "Idempotent-Replayed": "true",
            "Original-Request": saved.request_id,
            "Request-Id": saved.request_id,
        },
    )


@web.middleware
async def honour_idempotency_keys(request: web.Request, handler: Any) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    body = await request.read()
    slot = (request["api_key"], key)
    request_print = fingerprint(request, body)
    while (saved := keys.get(slot)) is not None:
        if saved.fingerprint != request_print:
            error = StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                "meant to execute a different request.",
                type="idempotency_error",
            )
            return web.json_response(error.to_json(), status=400)
        await saved.finished.wait()
        if saved.replayable:
            return replay(saved, key)
        # The first try was not saved (a validation error or a crash): run this one.

    saved = keys.saved[slot] = SavedResponse(
        request_print, request["request_id"], used_at=time.time() + keys.offset
    )
    try:
        response = await handler(request)
        assert isinstance(response, web.Response)
        saved.status = response.status
        saved.body = response.body or b""
        saved.replayable = response.status < 500 and response.get("saved", True)
        if not saved.replayable:
            keys.saved.pop(slot, None)
        return response
    except BaseException:
        keys.saved.pop(slot, None)
        raise
    finally:
        saved.finished.set()
