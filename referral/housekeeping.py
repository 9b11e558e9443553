"""Daily housekeeping: what the product no longer needs is deleted, so tables
do not grow without end and personal data is not kept longer than its use.

- finished jobs after JOB_RETENTION_DAYS (their payloads hold rendered emails,
  which name customers): the Stripe event a job applied keeps its own record
  (status, time applied) and forgets the job's id;
- login sessions once expired;
- emailed verification and reset tokens a week after they expired (until then
  a late click is told "expired", not "unknown");
- uploaded consent forms no consent record names, a day after their upload
  (their referral was refused after the upload);
- the payload of Stripe events applied (or ignored) more than 400 days ago:
  their Stripe id, type, object, outcome and time applied stay;
- customer-list uploads never imported after a week, and the old values an
  import's rows keep for undo once it can no longer be undone (a file is
  deleted as soon as its import has run);
- webhook delivery attempts after WEBHOOK_RETENTION_DAYS (30), and the events
  and deliveries nothing waits for any more; Idempotency-Keys after 24 hours.

Dead jobs stay until an operator retries them or they are dealt with: they are
the record of what failed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app
from sqlalchemy import delete, null, select, update
from sqlmodel import Session

from referral import idempotency
from referral.auth.models import LoginSession, UserToken
from referral.consent.evidence import forget_unused_evidence
from referral.customers.imports import prune_imports
from referral.db import utcnow
from referral.integrations.services import prune_log as prune_webhook_log
from referral.jobs.models import Job
from referral.jobs.queue import job_handler, keep_scheduled, recurring
from referral.payments.models import StripeEvent

log = logging.getLogger(__name__)

HOUSEKEEPING = "housekeeping.run"
EXPIRED_TOKEN_GRACE = dt.timedelta(days=7)
STRIPE_PAYLOAD_RETENTION = dt.timedelta(days=400)
# Rows deleted per statement, so a large backlog is cleared in steps that keep
# each statement's locks and undo short.
BATCH = 5000


def prune(session: Session, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what is past keeping; the number of rows of each kind deleted."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=current_app.config["JOB_RETENTION_DAYS"])
    deleted = {
        "jobs": 0,
        "login_sessions": 0,
        "user_tokens": 0,
        "evidence_files": 0,
        "stripe_payloads": 0,
    }
    while True:
        finished = select(Job.id).where(Job.status == "done", Job.finished_at < cutoff).limit(BATCH)
        ids = list(session.execute(finished).scalars())
        if not ids:
            break
        session.execute(
            update(StripeEvent).where(StripeEvent.job_id.in_(ids)).values(job_id=None)  # type: ignore[union-attr]
        )
        session.execute(delete(Job).where(Job.id.in_(ids)))  # type: ignore[union-attr]
        deleted["jobs"] += len(ids)
    deleted["login_sessions"] = session.execute(
        delete(LoginSession).where(LoginSession.expires_at < now)  # type: ignore[arg-type]
    ).rowcount
    deleted["user_tokens"] = session.execute(
        delete(UserToken).where(UserToken.expires_at < now - EXPIRED_TOKEN_GRACE)  # type: ignore[arg-type]
    ).rowcount
    deleted["evidence_files"] = forget_unused_evidence(session, now=now)
    webhook_cutoff = now - dt.timedelta(days=current_app.config["WEBHOOK_RETENTION_DAYS"])
    deleted["webhook_attempts"] = prune_webhook_log(session, cutoff=webhook_cutoff)
    deleted["idempotency_keys"] = idempotency.prune(session, now=now)
    deleted.update(prune_imports(session, now=now))
    deleted["stripe_payloads"] = session.execute(
        update(StripeEvent)
        .where(
            StripeEvent.status.in_(("applied", "ignored")),  # type: ignore[attr-defined]
            StripeEvent.created_at < now - STRIPE_PAYLOAD_RETENTION,
            StripeEvent.payload.is_not(None),  # type: ignore[union-attr]
        )
        .values(payload=null())  # SQL NULL, not the JSON null
    ).rowcount
    return deleted


def schedule_next_run(session: Session, *, now: dt.datetime | None = None) -> None:
    """Keep exactly one housekeeping run queued, a day after the last."""
    keep_scheduled(session, HOUSEKEEPING, after=dt.timedelta(days=1), now=now)


@job_handler(HOUSEKEEPING)
def run_housekeeping(session: Session, _payload: dict[str, Any]) -> None:
    deleted = prune(session)
    log.info("housekeeping deleted %s", ", ".join(f"{n} {kind}" for kind, n in deleted.items()))
    schedule_next_run(session)


@recurring
def keep_housekeeping_queued(session: Session) -> None:
    schedule_next_run(session)
