"""A real HTTP receiver of webhooks on loopback, for tests: it verifies every
request with the `standardwebhooks` package, processes each webhook-id once
(as a careful receiver does) and can be told to fail, redirect, answer 410,
or answer with a huge body."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    url: str
    secret: str = ""
    # How it answers: a status, "flaky" (500 half the time at random), or
    # "hang" (no answer until `release` is set).
    behaviour: str | int = 200
    body: bytes = b"ok"
    requests: list[dict[str, Any]] = field(default_factory=list)  # every verified request
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)  # webhook-id -> payload
    processed_twice: list[str] = field(default_factory=list)
    rejected: int = 0
    concurrent: int = 0
    max_concurrent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(21))
    release: threading.Event = field(default_factory=threading.Event)

    def events(self) -> list[dict[str, Any]]:
        """Processed payloads, in the order they were processed."""
        return list(self.processed.values())

    def types(self) -> list[str]:
        return [event["type"] for event in self.events()]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802
            with receiver.lock:
                receiver.concurrent += 1
                receiver.max_concurrent = max(receiver.max_concurrent, receiver.concurrent)
            try:
                self._answer()
            finally:
                with receiver.lock:
                    receiver.concurrent -= 1

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = Webhook(receiver.secret).verify(body, headers)
            except WebhookVerificationError:
                with receiver.lock:
                    receiver.rejected += 1
                return self._send(400, b"bad signature")
            with receiver.lock:
                receiver.requests.append({"headers": headers, "payload": payload})
                behaviour = receiver.behaviour
                if behaviour == "flaky":
                    behaviour = 500 if receiver.rng.random() < 0.5 else 200
                if behaviour == 200:
                    msg_id = headers["webhook-id"]
                    if msg_id in receiver.processed:
                        receiver.processed_twice.append(msg_id)
                    else:
                        receiver.processed[msg_id] = payload
            if behaviour == "hang":  # holds the request until released (a worker dies meanwhile)
                receiver.release.wait(60)
                return self._send(200, b"late")
            if behaviour == 302:
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self._send(int(behaviour), receiver.body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender stopped reading, as it should past 64 KB

    return Handler


@contextmanager
def webhook_receiver(path: str = "/hooks") -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends. Set its
    `secret` to the endpoint's before events are delivered."""
    receiver = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


def payload_text(receiver: Receiver) -> str:
    return json.dumps(receiver.events())
