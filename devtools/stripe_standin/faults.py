"""Fault injection, so tests can show the app survives Stripe misbehaving.

Modes:
- error_500: answer a Stripe-shaped api_error 500 without doing the work;
- timeout: sleep `delay_seconds` before doing anything (the client gives up first),
  then do the work anyway, as a slow Stripe would;
- respond_late: do the work (saved, events sent), then sleep before answering,
  like a worker killed after its request reached Stripe;
- rate_limit: answer 429 (Stripe's rate_limit error) without doing the work,
  with `Stripe-Should-Retry: true|false` when `should_retry` is set.

A fault fires `count` times, or, with `rate` (0..1), on that share of the
matching requests, drawn from a seeded generator so runs repeat.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from .base import StripeError

MODES = ("error_500", "timeout", "respond_late", "rate_limit")


@dataclass
class Fault:
    mode: str
    path_prefix: str = "/v1/"
    method: str | None = None
    count: int | None = 1
    rate: float | None = None
    delay_seconds: float = 3.0
    should_retry: bool | None = None

    def matches(self, request: web.Request) -> bool:
        return request.path.startswith(self.path_prefix) and (
            self.method is None or self.method == request.method
        )


class FaultInjector:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._random = random.Random(0)

    def add(self, spec: dict[str, Any]) -> Fault:
        """Register a fault from its JSON spec. Fails on an unknown mode or field."""
        spec = dict(spec)
        seed = spec.pop("seed", 0)
        try:
            fault = Fault(**spec)
        except TypeError as error:
            raise StripeError(400, f"Bad fault spec: {error}") from None
        if fault.mode not in MODES:
            raise StripeError(400, f"mode must be one of {MODES}")
        if fault.method:
            fault.method = fault.method.upper()
        if fault.rate is not None:
            if not 0 <= float(fault.rate) <= 1:
                raise StripeError(400, "rate must be between 0 and 1")
            fault.count = None
            self._random.seed(seed)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()
        self._random.seed(0)

    def report(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self.faults]

    def pick(self, request: web.Request) -> Fault | None:
        """The fault this request meets, if any (using up one of its count)."""
        for fault in self.faults:
            if not fault.matches(request):
                continue
            if fault.rate is not None:
                if self._random.random() < fault.rate:
                    return fault
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
            return fault
        return None


injector = FaultInjector()


@web.middleware
async def inject_faults(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/_config/"):
        return await handler(request)
    fault = injector.pick(request)
    if fault is None:
        return await handler(request)
    if fault.mode == "error_500":
        error = StripeError(
            500,
            "An unknown error occurred (injected by the stand-in).",
            type="api_error",
        )
        return web.json_response(error.to_json(), status=500)
    if fault.mode == "rate_limit":
        error = StripeError(
            429,
            "Too many requests hit the API too quickly (injected by the stand-in).",
            code="rate_limit",
        )
        response = web.json_response(error.to_json(), status=429)
        if fault.should_retry is not None:
            response.headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
        return response
    if fault.mode == "timeout":
        await request.read()  # buffered now: the client may be gone when the work starts
        await asyncio.sleep(fault.delay_seconds)
        return await handler(request)
    response = await handler(request)  # respond_late: the work is done and saved
    await asyncio.sleep(fault.delay_seconds)
    return response
