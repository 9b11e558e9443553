"""A second baseline: the bare app plus the database work Referral's endpoints do.

Same documents and pages as `bare_app.py`, but each answer is read from the
benchmark's database with the same statements Referral sends, through the
driver alone (psycopg, or sqlite3 for `--db sqlite`) on one connection per
worker, in autocommit:

- `GET /api/v1/me`: the API key by the SHA-256 of the bearer token, joined to
  its business and trade (401 without one).
- `GET /`: the login session by the SHA-256 of the token in Flask's signed
  session cookie (same secret key), joined to its user and business, with the
  business's unread notifications counted; then the first-steps checklist's
  one statement (what the business has done); the page rendered from them.
- `GET /healthz`: `SELECT 1`.
- `POST /api/v1/referrals`: the eight statements Referral sends for a new
  referral with an Idempotency-Key (tests/test_statement_budgets.py): the API
  key with its creator, business and trade; the answer stored for the key;
  one read of everything the rules check (the sender verified, a referral
  made with the key, the customer, the partner and its trade, the live
  partnership, the terms in force, competition, a referral of the customer
  to the partner in the last 30 days); then in one transaction the referral,
  the consent request, the email job (the message formatted with str.format),
  the referral's first event and the answer stored for the key. Each a
  statement of the same shape as Referral's, reading and writing the same
  rows and columns; the rules are checked in plain Python (4xx otherwise).

Measured against it (`bench/run.py --baseline bare-sql`), a ratio says what
Referral's own machinery costs on top of the same database work: Flask
extensions, request hooks, SQLAlchemy's ORM, marshmallow and flask-smorest,
and for `referral_post` the service layer and the Jinja-rendered email too.

    BENCH_DATABASE_URL=... SECRET_KEY=... BENCH_SESSION_COOKIE=... \
        gunicorn 'bench.bare_sql_app:create_app()'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
from email.utils import make_msgid
from typing import Any

from flask import Flask, Response, abort, g, render_template, request, session

from bench import bare_app

ME = """
SELECT api_key.name, api_key.prefix, api_key.created_at, api_key.last_used_at,
       business.id, business.name, business.zip_code, business.radius_miles,
       business.description, business.phone, business.website, trade.name, trade.slug
FROM api_key
JOIN business ON business.id = api_key.business_id
JOIN trade ON trade.id = business.trade_id
WHERE api_key.key_hash = {p} AND api_key.revoked_at IS NULL
"""

SIGNED_IN = """
SELECT user_account.name, user_account.email_verified_at, business.name, business.id,
       (SELECT count(*) FROM notification
        WHERE notification.business_id = business.id AND notification.read_at IS NULL)
FROM login_session
JOIN user_account ON user_account.id = login_session.user_id
JOIN business ON business.id = user_account.business_id
WHERE login_session.token_hash = {p} AND login_session.expires_at > {now}
  AND user_account.disabled_at IS NULL
"""

# The home page's checklist (referral/onboarding.py): what the business has done.
# Parameters: the business id five times.
FIRST_STEPS = """
SELECT
  EXISTS (SELECT * FROM partnership
          WHERE (partnership.business_low_id = {p} OR partnership.business_high_id = {p})
            AND partnership.status IN ('proposed', 'active', 'paused')),
  EXISTS (SELECT * FROM customer WHERE customer.business_id = {p}),
  EXISTS (SELECT * FROM connected_account
          WHERE connected_account.business_id = {p}
            AND connected_account.payouts_enabled IS true
            AND connected_account.charges_enabled IS true),
  EXISTS (SELECT * FROM billing_profile
          WHERE billing_profile.business_id = {p}
            AND billing_profile.payment_method_id IS NOT NULL
            AND billing_profile.payment_method_id != '')
"""

DUPLICATE_WINDOW = dt.timedelta(days=30)
CONSENT_VALID_FOR = dt.timedelta(days=7)
CUSTOMER = ("id", "name", "email", "phone", "address", "zip_code", "erased_at")

# POST /api/v1/referrals, statement by statement as Referral sends them.
REFERRAL_KEY = """
SELECT api_key.business_id, api_key.created_by_id, user_account.role, business.trade_id,
       business.name, api_key.*, user_account.*, business.*, trade.*
FROM api_key
JOIN user_account ON user_account.id = api_key.created_by_id
JOIN business ON business.id = api_key.business_id
JOIN trade ON trade.id = business.trade_id
WHERE api_key.key_hash = {p} AND api_key.revoked_at IS NULL AND user_account.disabled_at IS NULL
"""

STORED_ANSWER = """
SELECT id, created_at, business_id, "key", request_sha256, status, body
FROM idempotent_request WHERE business_id = {p} AND "key" = {p}
"""

# Parameters: sender, sender, key, customer, partner, 30 days ago, sender's
# trade twice, customer, sender, partner, low id, high id, sender.
SENDING_FACTS = """
SELECT
  EXISTS (SELECT * FROM user_account
          WHERE user_account.business_id = {p} AND user_account.role = 'owner'
            AND user_account.email_verified_at IS NOT NULL
            AND user_account.disabled_at IS NULL),
  (SELECT referral.id FROM referral
   WHERE referral.sender_id = {p} AND referral.idempotency_key = {p}),
  (SELECT referral.id FROM referral
   WHERE referral.customer_id = {p} AND referral.receiver_id = {p} AND referral.created_at > {p}
     AND referral.status NOT IN ('declined_by_customer', 'withdrawn', 'expired')
   ORDER BY referral.id LIMIT 1),
  business.trade_id = {p} OR EXISTS (
    SELECT * FROM trade_competition
    WHERE trade_competition.trade_id = {p} AND trade_competition.competitor_id = business.trade_id),
  customer.id, customer.name, customer.email, customer.phone, customer.address,
  customer.zip_code, customer.erased_at, business.id, business.name, partnership.id,
  partnership.status, terms_version.id, proposal_terms.id,
  customer.*, business.*, trade.*, partnership.*, terms_version.*, proposal_terms.*
FROM (SELECT 1 AS one) AS anon_1
LEFT OUTER JOIN customer ON customer.id = {p} AND customer.business_id = {p}
LEFT OUTER JOIN business ON business.id = {p}
LEFT OUTER JOIN trade ON trade.id = business.trade_id
LEFT OUTER JOIN partnership ON business.id IS NOT NULL
  AND partnership.business_low_id = {p} AND partnership.business_high_id = {p}
  AND partnership.status IN ('proposed', 'active', 'paused')
LEFT OUTER JOIN terms_version ON terms_version.partnership_id = partnership.id
  AND terms_version.number = (SELECT max(terms_version_1.number)
                              FROM terms_version AS terms_version_1
                              WHERE terms_version_1.partnership_id = partnership.id)
LEFT OUTER JOIN proposal_terms ON proposal_terms.proposal_id = terms_version.proposal_id
  AND proposal_terms.referrer_id = {p}
"""

INSERT_REFERRAL = """
INSERT INTO referral (created_at, sender_id, receiver_id, partnership_id, terms_version_id,
  customer_id, created_by_user_id, need, urgency, preferred_contact_time, consent_method, status,
  idempotency_key, sent_at, respond_by, accepted_at, closed_at, decline_reason, job_value_cents,
  refunded_cents, currency, job_date, updated_at)
VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, 'awaiting_consent', {p}, NULL,
  NULL, NULL, NULL, '', NULL, 0, 'USD', NULL, NULL){returning}
"""

INSERT_CONSENT_REQUEST = """
INSERT INTO consent_request (created_at, referral_id, lead_id, customer_id, token_hash, sent_to,
  expires_at, used_at)
VALUES ({p}, {p}, NULL, {p}, {p}, {p}, {p}, NULL){returning}
"""

INSERT_EMAIL_JOB = """
INSERT INTO job (created_at, kind, singleton, payload, status, attempts, max_attempts, run_at,
  lease_expires_at, last_error, finished_at)
VALUES ({p}, 'send_email', NULL, {p}, 'queued', 0, 8, {p}, NULL, '', NULL){returning}
"""

INSERT_REFERRAL_EVENT = """
INSERT INTO referral_event (created_at, referral_id, business_id, user_id, action, from_status,
  to_status, note)
VALUES ({p}, {p}, {p}, {p}, 'created', '', 'awaiting_consent', ''){returning}
"""

STORE_ANSWER = """
INSERT INTO idempotent_request (created_at, business_id, "key", request_sha256, status, body)
VALUES ({p}, {p}, {p}, {p}, 201, {p}){returning}
"""

REFERRAL_STATEMENTS = {
    "referral_key": REFERRAL_KEY,
    "stored_answer": STORED_ANSWER,
    "sending_facts": SENDING_FACTS,
    "insert_referral": INSERT_REFERRAL,
    "insert_consent_request": INSERT_CONSENT_REQUEST,
    "insert_email_job": INSERT_EMAIL_JOB,
    "insert_referral_event": INSERT_REFERRAL_EVENT,
    "store_answer": STORE_ANSWER,
}

# templates/emails/consent_request.{txt,html}, as str.format templates.
CONSENT_EMAIL_TEXT = """Hello {customer},

{referrer} would like to pass your contact details to {receiver}, who can help with what \
you need. They will only do so if you agree.

See exactly what would be shared and answer Yes or No thanks here:

{link}

The link works once, for 7 days. If you do nothing, nothing is shared.

What you already agreed to with {referrer} (My consents):
{mine}"""

CONSENT_EMAIL_HTML = """<p>Hello {customer},</p>
<p>{referrer} would like to pass your contact details to {receiver}, who can help with what \
you need. They will only do so if you agree.</p>
<p><a href="{link}">See what would be shared, and answer</a></p>
<p>The link works once, for 7 days. If you do nothing, nothing is shared.</p>
<p><a href="{mine}">My consents</a>: what you already agreed to with {referrer}.</p>"""


def _connect(url: str) -> tuple[Any, str, str]:
    """(connection, placeholder, SQL for now) from a SQLAlchemy-style URL."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        # Stored as naive UTC text (referral.db.UTCDateTime).
        return connection, "?", "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return psycopg.connect(dsn, autocommit=True), "%s", "now()"


def _text(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _refused(status: int, message: str) -> tuple[dict[str, object], int]:
    return {"code": status, "message": message}, status


def create_app() -> Flask:
    app = bare_app.create_app()
    # Referral's session cookie, read as Referral reads it.
    app.secret_key = os.environ["SECRET_KEY"]
    app.config["SESSION_COOKIE_NAME"] = os.environ["BENCH_SESSION_COOKIE"]
    url = os.environ["BENCH_DATABASE_URL"]
    state: dict[str, Any] = {}

    def cursor() -> Any:
        """This worker's connection, opened on first use (after gunicorn forked)."""
        if "connection" not in state:
            state["connection"], placeholder, now = _connect(url)
            state["me"] = ME.format(p=placeholder)
            state["signed_in"] = SIGNED_IN.format(p=placeholder, now=now)
            state["first_steps"] = FIRST_STEPS.format(p=placeholder)
            state["sqlite"] = placeholder == "?"
            # SQLAlchemy reads new ids with RETURNING on PostgreSQL, lastrowid on SQLite.
            returning = "" if state["sqlite"] else " RETURNING id"
            for name, statement in REFERRAL_STATEMENTS.items():
                state[name] = statement.format(p=placeholder, returning=returning)
        return state["connection"].cursor()

    def one(statement: str, *params: Any) -> Any:
        current = cursor()
        try:
            current.execute(state[statement] if statement in state else statement, params)
            return current.fetchone()
        finally:
            current.close()

    def me() -> dict[str, object]:
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            abort(401)
        row = one("me", hashlib.sha256(raw.strip().encode()).hexdigest())
        if row is None:
            abort(401)
        return {
            "business": {
                "id": row[4],
                "name": row[5],
                "trade": {"name": row[11], "slug": row[12]},
                "zip_code": row[6],
                "radius_miles": row[7],
                "description": row[8],
                "phone": row[9],
                "website": row[10],
            },
            "api_key": {
                "name": row[0],
                "prefix": row[1],
                "created_at": _text(row[2]),
                "last_used_at": _text(row[3]),
            },
        }

    def home() -> str:
        token = session.get("sid")
        row = one("signed_in", hashlib.sha256(token.encode()).hexdigest()) if token else None
        if row is None:
            abort(401)
        g.user = {"name": row[0], "email_verified": row[1] is not None}
        business_id = row[3]
        partnered, customers, paid, pays = one("first_steps", *[business_id] * 5)
        steps = bare_app.first_steps(
            verified=g.user["email_verified"],
            partnered=partnered,
            customers=customers,
            paid=paid,
            pays=pays,
        )
        return render_template(
            "home.html",
            business={"name": row[2]},
            user=g.user,
            unread=row[4],
            messages=[],
            form_token=bare_app.FORM_TOKEN,
            steps=steps if not all(step.done for step in steps) else [],
        )

    def healthz() -> dict[str, str]:
        one("SELECT 1")
        return {"status": "ok"}

    def when(moment: dt.datetime) -> Any:
        """A time as Referral stores it: aware on PostgreSQL, naive UTC on SQLite."""
        return moment.replace(tzinfo=None) if state["sqlite"] else moment

    def send_referral() -> Any:
        """The same statements as Referral's POST /api/v1/referrals with an
        Idempotency-Key (a replay answers the stored body)."""
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            abort(401)
        current = cursor()
        try:
            current.execute(
                state["referral_key"], (hashlib.sha256(raw.strip().encode()).hexdigest(),)
            )
            caller = current.fetchone()
            if caller is None:
                abort(401)
            sender, user_id, role, sender_trade, sender_name = caller[:5]
            key = request.headers.get("Idempotency-Key") or None
            body = request.get_data(cache=True)
            fingerprint = hashlib.sha256(f"POST {request.path}\n".encode() + body).hexdigest()
            if key is not None:
                current.execute(state["stored_answer"], (sender, key))
                stored = current.fetchone()
                if stored is not None:
                    if stored[4] != fingerprint:
                        return _refused(422, "This Idempotency-Key was used for another request.")
                    return Response(stored[6], status=stored[5], mimetype="application/json")
            data = json.loads(body)
            partner, customer_id = int(data["partner_id"]), int(data["customer_id"])
            now = dt.datetime.now(dt.UTC)
            low, high = sorted((sender, partner))
            current.execute(
                state["sending_facts"],
                (sender, sender, key, customer_id, partner, when(now - DUPLICATE_WINDOW))
                + (sender_trade, sender_trade, customer_id, sender, partner, low, high, sender),
            )
            facts = current.fetchone()
            verified, replayed, earlier, competes = facts[:4]
            customer = dict(zip(CUSTOMER, facts[4:11], strict=True))
            receiver_id, receiver_name, partnership_id, partnership_status = facts[11:15]
            version_id, terms_id = facts[15:17]
            if role not in ("owner", "manager", "staff") or not verified:
                return _refused(403, "Your role cannot send referrals.")
            if replayed is not None:
                return _refused(409, "Replayed: not measured.")
            if receiver_id is None or receiver_id == sender:
                return _refused(404, "No such business.")
            if partnership_status != "active":
                return _refused(409, "Not an active partner.")
            if competes:
                return _refused(409, "Your trades compete.")
            if customer["id"] is None:
                return _refused(404, "No such customer.")
            if customer["erased_at"] is not None or earlier is not None:
                return _refused(409, "Erased, or referred in the last 30 days.")
            if version_id is None or terms_id is None:
                return _refused(409, "No agreed terms.")
            if state["sqlite"]:
                current.execute("BEGIN IMMEDIATE")
            else:
                current.execute("BEGIN")
            try:
                referral_id = write_referral(
                    current,
                    data,
                    now,
                    sender=sender,
                    user_id=user_id,
                    key=key,
                    partnership_id=partnership_id,
                    version_id=version_id,
                    customer=customer,
                    names=(sender_name, receiver_name),
                )
                answer = json.dumps(
                    {
                        "id": referral_id,
                        "sender_id": sender,
                        "receiver_id": partner,
                        "partnership_id": partnership_id,
                        "terms_version_id": version_id,
                        "status": "awaiting_consent",
                        "need": data["need"],
                        "urgency": data["urgency"],
                        "preferred_contact_time": data.get("preferred_contact_time", ""),
                        "consent_method": "email_link",
                        "created_at": now.isoformat(),
                        "sent_at": None,
                        "respond_by": None,
                        "accepted_at": None,
                        "job_value_cents": None,
                        "job_date": None,
                        "customer": {name: customer[name] for name in CUSTOMER[1:6]},
                    }
                )
                if key is not None:
                    current.execute(
                        state["store_answer"], (when(now), sender, key, fingerprint, answer)
                    )
                current.execute("COMMIT")
            except BaseException:
                current.execute("ROLLBACK")
                raise
            return Response(answer, status=201, mimetype="application/json")
        finally:
            current.close()

    def write_referral(
        current: Any,
        data: dict[str, Any],
        now: dt.datetime,
        *,
        sender: int,
        user_id: int,
        key: str | None,
        partnership_id: int,
        version_id: int,
        customer: dict[str, Any],
        names: tuple[str, str],
    ) -> int:
        """The referral, its consent request, the email asking the customer and
        its first event; the referral's id."""
        current.execute(
            state["insert_referral"],
            (when(now), sender, data["partner_id"], partnership_id, version_id, customer["id"])
            + (user_id, data["need"], data["urgency"], data.get("preferred_contact_time", ""))
            + ("email_link", key),
        )
        referral_id = current.lastrowid if state["sqlite"] else current.fetchone()[0]
        token = secrets.token_urlsafe(32)
        current.execute(
            state["insert_consent_request"],
            (when(now), referral_id, customer["id"], hashlib.sha256(token.encode()).hexdigest())
            + (customer["email"], when(now + CONSENT_VALID_FOR)),
        )
        words = {
            "customer": customer["name"],
            "referrer": names[0],
            "receiver": names[1],
            "link": f"http://localhost/consent/{token}",
            "mine": f"http://localhost/consent/mine/{secrets.token_urlsafe(40)}",
        }
        subject = f"{names[0]} asks before sharing your details with {names[1]}"
        email = {
            "to": customer["email"],
            "subject": subject,
            "text": CONSENT_EMAIL_TEXT.format(**words),
            "html": CONSENT_EMAIL_HTML.format(**words),
            "message_id": make_msgid(domain="referral.localhost"),
        }
        current.execute(state["insert_email_job"], (when(now), json.dumps(email), when(now)))
        current.execute(state["insert_referral_event"], (when(now), referral_id, sender, user_id))
        return int(referral_id)

    # The same routes as the bare app's, now doing the database work.
    app.view_functions.update(me=me, home=home, healthz=healthz, send_referral=send_referral)
    return app
