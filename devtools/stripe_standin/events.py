"""Events and their signed webhook delivery.

Every change the stand-in makes is recorded as an Event (kept for
GET /v1/events) and posted to the webhook endpoint it belongs to, signed like
Stripe (`Stripe-Signature: t=...,v1=HMAC-SHA256("t.payload")`) with that
endpoint's secret: events of connected accounts (they carry `account`) go only
to the Connect endpoint, the platform's own only to the platform endpoint, as
on Stripe. Each endpoint has an API version and its events are rendered in it. Deliveries
start as soon as the work is done (localstripe waits ~1 s; tests should not),
run in order per object, and retry a few times with a short backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from localstripe import resources as ls

from .base import API_VERSION, Resource, StripeError, current_request, random_id, store

log = logging.getLogger("stripe_standin.webhooks")

RETRY_DELAYS_SECONDS = (0.1, 0.3, 1.0)  # so at most four attempts
ATTEMPT_TIMEOUT_SECONDS = 5


class Event(Resource):
    object = "event"
    _id_prefix = "evt_"

    def __init__(
        self,
        type: str,
        obj: Any,
        *,
        account: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if account:
            self.account = account  # only Connect events carry it, as on Stripe
        self.api_version = API_VERSION
        snapshot = obj if isinstance(obj, dict) else obj._export()
        self.data: dict[str, Any] = {"object": snapshot}
        if previous_attributes:
            self.data["previous_attributes"] = previous_attributes
        self.pending_webhooks = 0
        request = current_request.get() or {}
        self.request = {"id": request.get("id"), "idempotency_key": request.get("idempotency_key")}
        self.type = type


ENDPOINTS = ("platform", "connect")


@dataclass
class Endpoint:
    """A webhook endpoint as Stripe keeps one: where, signed with what, which version."""

    url: str | None = None
    secret: str | None = None
    api_version: str = API_VERSION
    enabled_events: tuple[str, ...] = ("*",)

    def wants(self, event_type: str) -> bool:
        return any(
            pattern == "*"
            or pattern == event_type
            or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
            for pattern in self.enabled_events
        )


@dataclass
class Delivery:
    event_id: str
    type: str
    object_id: str
    url: str
    endpoint: str = "platform"
    secret: str = field(default="", repr=False)
    attempts: int = 0
    status: int | None = None  # last HTTP status; None while pending or unreachable
    delivered: bool = False
    error: str | None = None
    payload: bytes = field(default=b"", repr=False)


class WebhookDeliverer:
    """Posts events to their endpoint; one worker per object keeps that object's order."""

    def __init__(self) -> None:
        self.defaults: dict[str, Endpoint] = {name: Endpoint() for name in ENDPOINTS}
        self.endpoints: dict[str, Endpoint] = {name: Endpoint() for name in ENDPOINTS}
        self.deliveries: list[Delivery] = []
        self._queues: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def configure(
        self,
        url: str | None,
        secret: str | None,
        *,
        endpoint: str = "platform",
        api_version: str | None = None,
        enabled_events: tuple[str, ...] = ("*",),
    ) -> Endpoint:
        self.endpoints[endpoint] = Endpoint(
            url, secret, api_version or API_VERSION, tuple(enabled_events)
        )
        return self.endpoints[endpoint]

    def reset(self) -> None:
        """Forget deliveries and drop pending ones; back to the command-line targets."""
        for worker in self._workers.values():
            worker.cancel()
        self._workers.clear()
        self._queues.clear()
        self.deliveries.clear()
        self.endpoints = {name: Endpoint(**asdict(end)) for name, end in self.defaults.items()}

    def send(self, event: Event) -> None:
        name = "connect" if getattr(event, "account", None) else "platform"
        endpoint = self.endpoints[name]
        if not (endpoint.url and endpoint.secret and endpoint.wants(event.type)):
            return
        rendered = event._export()
        rendered["api_version"] = endpoint.api_version
        payload = json.dumps(rendered, indent=2, sort_keys=True).encode()
        object_id = event.data["object"].get("id", event.id)
        delivery = Delivery(
            event.id,
            event.type,
            object_id,
            endpoint.url,
            endpoint=name,
            secret=endpoint.secret,
            payload=payload,
        )
        self.deliveries.append(delivery)
        self._queues.setdefault(object_id, deque()).append(delivery)
        worker = self._workers.get(object_id)
        if worker is None or worker.done():  # done: a worker that crashed
            self._workers[object_id] = asyncio.get_running_loop().create_task(
                self._drain(object_id)
            )

    def report(self) -> list[dict[str, Any]]:
        return [
            {key: val for key, val in asdict(item).items() if key not in ("payload", "secret")}
            for item in self.deliveries
        ]

    async def _drain(self, object_id: str) -> None:
        queue = self._queues[object_id]
        timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while queue:
                await self._deliver(session, queue[0])
                queue.popleft()
            # No await between the last emptiness check and this, so no event is stranded.
            if self._workers.get(object_id) is asyncio.current_task():
                del self._workers[object_id]
                del self._queues[object_id]

    async def _deliver(self, session: aiohttp.ClientSession, delivery: Delivery) -> None:
        secret = delivery.secret
        for delay in (*RETRY_DELAYS_SECONDS, None):
            delivery.attempts += 1
            try:
                headers = {
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": sign(delivery.payload, secret),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                }
                async with session.post(delivery.url, data=delivery.payload, headers=headers) as r:
                    delivery.status = r.status
                    delivery.error = None
                    if 200 <= r.status < 300:
                        delivery.delivered = True
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                delivery.status = None
                delivery.error = f"{type(error).__name__}: {error}"
            log.info(
                "webhook %s (%s) failed, attempt %d",
                delivery.type,
                delivery.event_id,
                delivery.attempts,
            )
            if delay is None:
                return
            await asyncio.sleep(delay)


class WebhookEndpoint(Resource):
    """POST /v1/webhook_endpoints: the platform endpoint, or with connect=true the
    Connect endpoint; it replaces the one the stand-in sends that kind of event to."""

    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(self, params: dict[str, Any]) -> None:
        url, events = params.get("url"), params.get("enabled_events")
        if not url or not str(url).startswith("http"):
            raise StripeError(400, "Missing required param: url.", param="url", saved=False)
        if not events:
            raise StripeError(
                400, "Missing required param: enabled_events.", param="enabled_events", saved=False
            )
        super().__init__()
        self.api_version = params.get("api_version") or API_VERSION
        self.application = None
        self.description = params.get("description")
        self.enabled_events = list(events)
        self.metadata = dict(params.get("metadata") or {})
        self.secret = "whsec_" + random_id(32)
        self.status = "enabled"
        self.url = str(url)
        connect = str(params.get("connect", "false")).lower() == "true"
        deliverer.configure(
            self.url,
            self.secret,
            endpoint="connect" if connect else "platform",
            api_version=self.api_version,
            enabled_events=tuple(self.enabled_events),
        )

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        data = super()._export(expand)
        if not getattr(self, "_fresh", True):
            data.pop("secret", None)  # Stripe shows the secret only at creation
        self._fresh = False
        return data


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's signature header, which stripe.Webhook.construct_event verifies."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


deliverer = WebhookDeliverer()


def publish(
    type: str,
    obj: Any,
    *,
    account: str | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> Event:
    """Record an event about `obj` (snapshotted now) and send it to the webhook target."""
    event = Event(type, obj, account=account, previous_attributes=previous_attributes)
    deliverer.send(event)
    return event


def _publish_localstripe_event(event: ls.Event) -> None:
    """localstripe's own events (customer.created...) go out the same way, promptly."""
    del store[f"event:{event.id}"]
    publish(event.type, event.data["object"])


ls.schedule_webhook = _publish_localstripe_event


def new_request_id() -> str:
    return "req_" + random_id(14)
