"""Deliver queued email: by SMTP, or into the local outbox (embedded default)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from flask import current_app
from sqlmodel import Session, select

from referral.jobs.queue import job_handler
from referral.mail.models import OutboxEmail
from referral.mail.services import SEND_EMAIL


def build_message(payload: dict[str, Any], *, sender: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


@job_handler(SEND_EMAIL)
def send_email(session: Session, payload: dict[str, Any]) -> None:
    """Send one queued email. A retry after a crash may send it twice; the
    Message-ID stays the same, so mail clients can tell."""
    config = current_app.config
    message_id = payload.get("message_id") or make_msgid(domain="referral.localhost")
    if config["MAIL_BACKEND"] == "outbox":
        already = session.exec(
            select(OutboxEmail.id).where(OutboxEmail.message_id == message_id)
        ).first()
        if already is None:
            session.add(
                OutboxEmail(
                    message_id=message_id,
                    recipient=payload["to"],
                    subject=payload["subject"],
                    text_body=payload["text"],
                    html_body=payload.get("html", ""),
                )
            )
        return
    message = build_message(payload, sender=config["MAIL_SENDER"], message_id=message_id)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
