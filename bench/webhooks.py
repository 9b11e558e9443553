"""Stripe webhooks: intake throughput against a bare Flask app, and the job worker's rate.

    .venv/bin/python bench/webhooks.py                  # PostgreSQL database test_bench2
    .venv/bin/python bench/webhooks.py --db sqlite      # an SQLite file in a temp dir
    .venv/bin/python bench/webhooks.py --quick          # shorter rounds, 5,000 events
    .venv/bin/python bench/webhooks.py --stage worker   # one stage only (intake, worker)
    .venv/bin/python bench/webhooks.py --peer dj-stripe # intake, with dj-stripe 2.11 as a third app

1. Intake. `POST /stripe/webhook` on Referral (verify the signature, store the
   event and its job in one transaction, answer 200) against the same endpoint
   on the bare app (bench/bare_webhook.py: parse the JSON, answer the same
   document), both under gunicorn with 2 sync workers, in alternating rounds.
   Every request carries a distinct `customer.created` event, signed with the
   app's STRIPE_WEBHOOK_SECRET at the start of its round. Target: >= 40% of
   the bare app's requests per second. Afterwards the events stored must equal
   the 200 answers the app's gunicorn logged: nothing lost, nothing twice.
   With `--peer dj-stripe` (bench/peer_djstripe.py) dj-stripe 2.11 takes the
   same kind of events in the same rounds, all three apps get unique
   customer.created events padded to about 6.3 kB, and Referral's rate must be
   >= 10x dj-stripe's; every 200 dj-stripe answered must be an event it
   processed into its Event and Customer. On PostgreSQL each app's CPU per
   request is printed too (its gunicorn workers plus its database's backends,
   from /proc): other work on a shared machine disturbs it less than req/s.
2. Worker. 20,000 stored events (mostly `customer.created`, which the worker
   marks ignored, and 1 in 10 `account.updated` for connected accounts of
   businesses seeded here, which update `connected_account`), then N
   `referral worker --poll-interval 0.05` processes; the rate is events
   applied per second from the first applied to the last. Target: >= 500/s
   with 2 workers. Every job must be done after exactly one attempt, claimed
   once (the workers' logs), and every event applied with `applied_at` set.

The PostgreSQL database (--pg-url) is DROPPED and created again for each
measurement. See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import peer_djstripe, seed  # noqa: E402
from bench.load import Generator, Load, LoadFailed, choose_generator  # noqa: E402
from bench.peer_djstripe import PeerIntake, PeerSetupFailed  # noqa: E402
from bench.run import git_commit, save  # noqa: E402
from bench.seed import SetupFailed  # noqa: E402
from bench.servers import (  # noqa: E402
    GunicornServer,
    ServerFailed,
    WorkerSettings,
    cpu_seconds,
)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench2"
WEBHOOK_PATH = "/stripe/webhook"
# Intake's requests per second as a share of each baseline's (run.py's target
# and sql_target): the bare app (the Stripe commissions issue), and the bare
# app doing the same signature check and statement through psycopg (issue 23).
INTAKE_TARGETS = {"bare": 0.40, "bare-sql": 0.85}
PEER_TARGET = 10.0  # Referral's intake requests per second over dj-stripe's (--peer dj-stripe)
# The app intake is compared with (named in the report).
BASELINES = {
    "bare": "bench.bare_webhook:create_app()",
    "bare-sql": "bench.bare_sql_webhook:create_app()",
}
WORKER_TARGET = 500.0  # events applied per second, 2 workers, PostgreSQL
APPLY_KIND = "stripe.apply_event"


class CheckFailed(RuntimeError):
    """An app did not answer a webhook as it should before any load."""


# --------------------------------------------------------------------------- events


def sign(secret: str, payload: bytes, timestamp: int) -> str:
    """A Stripe-Signature header: t=<unix>,v1=<HMAC-SHA256(secret, "t.payload")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# A customer.created event as Stripe sends it (API version 2024-06-20), about 0.8 kB.
# %-format: event id, created, customer id, created, email, name.
CUSTOMER_EVENT = (
    '{"id": "%s", "object": "event", "api_version": "2024-06-20", "created": %d, '
    '"data": {"object": {"id": "%s", "object": "customer", "address": null, '
    '"balance": 0, "created": %d, "currency": null, "default_source": null, '
    '"delinquent": false, "description": null, "discount": null, "email": "%s", '
    '"invoice_prefix": "B3NCH0001", "invoice_settings": {"custom_fields": null, '
    '"default_payment_method": null, "footer": null, "rendering_options": null}, '
    '"livemode": false, "metadata": {"business_id": "1"}, "name": "%s", '
    '"next_invoice_sequence": 1, "phone": null, "preferred_locales": [], '
    '"shipping": null, "tax_exempt": "none", "test_clock": null}}, '
    '"livemode": false, "pending_webhooks": 1, '
    '"request": {"id": "req_bench", "idempotency_key": "customer-business-1"}, '
    '"type": "customer.created"}'
)


def customer_event(event_id: str, created: int) -> str:
    number = event_id.rsplit("_", 1)[-1]
    return CUSTOMER_EVENT % (
        event_id,
        created,
        f"cus_{number}",
        created,
        f"customer-{number}@bench.example.com",
        f"Customer {number}",
    )


# Stripe allows 50 metadata keys of up to 500 characters on a customer; notes fill the rest.
NOTE = (
    "Annual furnace service due in October; side gate code 4471; prefers text before "
    "arrival; referred by a partner plumber after a water heater replacement; two dogs "
    "in the yard; invoice to the property manager, copy to the owner. "
)
PADDED_EVENT_BYTES = 6_300  # the size of the events the peer comparison used


@functools.cache
def padded_template(size: int) -> str:
    """A customer.created event of about `size` bytes as a %-format string taking
    `event`, `customer` and `created`: the customer carries an address, shipping
    details, invoice fields and CRM metadata, as an account's customers do."""
    address = {
        "city": "Springfield",
        "country": "US",
        "line1": "742 Evergreen Terrace",
        "line2": "Unit 2",
        "postal_code": "62704",
        "state": "IL",
    }
    metadata = {
        "business_id": "1",
        "crm_contact_id": "0034x00001AbCdEfGh",
        "crm_account_id": "0014x00000XyZaBcDe",
        "source": "partner_referral",
        "referral_code": "REF-2026-004417",
        "preferred_contact": "sms",
        "service_area": "springfield-north",
        "first_job_type": "hvac.furnace_repair",
        "lifetime_jobs": "4",
        "marketing_consent": "2026-03-14T16:02:11Z",
    }
    document: dict[str, object] = {
        "id": "EVENT",
        "object": "event",
        "api_version": "2024-06-20",
        "created": "CREATED",
        "data": {
            "object": {
                "id": "CUSTOMER",
                "object": "customer",
                "address": address,
                "balance": 0,
                "created": "CREATED",
                "currency": "usd",
                "default_source": None,
                "delinquent": False,
                "description": "Residential customer, referred by partner",
                "discount": None,
                "email": "EMAIL",
                "invoice_prefix": "B3NCH0001",
                "invoice_settings": {
                    "custom_fields": [
                        {"name": "PO number", "value": "PO-88231"},
                        {"name": "Property", "value": "742 Evergreen Terrace"},
                    ],
                    "default_payment_method": None,
                    "footer": "Thank you for your business.",
                    "rendering_options": None,
                },
                "livemode": False,
                "metadata": metadata,
                "name": "NAME",
                "next_invoice_sequence": 1,
                "phone": "+12175550134",
                "preferred_locales": ["en-US"],
                "shipping": {"address": address, "name": "NAME", "phone": "+12175550134"},
                "tax_exempt": "none",
                "test_clock": None,
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_bench", "idempotency_key": "customer-business-1"},
        "type": "customer.created",
    }
    example = {"event": "evt_app1a2b3c_10000", "customer": "cus_app1a2b3c10000", "created": 0}
    note = 0
    while True:
        template = (
            json.dumps(document)
            .replace('"EVENT"', '"%(event)s"')
            .replace('"CUSTOMER"', '"%(customer)s"')
            .replace('"CREATED"', "%(created)d")
            .replace('"EMAIL"', '"%(customer)s@bench.example.com"')
            .replace('"NAME"', '"Customer %(customer)s"')
        )
        room = size - len(template % {**example, "created": int(time.time())})
        overhead = len(', "note_00": ""')
        if room <= overhead:
            return template
        note += 1
        metadata[f"note_{note:02d}"] = (NOTE * 3)[: min(500, room - overhead)]


def padded_customer_event(event_id: str, created: int, size: int) -> str:
    """A unique customer.created event of about `size` bytes: its customer's id
    comes from the event's, so each event creates a customer of its own."""
    customer = "cus_" + event_id.removeprefix("evt_").replace("_", "")
    return padded_template(size) % {"event": event_id, "customer": customer, "created": created}


def account_event(event_id: str, account_id: str, created: int, *, ready: bool) -> dict:
    """An account.updated event for a connected account (a Connect event: `account` set)."""
    return {
        "id": event_id,
        "object": "event",
        "account": account_id,
        "api_version": "2024-06-20",
        "created": created,
        "data": {
            "object": {
                "id": account_id,
                "object": "account",
                "type": "express",
                "country": "US",
                "default_currency": "usd",
                "details_submitted": True,
                "charges_enabled": ready,
                "payouts_enabled": ready,
                "capabilities": {"transfers": "active" if ready else "inactive"},
                "requirements": {
                    "currently_due": [] if ready else ["external_account"],
                    "eventually_due": [],
                    "past_due": [],
                    "disabled_reason": None if ready else "requirements.past_due",
                },
                "metadata": {},
            },
            "previous_attributes": {"charges_enabled": not ready},
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "account.updated",
    }


LUA = """-- Generated by bench/webhooks.py: POST a different signed Stripe event each request.
-- Each line of the data file is "<Stripe-Signature>\\t<body>"; thread k of n takes
-- lines k, k+n, k+2n...; the harness makes more lines than a round sends.
local data_file = "%(data_file)s"
local requests = {}
local sent = 0
local thread_count = 0

function setup(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local stride = tonumber(args[1]) or 1
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  local i = 0
  for line in io.lines(data_file) do
    if i %% stride == offset then
      local tab = line:find("\\t", 1, true)
      headers["Stripe-Signature"] = line:sub(1, tab - 1)
      requests[#requests + 1] = wrk.format("POST", nil, headers, line:sub(tab + 1))
    end
    i = i + 1
  end
end

function request()
  sent = sent + 1
  -- Past the end it repeats (a duplicate the app answers without storing): the
  -- harness sizes the file so that a round never gets there, and checks it did not.
  return requests[((sent - 1) %% #requests) + 1]
end
"""


@dataclasses.dataclass
class SignedEvents:
    """A `bench.load.Stream` of distinct customer.created events, signed when sent.

    For wrk, `wrk_script` writes `per_round` events numbered from `first`,
    signed now, to a data file the Lua script reads: a new file each round,
    so every signature is fresh (the app accepts 300 s either side of now).
    """

    secret: str
    tag: str  # makes event ids unique to a run
    work_dir: Path
    per_round: int
    size: int = 0  # bytes of a padded event (padded_customer_event); 0: CUSTOMER_EVENT
    method: str = "POST"
    next_number: int = 0

    def event_id(self, number: int) -> str:
        return f"evt_{self.tag}_{number}"

    def body(self, number: int, created: int) -> bytes:
        if self.size:
            return padded_customer_event(self.event_id(number), created, self.size).encode()
        return customer_event(self.event_id(number), created).encode()

    def request(self, number: int) -> tuple[dict[str, str], bytes]:
        now = int(time.time())
        body = self.body(number, now)
        return {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(self.secret, body, now),
        }, body

    def wrk_script(self, first: int) -> str:
        now = int(time.time())
        data_file = self.work_dir / f"events-{self.tag}.txt"
        key = self.secret.encode()
        prefix = f"{now}.".encode()
        with data_file.open("wb") as out:
            for number in range(first, first + self.per_round):
                body = self.body(number, now)
                mac = hmac.new(key, prefix + body, hashlib.sha256).hexdigest()
                out.write(b"t=%d,v1=%s\t%s\n" % (now, mac.encode(), body))
        return LUA % {"data_file": data_file}


# --------------------------------------------------------------------------- intake


class LoggedServer(GunicornServer):
    """A GunicornServer that writes each response's status to an access log, so the
    harness can count the 200 answers the server gave (wrk cannot count the
    requests in flight when it stops, which the server still answers)."""

    def __init__(self, *args: object, access_log: Path, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.access_log = access_log

    def command(self) -> list[str]:
        args = super().command()
        extra = ["--access-logfile", str(self.access_log), "--access-logformat", "%(s)s"]
        return [*args[:-1], *extra, args[-1]]

    def statuses(self) -> Counter[str]:
        try:
            return Counter(self.access_log.read_text().split())
        except FileNotFoundError:
            return Counter()


@dataclasses.dataclass
class IntakeResult:
    database: str
    baseline: str = "bare"
    app_rounds: list[Load] = dataclasses.field(default_factory=list)
    bare_rounds: list[Load] = dataclasses.field(default_factory=list)
    answered_200: int = 0  # by the app's gunicorn, during the measured load
    other_statuses: dict[str, int] = dataclasses.field(default_factory=dict)
    stored: int = 0  # events the database gained during the measured load
    wrk_200: int = 0  # 2xx answers wrk read from the app
    event_bytes: int = 0  # size of one event's body
    loadavg_rounds: tuple[float, float] = (0.0, 0.0)  # 1-minute, before and after the rounds
    peer: PeerIntake | None = None  # --peer dj-stripe
    # CPU seconds of each app's workers and its database's PostgreSQL backends during
    # the measured rounds: a figure other work on the machine disturbs less than req/s.
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)

    def cpu_ms_per_request(self, name: str, rounds: list[Load]) -> float | None:
        requests = sum(r.requests for r in rounds)
        return 1000 * self.cpu[name] / requests if name in self.cpu and requests else None

    @staticmethod
    def rps(rounds: list[Load]) -> float:
        seconds = sum(r.seconds for r in rounds)
        return sum(r.requests for r in rounds) / seconds if seconds else 0.0

    @property
    def ratio(self) -> float:
        bare = self.rps(self.bare_rounds)
        return self.rps(self.app_rounds) / bare if bare else 0.0

    @property
    def round_ratios(self) -> list[float]:
        return [
            a.requests_per_second / b.requests_per_second
            for a, b in zip(self.app_rounds, self.bare_rounds, strict=True)
            if b.requests_per_second
        ]

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.app_rounds + self.bare_rounds)

    @property
    def consistent(self) -> bool:
        return self.stored == self.answered_200 and not self.other_statuses

    @property
    def target(self) -> float:
        return INTAKE_TARGETS[self.baseline]

    @property
    def passed(self) -> bool:
        if self.errors or not self.consistent:
            return False
        return self.ratio >= self.target

    @property
    def peer_multiple(self) -> float:
        """Referral's requests per second over the peer's."""
        peer = self.rps(self.peer.rounds) if self.peer else 0.0
        return self.rps(self.app_rounds) / peer if peer else 0.0

    @property
    def peer_round_multiples(self) -> list[float]:
        if self.peer is None:
            return []
        return [
            a.requests_per_second / p.requests_per_second
            for a, p in zip(self.app_rounds, self.peer.rounds, strict=True)
            if p.requests_per_second
        ]

    @property
    def peer_passed(self) -> bool | None:
        """None without a peer; a peer's error or unprocessed 200 answer fails the run."""
        if self.peer is None:
            return None
        if self.errors or sum(r.errors for r in self.peer.rounds) or not self.peer.consistent:
            return False
        return self.peer_multiple >= PEER_TARGET

    def as_dict(self) -> dict[str, object]:
        rounds = {"referral": self.app_rounds, self.baseline: self.bare_rounds}
        if self.peer is not None:
            rounds["dj-stripe"] = self.peer.rounds
        bare_rps = self.rps(self.bare_rounds)
        return {
            "database": self.database,
            "event_bytes": self.event_bytes,
            "loadavg_rounds": self.loadavg_rounds,
            "apps": {
                name: {
                    "requests_per_second": round(self.rps(r), 1),
                    "ratio_to_bare": round(self.rps(r) / bare_rps, 4) if bare_rps else None,
                    "p50_ms": statistics.median(x.p50_ms for x in r) if r else None,
                    "p99_ms": statistics.median(x.p99_ms for x in r) if r else None,
                    "rounds": [dataclasses.asdict(x) for x in r],
                }
                for name, r in rounds.items()
            },
            "cpu_ms_per_request": {
                name: self.cpu_ms_per_request(key, r)
                for (name, r), key in zip(rounds.items(), ("app", "bare", "peer"), strict=False)
            },
            "ratio": round(self.ratio, 4),
            "round_ratios": [round(x, 4) for x in self.round_ratios],
            "target": self.target,
            "passed": self.passed,
            "stored": self.stored,
            "answered_200": self.answered_200,
            "other_statuses": self.other_statuses,
            "peer": None
            if self.peer is None
            else {
                **{k: v for k, v in dataclasses.asdict(self.peer).items() if k != "rounds"},
                "consistent": self.peer.consistent,
                "referral_multiple": round(self.peer_multiple, 3),
                "round_multiples": [round(x, 3) for x in self.peer_round_multiples],
                "target": PEER_TARGET,
                "passed": self.peer_passed,
            },
        }


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    try:
        with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=10) as r:
            return r.status, json.loads(r.read())
    except HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def check_webhook(servers: dict[str, GunicornServer], streams: dict[str, SignedEvents]) -> None:
    """One event of its own stream to each app (200, stored); to Referral also
    the same event again (200, a duplicate) and a forged signature (400). Uses
    numbers below 0."""
    for name, server in servers.items():
        headers, body = streams[name].request(-1)
        status, document = post(server.url + WEBHOOK_PATH, body, headers)
        if status != 200 or document != {"received": True, "duplicate": False}:
            raise CheckFailed(f"{name}: a new event got {status} {document}")
    stream = streams["app"]
    headers, body = stream.request(-1)
    url = servers["app"].url + WEBHOOK_PATH
    status, document = post(url, body, headers)
    if status != 200 or document.get("duplicate") is not True:
        raise CheckFailed(f"app: the same event again got {status} {document}")
    forged = {**headers, "Stripe-Signature": headers["Stripe-Signature"][:-4] + "0000"}
    status, document = post(url, stream.request(-2)[1], forged)
    if status != 400:
        raise CheckFailed(f"app: a forged signature got {status} {document}")


def count_rows(database_url: str, table: str, where: str = "") -> int:
    from referral.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            statement = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
            return int(connection.execute(text(statement)).scalar_one())
    finally:
        engine.dispose()


def backends(server_url: str, database: str | None) -> set[int]:
    """Process ids of the PostgreSQL client backends connected to `database` (the
    server runs on this machine), but this harness's own."""
    if database is None:
        return set()
    with seed.server_connection(server_url) as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :database "
                "AND backend_type = 'client backend' AND pid != pg_backend_pid()"
            ),
            {"database": database},
        )
        return {pid for (pid,) in rows}


def start_peer(
    args: argparse.Namespace, settings: WorkerSettings, work_dir: Path, clock: float
) -> tuple[LoggedServer, peer_djstripe.PeerProject]:
    """dj-stripe's venv (made or reused), its project and database, and its server."""
    versions = peer_djstripe.ensure_venv()
    progress(f"intake: peer venv {peer_djstripe.VENV} holds {versions}", since=clock)
    project = peer_djstripe.make_project(
        work_dir / "djstripe-project", args.peer_pg_url, versions, work_dir
    )
    progress("intake: dj-stripe project made and migrated", since=clock)
    server = LoggedServer(
        "dj-stripe",
        "wsgi:application",
        env=project.env,
        settings=settings,
        work_dir=work_dir,
        access_log=work_dir / "access-dj-stripe.log",
        gunicorn=project.gunicorn,
        cwd=project.directory,
    )
    return server, project


def check_peer(server: GunicornServer, stream: SignedEvents, path: str, peer: PeerIntake) -> None:
    """Two new events (the first also stores the platform account) answer 200 and are
    processed; the second's statements and API calls are recorded; a forged
    signature answers 400. Uses numbers below 0."""
    url = server.url + path
    for number in (-1, -2):
        headers, body = stream.request(number)
        try:
            with urlopen(
                Request(url, data=body, headers={**headers, "X-Bench-Count": "1"}), timeout=10
            ) as response:
                peer.statements = int(response.headers["X-Bench-Statements"])
                peer.stripe_calls = int(response.headers["X-Bench-Stripe-Calls"])
        except HTTPError as error:
            raise CheckFailed(
                f"dj-stripe: a new event got {error.code}:\n{server.log_tail()}"
            ) from error
    headers, body = stream.request(-3)
    forged = {**headers, "Stripe-Signature": headers["Stripe-Signature"][:-4] + "0000"}
    try:
        urlopen(Request(url, data=body, headers=forged), timeout=10).close()
        raise CheckFailed("dj-stripe: a forged signature was accepted")
    except HTTPError as error:
        if error.code != 400:
            raise CheckFailed(f"dj-stripe: a forged signature got {error.code}") from error


def measure_intake(
    kind: str, args: argparse.Namespace, generator: Generator, work_dir: Path, clock: float
) -> IntakeResult:
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = seed.fresh_database(kind, pg_url=args.pg_url, work_dir=work_dir)
    secret = "whsec_bench_" + secrets.token_hex(16)
    env = {**seed.referral_env(database_url), "STRIPE_WEBHOOK_SECRET": secret}
    seed.create_schema(env, how="migrations")
    progress(f"intake: {kind} database migrated", since=clock)
    settings = WorkerSettings(args.workers, "sync", 1)
    seconds = args.duration / args.rounds
    if generator.whole_seconds:
        seconds = max(1, round(seconds))
    per_round = max(20_000, int(args.max_rps * seconds))
    streams = {
        name: SignedEvents(
            secret, f"{name}{secrets.token_hex(3)}", work_dir, per_round, args.event_bytes
        )
        for name in ("app", "bare")
    }
    app = LoggedServer(
        "referral",
        "referral:create_app()",
        env=env,
        settings=settings,
        work_dir=work_dir,
        access_log=work_dir / f"access-{kind}.log",
    )
    bare = GunicornServer(
        args.baseline,
        BASELINES[args.baseline],
        env={"BENCH_DATABASE_URL": database_url, "STRIPE_WEBHOOK_SECRET": secret}
        if args.baseline == "bare-sql"
        else {},
        settings=settings,
        work_dir=work_dir,
    )
    # Referral's events only: the bare-sql baseline stores its own in the same table.
    apps_events = f"stripe_event_id LIKE 'evt_{streams['app'].tag}%'"
    servers: dict[str, GunicornServer] = {"app": app, "bare": bare}
    paths = {"app": WEBHOOK_PATH, "bare": WEBHOOK_PATH}
    # The database whose backends work for each app (the bare app has none).
    databases: dict[str, str | None] = {}
    if kind == "postgresql":
        databases["app"] = make_url(database_url).database
        if args.baseline == "bare-sql":
            databases["bare"] = databases["app"]
    result = IntakeResult(kind, args.baseline, event_bytes=len(streams["app"].body(0, 0)))
    peer_project: peer_djstripe.PeerProject | None = None
    try:
        if args.peer == "dj-stripe":
            servers["peer"], peer_project = start_peer(args, settings, work_dir, clock)
            paths["peer"] = peer_project.webhook_path
            databases["peer"] = make_url(peer_project.database_url).database
            streams["peer"] = SignedEvents(
                peer_project.secret,
                f"peer{secrets.token_hex(3)}",
                work_dir,
                per_round,
                args.event_bytes,
            )
            result.peer = PeerIntake(peer_project.versions)
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready()
        progress(f"intake: {len(servers)} apps up, {settings.describe()} each", since=clock)
        check_webhook({n: servers[n] for n in ("app", "bare")}, streams)
        if result.peer is not None:
            check_peer(servers["peer"], streams["peer"], paths["peer"], result.peer)

        def run(name: str, duration: float, *, measured: bool = True) -> Load:
            stream = streams[name]
            first = stream.next_number
            database = databases.get(name)
            processes = set(servers[name].worker_pids()) | backends(args.pg_url, database)
            cpu_before = {pid: cpu_seconds(pid) for pid in processes}
            load = generator.run(
                servers[name].url + paths[name], {}, duration, args.connections, stream=stream
            )
            # Backends that came up during the round count from zero.
            processes |= backends(args.pg_url, database)
            used = sum(cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in processes)
            if measured:
                result.cpu[name] = result.cpu.get(name, 0.0) + used
            sent = load.requests + load.errors + args.connections
            if generator.name == "wrk" and sent > per_round // args.wrk_threads:
                raise LoadFailed(
                    f"the {name} app took {load.requests} requests in a round, near the "
                    f"{per_round} signed events made for it: raise --max-rps"
                )
            assert stream.next_number > first
            return load

        for name in servers:
            if args.warmup > 0:
                run(name, args.warmup, measured=False)
        time.sleep(0.5)  # let the last warm-up answers reach the log
        statuses_before = app.statuses()
        stored_before = count_rows(database_url, "stripe_event", apps_events)
        peer_before: dict[str, int] = {}
        if peer_project is not None:
            peer_before = peer_djstripe.counts(peer_project.database_url, streams["peer"].tag)
            peer_statuses_before = servers["peer"].statuses()  # type: ignore[attr-defined]
        rounds = {"app": result.app_rounds, "bare": result.bare_rounds}
        if result.peer is not None:
            rounds["peer"] = result.peer.rounds
        names = list(servers)
        load_before = os.getloadavg()[0]
        for round_number in range(args.rounds):
            # Each app goes first in turn: app, bare(, peer); then bare, (peer,) app...
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                load = run(name, seconds)
                rounds[name].append(load)
                progress(f"intake: {name} {load.requests_per_second:,.0f} req/s", since=clock)
        result.loadavg_rounds = (load_before, os.getloadavg()[0])
        time.sleep(0.5)
        statuses = app.statuses() - statuses_before
        result.answered_200 = statuses.pop("200", 0)
        result.other_statuses = dict(statuses)
        result.stored = count_rows(database_url, "stripe_event", apps_events) - stored_before
        result.wrk_200 = sum(r.requests - r.errors for r in result.app_rounds)
        jobs = count_rows(database_url, "job")
        events = count_rows(database_url, "stripe_event")
        if jobs < events:
            raise LoadFailed(f"{events} events stored but only {jobs} jobs")
        if peer_project is not None and result.peer is not None:
            peer = result.peer
            peer_server = servers["peer"]
            assert isinstance(peer_server, LoggedServer)
            statuses = peer_server.statuses() - peer_statuses_before
            peer.answered_200 = statuses.pop("200", 0)
            peer.other_statuses = dict(statuses)
            after = peer_djstripe.counts(peer_project.database_url, streams["peer"].tag)
            peer.processed = after["processed"] - peer_before["processed"]
            peer.events = after["events"] - peer_before["events"]
            peer.customers = after["customers"] - peer_before["customers"]
            peer.failed = after["failed"] - peer_before["failed"]
            peer.unanswered_calls = peer_djstripe.unanswered_calls(peer_server.log_path)
    finally:
        for server in servers.values():
            server.stop()
    return result


# --------------------------------------------------------------------------- worker


@dataclasses.dataclass
class WorkerResult:
    database: str
    workers: int
    events: int
    account_events: int
    seconds: float = 0.0  # first applied to last applied
    from_start_seconds: float = 0.0  # workers launched to last applied
    counted_from: int = 0  # events already applied at the first observation
    problems: list[str] = dataclasses.field(default_factory=list)
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)
    accounts_updated: int = 0

    @property
    def rate(self) -> float:
        return (self.events - self.counted_from) / self.seconds if self.seconds else 0.0

    @property
    def target(self) -> float | None:
        """The target is for 2 workers on PostgreSQL; other figures are for comparison."""
        return WORKER_TARGET if self.workers >= 2 and self.database == "postgresql" else None

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None if not self.problems else False
        return not self.problems and self.rate >= self.target


ACCOUNTS = 200
ACCOUNT_EVERY = 10  # 1 event in 10 is account.updated


def seed_events(env: dict[str, str], *, events: int, via: str) -> int:
    """`events` stored Stripe events with their jobs; returns how many are account.updated.

    `via=receive` signs each and stores it through `referral.payments.webhooks.receive`
    (the endpoint's own code, committing every 500); `via=bulk` inserts the same
    rows (StripeEvent, Job `stripe.apply_event` with {"event_id"}, event.job_id)
    in a few statements.
    """
    from referral import create_app
    from referral.businesses.models import Business, Trade
    from referral.config import Config
    from referral.db import transaction, utcnow
    from referral.jobs.models import Job
    from referral.payments import webhooks
    from referral.payments.models import ConnectedAccount, StripeEvent

    app = create_app(Config({**os.environ, **env}))
    tag = secrets.token_hex(3)
    base = int(time.time()) - events  # one event a second, oldest first
    now = utcnow()
    bodies: list[bytes] = []
    account_events = 0
    for number in range(events):
        event_id = f"evt_{tag}_{number}"
        if number % ACCOUNT_EVERY == ACCOUNT_EVERY - 1:
            account = f"acct_bench{(number // ACCOUNT_EVERY) % ACCOUNTS:04d}"
            ready = (number // (ACCOUNT_EVERY * ACCOUNTS)) % 2 == 0
            body = json.dumps(account_event(event_id, account, base + number, ready=ready))
            account_events += 1
        else:
            body = customer_event(event_id, base + number)
        bodies.append(body.encode())
    with app.app_context():
        with transaction() as session:
            trade_id = session.execute(select(Trade.id).where(Trade.slug == "hvac")).scalar_one()
            business_ids = (
                session.execute(
                    insert(Business).returning(Business.id, sort_by_parameter_order=True),
                    [
                        {
                            "name": f"Bench Connect {n}",
                            "trade_id": trade_id,
                            "zip_code": "78701",
                            "latitude": 30.27,
                            "longitude": -97.74,
                            "radius_miles": 25,
                            "created_at": now,
                        }
                        for n in range(ACCOUNTS)
                    ],
                )
                .scalars()
                .all()
            )
            session.execute(
                insert(ConnectedAccount),
                [
                    {
                        "business_id": business_id,
                        "stripe_account_id": f"acct_bench{n:04d}",
                        "details_submitted": True,
                        "charges_enabled": False,
                        "payouts_enabled": False,
                        "requirements_due": ["external_account"],
                        "disabled_reason": "requirements.past_due",
                        "created_at": now,
                    }
                    for n, business_id in enumerate(business_ids)
                ],
            )
        if via == "receive":
            secret = app.config["STRIPE_WEBHOOK_SECRET"]
            for start in range(0, events, 500):
                with transaction() as session:
                    for body in bodies[start : start + 500]:
                        stamp = int(time.time())
                        webhooks.receive(session, body, sign(secret, body, stamp))
        else:
            # As received: one after another (1 ms apart here), so jobs' run_at differ.
            stamps = [now - dt.timedelta(milliseconds=events - n) for n in range(events)]
            with transaction() as session:
                rows = []
                for body, stamp in zip(bodies, stamps, strict=True):
                    data = json.loads(body)
                    obj = data["data"]["object"]
                    rows.append(
                        {
                            "stripe_event_id": data["id"],
                            "type": data["type"],
                            "account": data.get("account"),
                            "object_id": obj["id"],
                            "event_created": dt.datetime.fromtimestamp(data["created"], dt.UTC),
                            "payload": data,
                            "status": "received",
                            "note": "",
                            "created_at": stamp,
                        }
                    )
                event_ids = (
                    session.execute(
                        insert(StripeEvent).returning(StripeEvent.id, sort_by_parameter_order=True),
                        rows,
                    )
                    .scalars()
                    .all()
                )
                job_ids = (
                    session.execute(
                        insert(Job).returning(Job.id, sort_by_parameter_order=True),
                        [
                            {
                                "kind": APPLY_KIND,
                                "payload": {"event_id": event_id},
                                "status": "queued",
                                "attempts": 0,
                                "max_attempts": 8,
                                "run_at": stamp,
                                "last_error": "",
                                "created_at": stamp,
                            }
                            for event_id, stamp in zip(event_ids, stamps, strict=True)
                        ],
                    )
                    .scalars()
                    .all()
                )
                session.execute(
                    update(StripeEvent),
                    [
                        {"id": event_id, "job_id": job_id}
                        for event_id, job_id in zip(event_ids, job_ids, strict=True)
                    ],
                )
        app.extensions["db_engine"].dispose()
    return account_events


def applied_count(connection: object) -> int:
    return int(
        connection.execute(  # type: ignore[attr-defined]
            text("SELECT count(*) FROM stripe_event WHERE status != 'received'")
        ).scalar_one()
    )


def run_workers(
    env: dict[str, str],
    *,
    workers: int,
    events: int,
    work_dir: Path,
    timeout: float,
    pythonpath: str | None = None,
) -> tuple[float, float, int, list[Path]]:
    """Start `workers` worker processes, wait until every event is applied, stop them.
    Returns (first-to-last seconds, launch-to-last seconds, applied at first sight, logs)."""
    from referral.db import make_engine

    engine = make_engine(env["DATABASE_URL"])
    logs = [work_dir / f"worker-{workers}-{n}.log" for n in range(workers)]
    processes: list[subprocess.Popen[bytes]] = []
    # --worker-pythonpath: run another checkout's `referral` package (an A/B of a change).
    worker_path = {"PYTHONPATH": pythonpath} if pythonpath else {}
    try:
        launched = time.monotonic()
        for log_path in logs:
            with log_path.open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [str(seed.REFERRAL_CLI), "worker", "--poll-interval", "0.05"],
                        cwd=ROOT,
                        env={**os.environ, **env, **worker_path},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        first_seen: float | None = None
        counted_from = 0
        with engine.connect() as connection:
            while True:
                done = applied_count(connection)
                connection.rollback()
                moment = time.monotonic()
                if done and first_seen is None:
                    first_seen, counted_from = moment, done
                if done >= events:
                    break
                if moment - launched > timeout:
                    raise LoadFailed(
                        f"{workers} worker(s): {done} of {events} applied after {timeout:.0f} s"
                    )
                for process in processes:
                    if process.poll() is not None:
                        raise LoadFailed(f"a worker exited ({process.returncode}); see {logs}")
                time.sleep(0.05)
        assert first_seen is not None
        return moment - first_seen, moment - launched, counted_from, logs
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        engine.dispose()


CLAIM_LINE = re.compile(r"claimed job (\d+) \(([\w.]+)\), attempt (\d+)")


def verify_applied(database_url: str, logs: list[Path], result: WorkerResult) -> None:
    """Each event applied exactly once: one done job per event after one attempt,
    claimed once across all workers' logs, applied_at set, none left received."""
    from referral.db import make_engine

    engine = make_engine(database_url)
    problems = result.problems
    try:
        with engine.connect() as c:
            result.outcomes = {
                f"{kind} {status}": n
                for kind, status, n in c.execute(
                    text(
                        "SELECT type, status, count(*) FROM stripe_event "
                        "GROUP BY type, status ORDER BY 1, 2"
                    )
                )
            }
            checks = {
                "events not applied": "SELECT count(*) FROM stripe_event WHERE status = 'received'",
                "events applied without applied_at": (
                    "SELECT count(*) FROM stripe_event "
                    "WHERE status != 'received' AND applied_at IS NULL"
                ),
                "events whose job is not done after one attempt": (
                    "SELECT count(*) FROM stripe_event e LEFT JOIN job j ON j.id = e.job_id "
                    "WHERE j.id IS NULL OR j.status != 'done' OR j.attempts != 1"
                ),
                "apply jobs not done after exactly one attempt": (
                    f"SELECT count(*) FROM job WHERE kind = '{APPLY_KIND}' "
                    "AND (status != 'done' OR attempts != 1)"
                ),
                "events applied after their job finished": (
                    "SELECT count(*) FROM stripe_event e JOIN job j ON j.id = e.job_id "
                    "WHERE e.applied_at > j.finished_at"
                ),
            }
            for label, query in checks.items():
                n = int(c.execute(text(query)).scalar_one())
                if n:
                    problems.append(f"{n} {label}")
            jobs = int(
                c.execute(
                    text(f"SELECT count(*) FROM job WHERE kind = '{APPLY_KIND}'")
                ).scalar_one()
            )
            if jobs != result.events:
                problems.append(f"{jobs} apply jobs for {result.events} events")
            payload_ids = Counter(
                json.loads(p)["event_id"] if isinstance(p, str) else p["event_id"]
                for (p,) in c.execute(text(f"SELECT payload FROM job WHERE kind = '{APPLY_KIND}'"))
            )
            twice = sum(1 for n in payload_ids.values() if n > 1)
            if twice:
                problems.append(f"{twice} events with more than one apply job")
            result.accounts_updated = int(
                c.execute(
                    text("SELECT count(*) FROM connected_account WHERE state_as_of IS NOT NULL")
                ).scalar_one()
            )
    finally:
        engine.dispose()
    claims: Counter[int] = Counter()
    for log_path in logs:
        for match in CLAIM_LINE.finditer(log_path.read_text(errors="replace")):
            if match.group(2) == APPLY_KIND:
                claims[int(match.group(1))] += 1
    if sum(claims.values()) != result.events or len(claims) != result.events:
        problems.append(
            f"workers' logs: {sum(claims.values())} claims of {len(claims)} distinct apply "
            f"jobs for {result.events} events"
        )


def measure_worker(
    kind: str, workers: int, args: argparse.Namespace, work_dir: Path, clock: float
) -> WorkerResult:
    work_dir = work_dir / f"worker-{workers}"
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = seed.fresh_database(kind, pg_url=args.pg_url, work_dir=work_dir)
    env = {
        **seed.referral_env(database_url),
        "STRIPE_WEBHOOK_SECRET": "whsec_bench_" + secrets.token_hex(16),
    }
    seed.create_schema(env, how="migrations")
    started = time.monotonic()
    account_events = seed_events(env, events=args.events, via=args.seed)
    progress(
        f"worker: {args.events} events stored via {args.seed} in "
        f"{time.monotonic() - started:.1f} s ({account_events} account.updated)",
        since=clock,
    )
    result = WorkerResult(kind, workers, args.events, account_events)
    seconds, from_start, counted_from, logs = run_workers(
        env,
        workers=workers,
        events=args.events,
        work_dir=work_dir,
        timeout=args.worker_timeout,
        pythonpath=args.worker_pythonpath,
    )
    result.seconds, result.from_start_seconds, result.counted_from = (
        seconds,
        from_start,
        counted_from,
    )
    progress(
        f"worker: {workers} worker(s) applied {args.events} events: {result.rate:,.0f}/s",
        since=clock,
    )
    verify_applied(database_url, logs, result)
    return result


# --------------------------------------------------------------------------- report


def verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "-"}[passed]


def spread(values: list[float], form: str) -> str:
    return f"{min(values):{form}}-{max(values):{form}}" if values else "-"


def print_intake(result: IntakeResult, generator: Generator, args: argparse.Namespace) -> None:
    bare_rps = result.rps(result.bare_rounds)
    print()
    print(
        f"Webhook intake, POST {WEBHOOK_PATH}, {result.database}: {generator.description}, "
        f"{args.connections} connections, {args.workers} sync workers, {args.rounds} rounds, "
        f"events of {result.event_bytes:,} bytes; load average {result.loadavg_rounds[0]:.2f} "
        f"before the rounds, {result.loadavg_rounds[1]:.2f} after"
    )
    print(
        f"  {'':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs bare':>9}"
        f"{'CPU ms/req':>12}"
    )
    apps = [("referral", "app", result.app_rounds), (result.baseline, "bare", result.bare_rounds)]
    if result.peer is not None:
        apps.append(("dj-stripe", "peer", result.peer.rounds))
    for name, key, rounds in apps:
        rps = result.rps(rounds)
        p50 = statistics.median(r.p50_ms for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        errors = sum(r.errors for r in rounds)
        ratio = f"{rps / bare_rps:.1%}" if bare_rps else "-"
        cpu = result.cpu_ms_per_request(key, rounds)
        cpu_ms = f"{cpu:.2f}" if cpu is not None else "-"
        print(f"  {name:<11}{rps:>9,.0f}{p50:>9.1f}{p99:>9.1f}{errors:>8}{ratio:>9}{cpu_ms:>12}")
    print(
        f"  ratio {result.ratio:.0%} (per round {spread(result.round_ratios, '.0%')}), "
        f"target >= {result.target:.0%}: {verdict(result.passed)}"
    )
    others = f", other statuses {result.other_statuses}" if result.other_statuses else ""
    print(
        f"  events stored {result.stored:,}; 200 answers logged by the app's gunicorn "
        f"{result.answered_200:,} (read by the load generator {result.wrk_200:,}; the rest were in "
        f"flight when it stopped){others}: {'equal' if result.consistent else 'NOT EQUAL'}"
    )
    if result.peer is not None:
        print_peer(result)


def print_peer(result: IntakeResult) -> None:
    peer = result.peer
    assert peer is not None
    versions = ", ".join(f"{name} {version}" for name, version in peer.versions.items())
    print(
        f"  dj-stripe ({versions}): {peer.statements} SQL statements and "
        f"{peer.stripe_calls} Stripe API call(s), answered in process, per new event"
    )
    referral_cpu = result.cpu_ms_per_request("app", result.app_rounds)
    peer_cpu = result.cpu_ms_per_request("peer", peer.rounds)
    if referral_cpu and peer_cpu:
        print(
            f"  CPU per request (gunicorn workers plus their PostgreSQL backends): dj-stripe "
            f"{peer_cpu / referral_cpu:.1f}x Referral's (no target: other work disturbs it less)"
        )
    print(
        f"  Referral / dj-stripe: {result.peer_multiple:.1f}x (per round "
        f"{spread(result.peer_round_multiples, '.1f')}), target >= {PEER_TARGET:.0f}x: "
        f"{verdict(result.peer_passed)}"
    )
    others = f", other statuses {peer.other_statuses}" if peer.other_statuses else ""
    problems = f", {peer.failed} triggers failed" if peer.failed else ""
    if peer.unanswered_calls:
        problems += f", {peer.unanswered_calls} API calls the stand-in did not answer"
    print(
        f"  dj-stripe events processed {peer.processed:,} (Event rows {peer.events:,}, "
        f"Customer rows {peer.customers:,}); 200 answers logged by its gunicorn "
        f"{peer.answered_200:,}{others}{problems}: "
        f"{'equal' if peer.consistent else 'NOT EQUAL'}"
    )


def print_worker(results: list[WorkerResult]) -> None:
    print()
    print(
        "Worker: events applied per second (first applied to last), PostgreSQL target for 2 workers"
    )
    for r in results:
        target = f">= {r.target:,.0f}/s" if r.target else "(no target)"
        print(
            f"  {r.database:<11}{r.workers} worker(s): {r.events:,} events "
            f"({r.account_events:,} account.updated) in {r.seconds:.1f} s = {r.rate:>6,.0f}/s "
            f"[{r.events / r.from_start_seconds:,.0f}/s from launch] {target} {verdict(r.passed)}"
        )
        print(f"      outcomes: {r.outcomes}; connected accounts updated: {r.accounts_updated}")
        for problem in r.problems:
            print(f"      PROBLEM: {problem}")
        if not r.problems:
            print("      each event applied once: one done job per event, 1 attempt, claimed once")


def progress(message: str, *, since: float) -> None:
    print(f"[{time.monotonic() - since:6.1f} s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="DROPPED and created again (default: %(default)s)"
    )
    parser.add_argument("--stage", choices=["all", "intake", "worker"], default="all")
    parser.add_argument("--quick", action="store_true", help="5 s of load, 5,000 events")
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per app")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per app")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--max-rps",
        type=int,
        default=10_000,
        help="signed events made per app per second of a round",
    )
    parser.add_argument("--events", type=int, default=20_000, help="stored events for the worker")
    parser.add_argument(
        "--worker-counts", default="1,2", help="worker processes to measure, in turn (default 1,2)"
    )
    parser.add_argument(
        "--seed",
        choices=["bulk", "receive"],
        default="bulk",
        help="store the worker's events in bulk (same rows) or through webhooks.receive",
    )
    parser.add_argument("--worker-timeout", type=float, default=600)
    parser.add_argument(
        "--worker-pythonpath",
        help="PYTHONPATH for the workers: measure another copy of the `referral` package",
    )
    parser.add_argument(
        "--baseline",
        choices=list(BASELINES),
        default="bare",
        help="intake against bare: no database (target 40%%); bare-sql: the same signature"
        " check and statement through psycopg alone (PostgreSQL, issue 23's target 85%%)",
    )
    parser.add_argument(
        "--peer",
        choices=["none", "dj-stripe"],
        default="none",
        help="intake: also measure dj-stripe 2.11 (bench/peer_djstripe.py) in the same rounds",
    )
    parser.add_argument(
        "--peer-pg-url",
        help="the peer's database, DROPPED and created again"
        " (default: --pg-url's database name + _djstripe)",
    )
    parser.add_argument(
        "--event-bytes",
        type=int,
        help=f"pad each event to about this size (default with --peer: {PADDED_EVENT_BYTES:,};"
        " without: the plain 0.8 kB event)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.baseline == "bare-sql" and args.db != "postgresql":
        parser.error("--baseline bare-sql runs on PostgreSQL")
    if args.quick:
        args.duration, args.events = 5, 5_000
    if args.peer != "none":
        if args.db != "postgresql":
            parser.error("--peer runs on PostgreSQL")
        if args.stage == "all":
            args.stage = "intake"  # the peer is an intake comparison
        if args.stage != "intake":
            parser.error("--peer measures intake: --stage intake")
        if args.peer_pg_url is None:
            url = make_url(args.pg_url)
            args.peer_pg_url = url.set(database=f"{url.database}_djstripe").render_as_string(
                hide_password=False
            )
        if args.event_bytes is None:
            args.event_bytes = PADDED_EVENT_BYTES
    args.event_bytes = args.event_bytes or 0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """0 measured; 1 with --strict when a target is missed; 2 when nothing could be measured."""
    args = parse_args(argv)
    clock = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    load_before = os.getloadavg()[0]
    intake: IntakeResult | None = None
    workers: list[WorkerResult] = []
    try:
        generator = choose_generator(args.generator, wrk_threads=args.wrk_threads)
        with tempfile.TemporaryDirectory(prefix="referral-webhooks-") as tmp:
            work_dir = Path(tmp)
            if args.stage in ("all", "intake"):
                intake = measure_intake(args.db, args, generator, work_dir / "intake", clock)
            if args.stage in ("all", "worker"):
                for count in (int(n) for n in args.worker_counts.split(",")):
                    workers.append(measure_worker(args.db, count, args, work_dir, clock))
    except (SetupFailed, PeerSetupFailed, ServerFailed, CheckFailed, LoadFailed) as failure:
        print(f"\n{failure}", file=sys.stderr)
        return 2
    load_after = os.getloadavg()[0]
    print(f"\nload average before {load_before:.2f}, after {load_after:.2f}, {os.cpu_count()} CPUs")
    if intake is not None:
        print_intake(intake, generator, args)
    if workers:
        print_worker(workers)
    if not args.no_save:
        report = {
            "started_at": started_at,
            "commit": git_commit(),
            "generator": generator.description,
            "args": vars(args),
            "loadavg": {"before": load_before, "after": load_after, "cpus": os.cpu_count()},
            "intake": intake.as_dict() if intake is not None else None,
            "worker": [dataclasses.asdict(w) | {"rate": round(w.rate, 1)} for w in workers],
        }
        print(f"\nresults: {save(report, 'webhooks').relative_to(ROOT)}")
    missed = (intake is not None and False in (intake.passed, intake.peer_passed)) or any(
        w.passed is False for w in workers
    )
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
