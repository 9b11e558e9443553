"""The app served over real HTTP on loopback, and a job worker beside it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


class LiveServer:
    """The app served by werkzeug in a thread, on a free loopback port."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
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
