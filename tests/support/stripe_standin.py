"""The local Stripe stand-in as a test fixture, and a webhook receiver to point it at.

The stand-in (devtools/stripe_standin, GPL-3.0-or-later) runs as its own
process; this module only starts it and speaks HTTP to it, so nothing here
imports it. Tests talk to it through stripe-python, like the app does.

    def test_something(standin):          # fresh data, no faults
        client = standin.client()
        account = client.v1.accounts.create(params={"type": "express"})
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 20


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class StripeStandIn:
    """One stand-in process on 127.0.0.1 and a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.api_base = f"http://{host}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="stripe-standin-", suffix=".log")  # noqa: SIM115
        self._http = requests.Session()
        self._http_clients: list[stripe.HTTPClient] = []

    # --- process --------------------------------------------------------------

    def start(self) -> StripeStandIn:
        command = [sys.executable, "-m", "devtools.stripe_standin"]
        command += ["--host", self.host, "--port", str(self.port)]
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the stripe stand-in exited early:\n{self.log()}")
            try:
                if self._http.get(self.api_base + "/_config/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the stripe stand-in did not answer in time:\n{self.log()}")

    def stop(self) -> None:
        self.close_clients()
        self._http.close()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._log.close()

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    # --- clients ------------------------------------------------------------------

    def client(
        self,
        api_key: str = "sk_test_standin",
        *,
        max_network_retries: int = 2,
        timeout: float = 10,
    ) -> stripe.StripeClient:
        """A StripeClient aimed at the stand-in, as the app builds one."""
        http_client = stripe.RequestsClient(timeout=timeout)
        self._http_clients.append(http_client)
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": self.api_base, "connect": self.api_base, "files": self.api_base},
            max_network_retries=max_network_retries,
            http_client=http_client,
        )

    def close_clients(self) -> None:
        for http_client in self._http_clients:
            http_client.close()
        self._http_clients.clear()

    # --- /_config -----------------------------------------------------------------

    def reset(self) -> None:
        """Forget every object, event, delivery, idempotency key and fault."""
        self._call("DELETE", "/_config/data")

    def send_webhooks_to(
        self,
        url: str | None,
        secret: str | None = None,
        *,
        connect_url: str | None = None,
        connect_secret: str | None = None,
        api_version: str | None = None,
        events: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """The platform endpoint and the Connect endpoint (connected accounts'
        events, with `account`), each with its own secret; None stops sending
        there. Events are rendered in `api_version` (default: the stand-in's).
        `events` limits an endpoint ("platform", "connect") to those types, as
        `referral stripe setup` registers them (`webhooks.endpoint_events()`);
        otherwise it gets every event."""
        for endpoint, where, key in (
            ("platform", url, secret),
            ("connect", connect_url, connect_secret),
        ):
            self._call(
                "POST",
                "/_config/webhook",
                {
                    "endpoint": endpoint,
                    "url": where,
                    "secret": key,
                    "api_version": api_version,
                    "enabled_events": list((events or {}).get(endpoint) or ["*"]),
                },
            )

    def add_fault(
        self,
        mode: str,
        *,
        method: str | None = "POST",
        path_prefix: str = "/v1/",
        count: int | None = 1,
        rate: float | None = None,
        delay_seconds: float = 3.0,
        seed: int = 0,
        should_retry: bool | None = None,
    ) -> None:
        """mode: "error_500" (no work done), "timeout" (sleep, then work),
        "respond_late" (work done, then sleep before answering) or "rate_limit"
        (429, with `Stripe-Should-Retry` when `should_retry` is set)."""
        self._call(
            "POST",
            "/_config/faults",
            {
                "mode": mode,
                "method": method,
                "path_prefix": path_prefix,
                "count": count,
                "rate": rate,
                "delay_seconds": delay_seconds,
                "seed": seed,
                "should_retry": should_retry,
            },
        )

    def advance_idempotency_clock(self, seconds: float) -> None:
        """Move the idempotency keys' clock on (Stripe forgets keys after 24 hours)."""
        self._call("POST", "/_config/idempotency/advance", {"seconds": seconds})

    def clear_faults(self) -> None:
        self._call("DELETE", "/_config/faults")

    def deliveries(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_config/deliveries")
        return result

    def wait_for_delivery(
        self, event_type: str, timeout: float = 5.0, *, object_id: str | None = None
    ) -> dict[str, Any]:
        """The first delivered event of this type (for this object), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for delivery in self.deliveries():
                if delivery["type"] == event_type and delivery["delivered"]:
                    if object_id is None or delivery["object_id"] == object_id:
                        return delivery
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {event_type} delivered within {timeout}s; deliveries: {self.deliveries()}"
                )
            time.sleep(0.02)

    # --- what a person would do on the hosted pages (their JSON twins) ---------------

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        return self._call("POST", f"/_standin/accounts/{account_id}/complete_onboarding", {})

    def complete_checkout(
        self, session_id: str, card: str = "4242424242424242"
    ) -> requests.Response:
        """200 with {"session", "redirect_url"}, or 402 with a Stripe card error."""
        return self._http.post(
            f"{self.api_base}/_standin/checkout/{session_id}/complete",
            json={"card": card},
            timeout=10,
        )

    def open_dispute(
        self, charge_id: str, reason: str = "fraudulent", *, inquiry: bool = False
    ) -> dict[str, Any]:
        """A chargeback, or with `inquiry` a "warning" dispute that moves no money."""
        return self._call(
            "POST",
            f"/_standin/charges/{charge_id}/dispute",
            {"reason": reason, "inquiry": inquiry},
        )

    def close_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        return self._call("POST", f"/_standin/disputes/{dispute_id}/close", {"outcome": outcome})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, self.api_base + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()


class WebhookReceiver:
    """A tiny threaded HTTP server on 127.0.0.1 that keeps every POST it gets.

    `fail_next(n)` answers the next n requests with 500, to watch retries.
    """

    def __init__(self, secret: str = "whsec_standin_tests") -> None:
        self.secret = secret
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures_left = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append((dict(self.headers), body))
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= failing
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stripe/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self.failures_left = count

    def events(self) -> list[stripe.Event]:
        """Every received event, verified as the app verifies them."""
        with self._lock:
            received = list(self.received)
        return [
            stripe.Webhook.construct_event(body, headers["Stripe-Signature"], self.secret)
            for headers, body in received
        ]

    def wait_for(self, event_type: str, timeout: float = 5.0, **match: Any) -> stripe.Event:
        """The first verified event of this type whose data.object has these values."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if event.type == event_type and all(
                    plain(getattr(event.data.object, key, None)) == value
                    for key, value in match.items()
                ):
                    return event
            if time.monotonic() > deadline:
                seen = [event.type for event in self.events()]
                raise AssertionError(f"no {event_type} {match} within {timeout}s; got {seen}")
            time.sleep(0.02)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def plain(value: Any) -> Any:
    """stripe-python 16 objects are not dicts: compare their plain form."""
    return value.to_dict() if isinstance(value, stripe.StripeObject) else value


def expected_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's v1 scheme, spelled out for the tests that check it byte for byte."""
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@pytest.fixture(scope="session")
def stripe_standin() -> Iterator[StripeStandIn]:
    """The stand-in process, started once per test session."""
    standin = StripeStandIn().start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def standin(stripe_standin: StripeStandIn) -> Iterator[StripeStandIn]:
    """The same stand-in with no data and no faults."""
    stripe_standin.reset()
    stripe_standin.clear_faults()
    yield stripe_standin
    stripe_standin.close_clients()


@pytest.fixture
def webhooks(standin: StripeStandIn) -> Iterator[WebhookReceiver]:
    """A receiver the stand-in posts the platform's signed events to."""
    receiver = WebhookReceiver()
    standin.send_webhooks_to(receiver.url, receiver.secret)
    try:
        yield receiver
    finally:
        standin.send_webhooks_to(None)
        receiver.close()


@pytest.fixture
def connect_webhooks(
    standin: StripeStandIn, webhooks: WebhookReceiver
) -> Iterator[WebhookReceiver]:
    """A second receiver: the Connect endpoint, with its own secret."""
    receiver = WebhookReceiver(secret="whsec_standin_connect_tests")
    standin.send_webhooks_to(
        webhooks.url, webhooks.secret, connect_url=receiver.url, connect_secret=receiver.secret
    )
    try:
        yield receiver
    finally:
        receiver.close()


__all__ = [
    "StripeStandIn",
    "WebhookReceiver",
    "connect_webhooks",
    "standin",
    "stripe_standin",
    "webhooks",
]
