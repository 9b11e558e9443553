"""Campaigns: queueing against a bare INSERT ... SELECT, sending against a bare smtplib loop.

    .venv/bin/python bench/campaigns.py                        # SQLite file, 10,000 customers
    .venv/bin/python bench/campaigns.py --customers 200        # a short run
    .venv/bin/python bench/campaigns.py --db postgresql        # test_bench_campaigns is DROPPED
    .venv/bin/python bench/campaigns.py --db postgresql --pg-url postgresql+psycopg://.../test_x

One business with a postal address and N customers, each with an email address
and marketing permission, written with one executemany (not measured). Then, in
the same run and on the same database:

1. Queueing. `referral.campaigns.services.send_campaign` (one INSERT ... SELECT
   of the permitted customers into `campaign_recipient`, the count, the job)
   and its commit, against a bare `INSERT ... SELECT` of the same rows into a
   scratch copy of `campaign_recipient` (same columns, indexes and foreign
   keys) through the driver alone (sqlite3 or psycopg), committed. `--rounds`
   alternating pairs; every round's campaign but the last is cancelled, the
   last one is sent. Printed: the median of each and the ratio.
2. Sending. 2 `referral worker` processes (`--workers`) send the campaign to a
   local SMTP server (aiosmtpd in a subprocess that only writes each message's
   Message-ID down), with CAMPAIGN_SENDS_PER_MINUTE raised out of the way.
   Messages per second from the first message's arrival to the last, as a
   ratio to a bare loop in this process that builds similar messages (same
   headers, body and size) with `email.message` and sends them with `smtplib`
   over one connection per batch of 50, as the product does; half the bare loop runs
   before the workers and half after. Target: >= 50%.
3. Memory. Each worker's RSS (VmRSS in /proc/<pid>/status), sampled every
   50 ms: the growth from its peak during the first 10% of the messages to
   its peak at the end. Flat means no list of all recipients is held.

Checks (exit 1 when one fails): every recipient is sent and every message
arrived exactly once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy import select as sql_select  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from bench import seed  # noqa: E402
from referral import create_app, migrate  # noqa: E402
from referral.auth.models import User  # noqa: E402
from referral.auth.passwords import hash_password  # noqa: E402
from referral.businesses.actor import Actor  # noqa: E402
from referral.businesses.geo import locate_zip  # noqa: E402
from referral.businesses.models import Business, Trade  # noqa: E402
from referral.businesses.taxonomy import seed_trades  # noqa: E402
from referral.campaigns import services  # noqa: E402
from referral.campaigns.jobs import BATCH  # noqa: E402
from referral.campaigns.models import Campaign, CampaignRecipient, CampaignStatus  # noqa: E402
from referral.config import Config  # noqa: E402
from referral.customers import marketing  # noqa: E402
from referral.customers.models import Customer, MarketingPermission  # noqa: E402
from referral.db import utcnow  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench_campaigns"
SUBJECT = "{first_name}, spring tune-up time"
BODY = (
    "Hi {first_name},\n\nIt has been a while since your last visit. Book a spring "
    "tune-up with {business_name} this month and we check the whole system for free."
    "\n\nSee you soon,\nThe {business_name} team"
)
SAMPLE_SECONDS = 0.05

# The SMTP server: accepts everything, writes each message's Message-ID down.
SMTP_COUNTER = r"""
import asyncio, re, sys
from aiosmtpd.smtp import SMTP
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.M | re.I)

class Counter:
    async def handle_DATA(self, server, session, envelope):
        found = MESSAGE_ID.search(envelope.content)
        sys.stdout.write((found.group(1).decode() if found else "-") + "\n")
        sys.stdout.flush()
        return "250 OK"

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Counter()), "127.0.0.1", 0)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


class SmtpCounter:
    """The SMTP subprocess and what it received: Message-ID and arrival time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SMTP_COUNTER], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        if first[:1] != ["port"]:
            raise SystemExit("the SMTP server did not start")
        self.port = int(first[1])
        self.arrived: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.lock:
                self.arrived.append((time.time(), line.strip()))

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)

    def since(self, start: int) -> list[tuple[float, str]]:
        with self.lock:
            return self.arrived[start:]

    def wait_for(self, total: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.count()} of {total} messages arrived")
            time.sleep(0.02)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- The database ----------------------------------------------------------------------------


def prepare(url: str, customers: int) -> tuple[int, int]:
    """The schema, one business with its owner and postal address, and its
    permitted customers (one executemany); (business id, owner id)."""
    migrate.upgrade(url)
    engine = create_engine(url)
    centre = locate_zip("78701")
    assert centre is not None
    with Session(engine) as session:
        if session.execute(sql_select(Trade.id).limit(1)).first() is None:
            seed_trades(session)
            session.commit()
        trade = session.exec(select(Trade).where(Trade.slug == "hvac")).one()
        business = Business(
            name="Bench Heating & Air",
            trade_id=trade.id,
            zip_code=centre.zip_code,
            latitude=centre.latitude,
            longitude=centre.longitude,
            radius_miles=25,
            postal_address="100 Congress Ave, Austin, TX 78701",
        )
        session.add(business)
        session.flush()
        owner = User(
            business_id=business.id,
            email="owner@bench.example.com",
            name="Bench Owner",
            role="owner",
            password_hash=hash_password("bench-password-not-used"),
            email_verified_at=utcnow(),
        )
        session.add(owner)
        session.flush()
        assert business.id is not None and owner.id is not None
        ids = business.id, owner.id
        now = utcnow()
        rows = [
            {
                "business_id": business.id,
                "name": f"Customer {i} Example",
                "email": f"c{i}@example.com",
                "zip_code": "78701",
                "marketing_permission": MarketingPermission.GRANTED.value,
                "marketing_permission_date": now.date(),
                "marketing_permission_source": "bench",
                "created_at": now,
            }
            for i in range(customers)
        ]
        session.execute(insert(Customer.__table__), rows)  # type: ignore[attr-defined]
        session.commit()
    _scratch_table(engine)
    engine.dispose()
    return ids


def _scratch_table(engine: Engine) -> None:
    """bench_recipient: campaign_recipient's columns, indexes and foreign keys."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("CREATE TABLE bench_recipient (LIKE campaign_recipient INCLUDING ALL)")
            )
            connection.execute(
                text(
                    "ALTER TABLE bench_recipient"
                    " ADD FOREIGN KEY (campaign_id) REFERENCES campaign (id),"
                    " ADD FOREIGN KEY (customer_id) REFERENCES customer (id)"
                )
            )
            return
        statements = connection.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'campaign_recipient'"
                " AND sql IS NOT NULL ORDER BY type DESC"  # the table before its indexes
            )
        ).scalars()
        for statement in list(statements):
            connection.execute(text(statement.replace("campaign_recipient", "bench_recipient")))


def driver_connection(url: str) -> Any:
    """A DBAPI connection of the driver alone, set up as the app's engine sets its own."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "", isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            connection.execute(f"PRAGMA {pragma}")
        return connection
    import psycopg

    return psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False))


def bare_queue(url: str, *, business_id: int, campaign_id: int) -> float:
    """The same rows, INSERT ... SELECT into the scratch table, committed; seconds."""
    sqlite = url.startswith("sqlite")
    mark = "?" if sqlite else "%s"
    statement = (
        "INSERT INTO bench_recipient (campaign_id, customer_id, status, error, created_at)"
        f" SELECT {mark}, id, 'queued', '', {mark} FROM customer"
        f" WHERE business_id = {mark} AND erased_at IS NULL AND email <> ''"
        " AND marketing_permission = 'granted' AND NOT EXISTS (SELECT 1 FROM"
        f" marketing_suppression s WHERE s.business_id = {mark}"
        " AND s.email = lower(customer.email))"
    )
    now: Any = dt.datetime.now(dt.UTC)
    if sqlite:
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = driver_connection(url)
    try:
        started = time.perf_counter()
        if sqlite:
            connection.execute("BEGIN IMMEDIATE")
        connection.execute(statement, (campaign_id, now, business_id, business_id))
        connection.commit() if not sqlite else connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        if sqlite:
            connection.execute("DELETE FROM bench_recipient")
        else:
            connection.execute("TRUNCATE bench_recipient")
            connection.commit()
    finally:
        connection.close()
    return elapsed


def product_queue(app: Any, actor: Actor, campaign_id: int) -> float:
    """send_campaign and its commit; seconds."""
    with app.app_context(), Session(app.extensions["db_engine"]) as session:
        started = time.perf_counter()
        services.send_campaign(session, actor=actor, campaign_id=campaign_id)
        session.commit()
        return time.perf_counter() - started


def queueing(app: Any, url: str, actor: Actor, rounds: int) -> tuple[float, float, int]:
    """Alternating rounds; (median bare s, median send_campaign s, the campaign to send)."""
    bare: list[float] = []
    product: list[float] = []
    campaign_id = 0
    for n in range(rounds):
        with app.app_context(), Session(app.extensions["db_engine"]) as session:
            draft = services.create_campaign(
                session,
                actor=actor,
                name=f"Spring tune-up {n}",
                subject=SUBJECT,
                body=BODY,
                segment=services.Segment(),
            )
            session.commit()
            assert draft.id is not None
            campaign_id = draft.id
        for first in ("bare", "product") if n % 2 == 0 else ("product", "bare"):
            if first == "bare":
                bare.append(bare_queue(url, business_id=actor.business_id, campaign_id=campaign_id))
            else:
                product.append(product_queue(app, actor, campaign_id))
        if n < rounds - 1:
            with app.app_context(), Session(app.extensions["db_engine"]) as session:
                services.cancel_campaign(session, actor=actor, campaign_id=campaign_id)
                session.commit()
    return statistics.median(bare), statistics.median(product), campaign_id


# --- Sending ---------------------------------------------------------------------------------


def workers(url: str, port: int, count: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "CAMPAIGN_SENDS_PER_MINUTE": str(10**9),
    }
    command = [sys.executable, "-m", "referral", "worker", "--poll-interval", "0.05"]
    return [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(count)]


def rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return int(found.group(1)) if found else 0


class RssSampler:
    """Each worker's VmRSS every SAMPLE_SECONDS, with the messages arrived by then."""

    def __init__(self, pids: list[int], progress: Any) -> None:
        self.samples: dict[int, list[tuple[int, int]]] = {pid: [] for pid in pids}
        self.progress = progress
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            done = self.progress()
            for pid, samples in self.samples.items():
                samples.append((done, rss_kib(pid)))

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def growth(self, first: int) -> dict[int, tuple[int, int]]:
        """pid -> (peak KiB while at most `first` messages had arrived, peak KiB at the end)."""
        found = {}
        for pid, samples in self.samples.items():
            early = [kib for done, kib in samples if 0 < done <= first and kib]
            if not early:  # few messages: their first tenth came between two samples
                early = [kib for done, kib in samples if done <= first and kib]
            whole = [kib for _, kib in samples if kib]
            if early and whole:
                found[pid] = (max(early), max(whole))
        return found


def sample_message(app: Any, campaign_id: int) -> dict[str, Any]:
    """One customer's message as the worker composes it (the bare loop's model)."""
    with app.app_context(), Session(app.extensions["db_engine"]) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        business = session.get(Business, campaign.business_id)
        customer = session.exec(select(Customer).order_by(Customer.id)).first()  # type: ignore[arg-type]
        assert business is not None and customer is not None
        values = services.merge_values(session, business, customer)
        payload = marketing.compose(
            session,
            business=business,
            customer=customer,
            subject=services.merge(campaign.subject, values),
            text_body=services.merge(campaign.body, values),
            message_id="<sample@referral.localhost>",
        )
        assert payload is not None
        return payload


def bare_send(port: int, payload: dict[str, Any], first: int, count: int) -> float:
    """Similar messages, each built and sent, over one connection per batch as the
    product's (referral.campaigns.jobs.BATCH); seconds."""
    started = time.perf_counter()
    smtp: smtplib.SMTP | None = None
    for i in range(first, first + count):
        message = EmailMessage()
        message["From"] = "Referral <no-reply@referral.localhost>"
        message["To"] = f"c{i}@example.com"
        message["Subject"] = payload["subject"]
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<bare-{i}@referral.localhost>"
        message["Auto-Submitted"] = "auto-generated"
        for name, value in payload["headers"].items():
            message[name] = value
        message.set_content(payload["text"])
        if smtp is None:
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.send_message(message)
        if (i - first + 1) % BATCH == 0:
            smtp.quit()
            smtp = None
    if smtp is not None:
        smtp.quit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="queueing rounds")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-campaigns-")
    url = seed.fresh_database(args.db, pg_url=args.pg_url, work_dir=Path(tmp.name))
    business_id, owner_id = prepare(url, args.customers)
    app = create_app(Config(env={"DATABASE_URL": url, "SECRET_KEY": "bench"}))
    engine = app.extensions["db_engine"]
    with Session(engine, expire_on_commit=False) as session:
        business = session.get(Business, business_id)
        assert business is not None
        actor = Actor(business=business, user_id=owner_id, role="owner")
    n = args.customers
    load_before = os.getloadavg()[0]
    print(f"{n:,} permitted customers on {engine.dialect.name}; load average {load_before:.1f}")

    bare_q, product_q, campaign_id = queueing(app, url, actor, args.rounds)
    print(
        f"queueing (median of {args.rounds}): bare INSERT ... SELECT {bare_q * 1000:.0f} ms, "
        f"send_campaign {product_q * 1000:.0f} ms; ratio {product_q / bare_q:.1f}x the bare time"
    )

    smtp = SmtpCounter()
    payload = sample_message(app, campaign_id)
    half = n // 2
    failed: list[str] = []
    try:
        bare_seconds = bare_send(smtp.port, payload, 0, half)
        smtp.wait_for(half, timeout=60)
        before = smtp.count()
        processes = workers(url, smtp.port, args.workers)
        sampler = RssSampler([p.pid for p in processes], lambda: smtp.count() - before)
        try:
            smtp.wait_for(before + n, timeout=max(300, n / 5))
            time.sleep(1)  # a duplicate would arrive now
            with Session(engine) as session:
                campaign = session.get(Campaign, campaign_id)
                assert campaign is not None
                status = campaign.status
        finally:
            sampler.stop()
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
        sent = smtp.since(before)
        after = smtp.count()
        bare_seconds += bare_send(smtp.port, payload, half, n - half)
        smtp.wait_for(after + n - half, timeout=60)
    finally:
        smtp.stop()

    with Session(engine) as session:
        statuses = dict(
            session.exec(
                select(CampaignRecipient.status, func.count())
                .where(CampaignRecipient.campaign_id == campaign_id)
                .group_by(CampaignRecipient.status)
            ).all()
        )
    ids = Counter(message_id for _, message_id in sent)
    campaign_ids = [i for i in ids if i.startswith(f"<campaign-{campaign_id}-")]
    twice = sum(1 for i in campaign_ids if ids[i] > 1)
    if status != CampaignStatus.SENT or statuses != {"sent": n}:
        failed.append(f"campaign {status}, recipients {statuses}")
    if len(campaign_ids) != n or twice or len(sent) != n:
        failed.append(f"{len(sent)} messages, {len(campaign_ids)} distinct, {twice} more than once")
    print(
        f"arrived: {len(sent):,} messages, {len(campaign_ids):,} distinct, "
        f"{twice} more than once; recipients {statuses}"
    )

    times = [at for at, _ in sent]
    rate = (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 else 0.0
    bare_rate = n / bare_seconds
    print(
        f"sending ({args.workers} workers): {rate:,.0f} messages/s; bare smtplib loop: "
        f"{bare_rate:,.0f}/s; ratio {rate / bare_rate:.0%} (target >= 50%)"
    )
    for pid, (early, peak) in sampler.growth(max(1, n // 10)).items():
        print(
            f"worker {pid} RSS: {early / 1024:.1f} MiB at 10% of the messages, "
            f"{peak / 1024:.1f} MiB peak; growth {(peak - early) / 1024:+.1f} MiB"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    engine.dispose()
    tmp.cleanup()
    if failed:
        print("FAILED: " + "; ".join(failed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
