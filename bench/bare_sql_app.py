"""A second baseline: the bare app plus the database work Referral's endpoints do.

Same documents and pages as `bare_app.py`, but each answer is read from the
benchmark's database with the same statements Referral sends, through the
driver alone (psycopg, or sqlite3 for `--db sqlite`) on one connection per
worker, in autocommit:

- `GET /api/v1/me`: the API key by the SHA-256 of the bearer token, joined to
  its business and trade (401 without one).
- `GET /`: the login session by the SHA-256 of the token in Flask's signed
  session cookie (same secret key), joined to its user and business, with the
  business's unread notifications counted; the page rendered from them.
- `GET /healthz`: `SELECT 1`.

Measured against it (`bench/run.py --baseline bare-sql`), a ratio says what
Referral's own machinery costs on top of the same database work: Flask
extensions, request hooks, SQLAlchemy's ORM, marshmallow and flask-smorest.
Not for `referral_post`, whose dozen statements are the service layer itself.

    BENCH_DATABASE_URL=... SECRET_KEY=... BENCH_SESSION_COOKIE=... \
        gunicorn 'bench.bare_sql_app:create_app()'
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from typing import Any

from flask import Flask, abort, g, render_template, request, session

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
SELECT user_account.name, user_account.email_verified_at, business.name,
       (SELECT count(*) FROM notification
        WHERE notification.business_id = business.id AND notification.read_at IS NULL)
FROM login_session
JOIN user_account ON user_account.id = login_session.user_id
JOIN business ON business.id = user_account.business_id
WHERE login_session.token_hash = {p} AND login_session.expires_at > {now}
  AND user_account.disabled_at IS NULL
"""


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
        return render_template(
            "home.html",
            business={"name": row[2]},
            user=g.user,
            unread=row[3],
            messages=[],
            form_token=bare_app.FORM_TOKEN,
        )

    def healthz() -> dict[str, str]:
        one("SELECT 1")
        return {"status": "ok"}

    # The same routes as the bare app's, now doing the database work.
    app.view_functions.update(me=me, home=home, healthz=healthz)
    return app
