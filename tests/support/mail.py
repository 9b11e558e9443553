"""Read the email the app queued, as a recipient would receive it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from referral.jobs.models import Job
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
