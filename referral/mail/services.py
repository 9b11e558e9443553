"""Queue email: rendered now (in the request), delivered later by a job."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy import delete
from sqlmodel import Session, select

from referral.db import utcnow
from referral.jobs.models import Job
from referral.jobs.queue import enqueue
from referral.mail.models import OutboxEmail

SEND_EMAIL = "send_email"


def queue_email(session: Session, *, to: str, subject: str, template: str, **context: Any) -> Job:
    """Render templates/emails/<template>.txt (and .html when present) and
    queue their delivery in the caller's transaction. The subject is one
    line: a line break from a name or title in it would end the header."""
    subject = " ".join(subject.split())
    context["subject"] = subject
    text = _render(f"emails/{template}.txt", context)
    try:
        html = _render(f"emails/{template}.html", context)
    except TemplateNotFound:
        html = ""  # plain text only
    # The Message-ID is fixed now, so a delivery retried after a crash keeps it.
    message_id = make_msgid(domain="referral.localhost")
    return enqueue(
        session,
        SEND_EMAIL,
        {"to": to, "subject": subject, "text": text, "html": html, "message_id": message_id},
    )


def _render(path: str, context: dict[str, Any]) -> str:
    """An email from what its caller passes (with the app's filters and
    globals), without the pages' context (the signed-in user and business,
    unread notifications, the outbox link): an email shows none of it, and one
    queued by a job has none to show."""
    return current_app.jinja_env.get_template(path).render(context)


def forget_recipient(session: Session, address: str) -> None:
    """Remove every trace of the email sent or to be sent to `address` (an
    erased customer): email not yet sent is cancelled, and what was sent keeps
    only its Message-ID. In the caller's transaction."""
    if not address:
        return
    jobs = session.exec(
        select(Job).where(Job.kind == SEND_EMAIL, Job.payload["to"].as_string() == address)  # type: ignore[index]
    ).all()
    for job in jobs:
        if job.status == "queued":
            job.status, job.finished_at = "done", utcnow()
            job.last_error = "cancelled: recipient erased"
        job.payload = {
            **dict.fromkeys(("to", "subject", "text", "html"), ""),
            "message_id": job.payload.get("message_id", ""),
        }
    session.execute(delete(OutboxEmail).where(OutboxEmail.recipient == address))  # type: ignore[arg-type]
