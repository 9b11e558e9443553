"""A second baseline for webhook intake: the bare webhook app plus the work
Referral's intake does, through psycopg alone (PostgreSQL only).

`POST /stripe/webhook` checks the signature with stripe-python
(`WebhookSignature.verify_header`, as Referral does), reads the event as JSON,
and stores the event and the job that will apply it with the same single
statement Referral sends (referral/payments/webhooks.py), in autocommit on
one connection per worker, then answers `{"received": true, "duplicate": ...}`.
Measured against it (`bench/webhooks.py --baseline bare-sql`), the ratio is
what Referral's own machinery costs on top of verifying and storing.

    BENCH_DATABASE_URL=... STRIPE_WEBHOOK_SECRET=... \
        gunicorn 'bench.bare_sql_webhook:create_app()'
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import stripe
from flask import Flask, request

from bench import bare_app

STORE_EVENT_AND_JOB = """
WITH new_job AS (SELECT nextval(pg_get_serial_sequence('job', 'id')) AS id),
stored AS (
    INSERT INTO stripe_event (created_at, stripe_event_id, type, account, object_id,
                              event_created, payload, status, job_id, note)
    SELECT %(now)s, %(stripe_event_id)s, %(type)s, %(account)s, %(object_id)s,
           %(event_created)s, %(payload)s, 'received', new_job.id, ''
    FROM new_job
    ON CONFLICT (stripe_event_id) DO NOTHING
    RETURNING id, job_id
)
INSERT INTO job (id, created_at, kind, payload, status, attempts, max_attempts, run_at,
                 last_error)
SELECT stored.job_id, %(now)s, 'stripe.apply_event', json_build_object('event_id', stored.id),
       'queued', 0, 8, %(now)s, ''
FROM stored
RETURNING (payload->>'event_id')::integer
"""


def create_app() -> Flask:
    import psycopg
    from psycopg.types.json import Json

    app = bare_app.create_app()
    dsn = os.environ["BENCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    state: dict[str, Any] = {}

    @app.post("/stripe/webhook")
    def stripe_webhook() -> tuple[dict[str, object], int]:
        payload = request.get_data(cache=False)
        try:
            stripe.WebhookSignature.verify_header(
                payload, request.headers.get("Stripe-Signature"), secret, tolerance=300
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError):
            return {"error": "invalid webhook"}, 400
        if "connection" not in state:  # opened in the worker, after gunicorn forked
            state["connection"] = psycopg.connect(dsn, autocommit=True)
        obj = event["data"]["object"]
        now = dt.datetime.now(dt.UTC)
        stored = (
            state["connection"]
            .execute(
                STORE_EVENT_AND_JOB,
                {
                    "now": now,
                    "stripe_event_id": event["id"],
                    "type": event["type"],
                    "account": event.get("account"),
                    "object_id": obj.get("id") if isinstance(obj.get("id"), str) else None,
                    "event_created": dt.datetime.fromtimestamp(int(event["created"]), dt.UTC),
                    "payload": Json(event),
                },
            )
            .fetchone()
        )
        return {"received": True, "duplicate": stored is None}, 200

    return app
