"""Stripe's side of webhook delivery, between the stand-in and the app.

The stand-in signs and posts each event once and retries for about a second.
Real Stripe retries for days, sends some events twice and promises no order.
So the stand-in posts to this relay, which takes every event at once (200) and
delivers it to the app's /stripe/webhook as Stripe would:

- signed again at each attempt (t=now, the endpoint's secret), so a late
  retry is inside the app's 300 s tolerance;
- retried until the app answers 2xx, backing off from 0.25 s to 5 s, for as
  long as the run lasts (a database restart makes the app answer 500);
- a share sent twice at the same moment by two threads (duplicates racing);
- a share held back 1 to 4 s, so later events about the same object reach
  the app first (out of order);
- `replay_accepted`: a share of accepted events sent again later (late duplicates).

Every answer's `duplicate` flag is kept: an event the app answered
`"duplicate": false` more than once was stored more than once.
"""

from __future__ import annotations

import heapq
import json
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from bench.soak_client import Http, Recorder
from bench.webhooks import sign

LABEL = "POST /stripe/webhook"
MAX_BACKOFF_SECONDS = 5.0


@dataclass
class Delivery:
    """One event the stand-in sent, and what became of it."""

    event_id: str
    type: str
    object_id: str
    body: bytes
    received: int  # position in the order the stand-in sent events
    held: bool = False
    doubled: bool = False
    attempts: int = 0
    failed_attempts: int = 0
    accepted_at: float | None = None
    new_answers: int = 0  # 200 {"duplicate": false}: the app stored it
    duplicate_answers: int = 0


class StripeDelivery:
    def __init__(
        self,
        app_url: str,
        secret: str,
        recorder: Recorder,
        *,
        seed: int,
        duplicate_share: float = 0.10,
        held_share: float = 0.10,
        senders: int = 4,
    ) -> None:
        self.app_url, self.secret, self.recorder = app_url, secret, recorder
        self.duplicate_share, self.held_share = duplicate_share, held_share
        self.events: dict[str, Delivery] = {}
        self.resent_by_standin = 0
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, str]] = []
        self._sequence = 0
        self._in_flight = 0
        self._ready = threading.Condition()
        self._stopping = False
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                relay._take(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stripe/webhook"
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})
        ]
        self._threads += [threading.Thread(target=self._send) for _ in range(senders)]
        for thread in self._threads:
            thread.daemon = True

    def start(self) -> StripeDelivery:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=35)

    # --- intake from the stand-in ----------------------------------------------------

    def _take(self, body: bytes) -> None:
        event = json.loads(body)
        with self._ready:
            if event["id"] in self.events:
                self.resent_by_standin += 1
                return
            delivery = Delivery(
                event["id"],
                event["type"],
                str(event["data"]["object"].get("id", event["id"])),
                body,
                len(self.events),
            )
            self.events[delivery.event_id] = delivery
            now, draw = time.monotonic(), self._rng.random()
            if draw < self.duplicate_share:
                delivery.doubled = True
                self._schedule(delivery.event_id, now)
                self._schedule(delivery.event_id, now)
            elif draw < self.duplicate_share + self.held_share:
                delivery.held = True
                self._schedule(delivery.event_id, now + self._rng.uniform(1, 4))
            else:
                self._schedule(delivery.event_id, now)

    def _schedule(self, event_id: str, due: float) -> None:
        """Queue a delivery attempt (call holding self._ready)."""
        self._sequence += 1
        heapq.heappush(self._queue, (due, self._sequence, event_id))
        self._ready.notify()

    def replay_accepted(self, share: float) -> int:
        """Send a share of the accepted events again now (Stripe's late duplicates)."""
        with self._ready:
            chosen = [
                d.event_id
                for d in self.events.values()
                if d.accepted_at is not None and self._rng.random() < share
            ]
            for event_id in chosen:
                self._schedule(event_id, time.monotonic())
        return len(chosen)

    # --- delivery to the app ---------------------------------------------------------

    def _send(self) -> None:
        http = Http(self.app_url, self.recorder)
        path = urlsplit(self.app_url).path
        while True:
            with self._ready:
                while not self._stopping:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._ready.wait(wait)
                if self._stopping:
                    http.close()
                    return
                _, _, event_id = heapq.heappop(self._queue)
                delivery = self.events[event_id]
                delivery.attempts += 1
                self._in_flight += 1
            try:
                self._deliver(http, path, delivery)
            finally:
                with self._ready:
                    self._in_flight -= 1
                    self._ready.notify_all()

    def _deliver(self, http: Http, path: str, delivery: Delivery) -> None:
        signature = sign(self.secret, delivery.body, int(time.time()))
        response = http.call(
            LABEL,
            "POST",
            path,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            body=delivery.body,
        )
        answer: dict[str, Any] = {}
        if response is not None and response.status == 200:
            try:
                answer = json.loads(response.body)
            except ValueError:
                answer = {}
        with self._ready:
            if "duplicate" not in answer:
                delivery.failed_attempts += 1
                backoff = min(MAX_BACKOFF_SECONDS, 0.25 * 2 ** (delivery.failed_attempts - 1))
                self._schedule(delivery.event_id, time.monotonic() + backoff)
                return
            if answer["duplicate"]:
                delivery.duplicate_answers += 1
            else:
                delivery.new_answers += 1
            if delivery.accepted_at is None:
                delivery.accepted_at = time.monotonic()

    # --- state -------------------------------------------------------------------------

    def idle(self) -> bool:
        """Nothing queued or in flight: every event received so far was accepted."""
        with self._ready:
            return not self._queue and not self._in_flight

    def overtaken(self) -> int:
        """Events the app accepted after a later event about the same object."""
        latest_seen: dict[str, int] = {}
        count = 0
        with self._ready:
            accepted = sorted(
                (d for d in self.events.values() if d.accepted_at is not None),
                key=lambda d: d.accepted_at or 0.0,
            )
        for delivery in accepted:
            if latest_seen.get(delivery.object_id, -1) > delivery.received:
                count += 1
            latest_seen[delivery.object_id] = max(
                latest_seen.get(delivery.object_id, -1), delivery.received
            )
        return count
