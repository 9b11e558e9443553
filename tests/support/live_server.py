"""The app served over real HTTP on loopback, and a job worker beside it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


def closing_every_response(app: Flask) -> Any:
    """The app, each answer read whole and closed before the server sends it.

    Werkzeug's development server closes an answer only after draining the
    request's socket, which raises when the browser has dropped the connection
    (a favicon fetch abandoned by the next navigation): a static file's handle
    was then left open until a garbage collection, and its ResourceWarning
    failed whichever test was running. Answers here are small and finite."""

    def served(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return served


class LiveServer:
    """The app served by werkzeug in a thread, on a free loopback port."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, closing_every_response(app), threaded=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        app.config["BASE_URL"] = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@contextmanager
def worker_thread(app: Flask, poll_interval: float = 0.05) -> Iterator[None]:
    """A job worker thread, as `referral up` runs one beside the app."""
    from referral.jobs.worker import run_worker

    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(app,),
        kwargs={"stop_event": stop, "poll_interval": poll_interval},
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
