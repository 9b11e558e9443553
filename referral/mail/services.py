"""Queue email: rendered now (in the request), delivered later by a job."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from flask import render_template
from jinja2 import TemplateNotFound
from sqlmodel import Session

from referral.jobs.models import Job
from referral.jobs.queue import enqueue

SEND_EMAIL = "send_email"


def queue_email(session: Session, *, to: str, subject: str, template: str, **context: Any) -> Job:
    """Render templates/emails/<template>.txt (and .html when present) and
    queue their delivery in the caller's transaction. The subject is one
    line: a line break from a name or title in it would end the header."""
    subject = " ".join(subject.split())
    text = render_template(f"emails/{template}.txt", subject=subject, **context)
    try:
        html = render_template(f"emails/{template}.html", subject=subject, **context)
    except TemplateNotFound:
        html = ""  # plain text only
    # The Message-ID is fixed now, so a delivery retried after a crash keeps it.
    message_id = make_msgid(domain="referral.localhost")
    return enqueue(
        session,
        SEND_EMAIL,
        {"to": to, "subject": subject, "text": text, "html": html, "message_id": message_id},
    )
