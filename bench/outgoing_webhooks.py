"""Outgoing webhooks: delivery rate by the job workers against a bare loop, and
the delay from a change's commit to the receiver's 2xx.

    .venv/bin/python bench/outgoing_webhooks.py                    # SQLite file, 10,000 events
    .venv/bin/python bench/outgoing_webhooks.py --events 1000      # a short run
    .venv/bin/python bench/outgoing_webhooks.py --db-url postgresql+psycopg://.../test_bench3

1. Rate. N events (`referral.won`, payloads as the app writes them) spread over
   ENDPOINTS endpoints of as many businesses (an endpoint gets one request at a
   time, so parallel work needs several), then 2 `referral worker` processes
   (claiming one job at a time) deliver them to a local receiver (a threaded
   HTTP server answering 204).
   Deliveries per second, from the workers' start to the last 2xx, as a ratio
   to a bare loop in this process that signs the same payloads with
   `standardwebhooks` and posts them with `requests`. Target: >= 50%.
2. Delay. With the workers running, events are written one per transaction at
   about 50 a second; the delay from each commit to the receiver's 2xx, p50
   and p99.

The database (a temp SQLite file unless --db-url; a PostgreSQL one is emptied)
holds only what this script writes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlmodel import Session, SQLModel, select
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from referral import create_app, events  # noqa: E402
from referral.businesses.models import Business, Trade  # noqa: E402
from referral.businesses.taxonomy import seed_trades  # noqa: E402
from referral.config import Config  # noqa: E402
from referral.domains import load_all_models  # noqa: E402
from referral.events.models import (  # noqa: E402
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from referral.integrations.services import event_payload, message_id, new_secret  # noqa: E402

ENDPOINTS = 8


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with arrivals.lock:
                arrivals.at.setdefault(self.headers["webhook-id"], time.time())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def prepare(db_url: str, url: str) -> list[int]:
    """An empty schema, the trades, ENDPOINTS businesses each with an endpoint."""
    engine = create_engine(db_url)
    load_all_models()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        seed_trades(session)
        trade = session.exec(select(Trade)).first()
        assert trade is not None
        ids = []
        for n in range(ENDPOINTS):
            business = Business(
                name=f"Bench {n}",
                trade_id=trade.id,
                zip_code="78701",
                latitude=30.27,
                longitude=-97.74,
                radius_miles=25,
            )
            session.add(business)
            session.flush()
            session.add(
                WebhookEndpoint(
                    business_id=business.id,
                    url=url,
                    event_types=["referral.won"],
                    secret=new_secret(),
                )
            )
            ids.append(business.id)
        session.commit()
    engine.dispose()
    return ids


def data(n: int) -> dict[str, object]:
    return {
        "referral_id": n,
        "status": "won",
        "sender_id": 1,
        "receiver_id": 2,
        "partnership_id": 3,
        "job_value_cents": 100 * n,
        "url": f"/api/v1/referrals/{n}",
    }


def write_events(
    app, business_ids: list[int], count: int, *, pace: float = 0.0
) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Write `count` events, one transaction each; webhook-id -> commit time."""
    committed: dict[str, float] = {}
    engine = app.extensions["db_engine"]
    with app.app_context():
        for n in range(count):
            with Session(engine) as session:
                (event,) = events.emit(
                    session, business_ids[n % len(business_ids)], "referral.won", data(n)
                )
                session.commit()
                committed[message_id(event)] = time.time()
            if pace:
                time.sleep(pace)
    return committed


def workers(db_url: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "bench",
        "WEBHOOK_ALLOW_LOOPBACK": "1",
        "LOG_LEVEL": "WARNING",
        # A delivery job keeps its worker while its endpoint has due events:
        # claimed in batches, one worker would take every endpoint's job.
        "JOB_CLAIM_BATCH": "1",
    }
    command = [sys.executable, "-m", "referral", "worker", "--poll-interval", "0.05"]
    return [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(count)]


def wait_all(arrivals: Arrivals, ids: set[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with arrivals.lock:
            if ids <= arrivals.at.keys():
                return max(arrivals.at[i] for i in ids)
        time.sleep(0.02)
    missing = len(ids - arrivals.at.keys())
    raise SystemExit(f"{missing} events never arrived")


def bare_loop(app, url: str) -> float:  # type: ignore[no-untyped-def]
    """The same payloads signed and posted by a plain loop; per second."""
    with Session(app.extensions["db_engine"]) as session:
        stored = session.exec(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        secret = session.exec(select(WebhookEndpoint.secret)).first()
        bodies = [
            (message_id(e), json.dumps(event_payload(e), separators=(",", ":"))) for e in stored
        ]
    signer = Webhook(secret)
    started = time.perf_counter()
    for msg_id, body in bodies:
        now = time.time()
        moment = datetime.fromtimestamp(now, UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": "bare-" + msg_id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": signer.sign(msg_id, moment, body),
        }
        requests.post(url, data=body.encode(), headers=headers, timeout=10).raise_for_status()
    return len(bodies) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delay-events", type=int, default=200)
    parser.add_argument("--db-url", default="")
    args = parser.parse_args()

    arrivals = Arrivals()
    server = receiver(arrivals)
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    tmp = tempfile.TemporaryDirectory()
    db_url = args.db_url or f"sqlite:///{tmp.name}/bench.db"
    business_ids = prepare(db_url, url)
    config = Config({"DATABASE_URL": db_url, "SECRET_KEY": "bench", "WEBHOOK_ALLOW_LOOPBACK": "1"})
    config.LOG_LEVEL = "WARNING"
    app = create_app(config)

    committed = write_events(app, business_ids, args.events)
    started = time.time()
    processes = workers(db_url, args.workers)
    try:
        last = wait_all(arrivals, set(committed), timeout=max(120, args.events / 10))
        rate = len(committed) / (last - started)

        delayed = write_events(app, business_ids, args.delay_events, pace=0.02)
        wait_all(arrivals, set(delayed), timeout=120)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    with Session(app.extensions["db_engine"]) as session:
        statuses = session.exec(select(WebhookDelivery.status)).all()
    assert all(s == DeliveryStatus.delivered for s in statuses), "not every delivery is done"
    bare = bare_loop(app, url)
    delays = sorted(arrivals.at[i] - delayed[i] for i in delayed)
    p99 = delays[max(0, int(len(delays) * 0.99) - 1)]
    print(f"events: {len(committed)}, workers: {args.workers}, endpoints: {ENDPOINTS}")
    print(
        f"delivered: {rate:.0f}/s; bare loop: {bare:.0f}/s; ratio {rate / bare:.0%} (target >= 50%)"
    )
    print(
        f"commit -> 2xx over {len(delays)} events at ~50/s: "
        f"p50 {statistics.median(delays) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    server.shutdown()
    app.extensions["db_engine"].dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
