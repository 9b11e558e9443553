"""Read the email the app queued or delivered, as a recipient would receive it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from referral.jobs.models import Job
from referral.mail.models import OutboxEmail
from referral.mail.services import SEND_EMAIL


@dataclass(frozen=True)
class QueuedEmail:
    to: str
    subject: str
    text: str
    html: str

    def link(self, containing: str = "") -> str:
        """The first link in the text body that contains `containing`."""
        for url in re.findall(r"https?://\S+", self.text):
            if containing in url:
                return url
        raise AssertionError(f"no link with {containing!r} in: {self.text}")

    def path(self, containing: str = "") -> str:
        """The link without scheme and host, for the test client."""
        return re.sub(r"^https?://[^/]+", "", self.link(containing))


def queued_emails(db: Session, *, to: str | None = None) -> list[QueuedEmail]:
    db.expire_all()
    jobs = db.exec(select(Job).where(Job.kind == SEND_EMAIL).order_by(Job.id)).all()
    emails = [
        QueuedEmail(
            to=j.payload["to"],
            subject=j.payload["subject"],
            text=j.payload["text"],
            html=j.payload.get("html", ""),
        )
        for j in jobs
    ]
    return [e for e in emails if to is None or e.to == to]


def last_email(db: Session, *, to: str) -> QueuedEmail:
    emails = queued_emails(db, to=to)
    assert emails, f"no email to {to}"
    return emails[-1]


def sent_emails(db: Session, *, to: str | None = None) -> list[QueuedEmail]:
    """The email delivered to the outbox (MAIL_BACKEND=outbox), oldest first;
    run the jobs first (tests.support.jobs.run_jobs)."""
    db.expire_all()
    query = select(OutboxEmail).order_by(OutboxEmail.id)  # type: ignore[arg-type]
    if to is not None:
        query = query.where(OutboxEmail.recipient == to)
    return [
        QueuedEmail(to=e.recipient, subject=e.subject, text=e.text_body, html=e.html_body)
        for e in db.exec(query)
    ]
