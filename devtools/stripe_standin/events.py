"""Events and their signed webhook delivery.

Every change the stand-in makes is recorded as an Event (kept for
GET /v1/events) and posted to the one configured webhook target, signed like
Stripe (`Stripe-Signature: t=...,v1=HMAC-SHA256("t.payload")`). Deliveries
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

from .base import API_VERSION, Resource, current_request, random_id, store

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


@dataclass
class Delivery:
    event_id: str
    type: str
    object_id: str
    url: str
    attempts: int = 0
    status: int | None = None  # last HTTP status; None while pending or unreachable
    delivered: bool = False
    error: str | None = None
    payload: bytes = field(default=b"", repr=False)


class WebhookDeliverer:
    """Posts events to one target; one worker per object keeps that object's order."""

    def __init__(self, url: str | None = None, secret: str | None = None) -> None:
        self.default_target = (url, secret)
        self.url, self.secret = url, secret
        self.deliveries: list[Delivery] = []
        self._queues: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def configure(self, url: str | None, secret: str | None) -> None:
        self.url, self.secret = url, secret

    def reset(self) -> None:
        """Forget deliveries and drop pending ones; back to the command-line target."""
        for worker in self._workers.values():
            worker.cancel()
        self._workers.clear()
        self._queues.clear()
        self.deliveries.clear()
        self.url, self.secret = self.default_target

    def send(self, event: Event) -> None:
        if not (self.url and self.secret):
            return
        payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
        object_id = event.data["object"].get("id", event.id)
        delivery = Delivery(event.id, event.type, object_id, self.url, payload=payload)
        self.deliveries.append(delivery)
        self._queues.setdefault(object_id, deque()).append(delivery)
        worker = self._workers.get(object_id)
        if worker is None or worker.done():  # done: a worker that crashed
            self._workers[object_id] = asyncio.get_running_loop().create_task(
                self._drain(object_id)
            )

    def report(self) -> list[dict[str, Any]]:
        return [
            {key: val for key, val in asdict(item).items() if key != "payload"}
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
        secret = self.secret or ""
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
