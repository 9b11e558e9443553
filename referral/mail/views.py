"""The local outbox: in the embedded default, every email the app sends is here,
so a newcomer can click verification, reset and consent links without a mail
server. It does not exist when mail goes out by SMTP."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlmodel import select

from referral.db import get_session
from referral.mail.models import OutboxEmail

bp = Blueprint("mail", __name__)


@bp.before_request
def _only_with_the_outbox_backend() -> None:
    if current_app.config["MAIL_BACKEND"] != "outbox":
        abort(404)


@bp.get("/dev/outbox")
def outbox() -> str:
    """Every email sent, newest first."""
    emails = (
        get_session().exec(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(200)).all()
    )
    return render_template("mail/outbox.html", emails=emails)


@bp.get("/dev/outbox/<int:email_id>")
def show(email_id: int) -> str:
    """One email, as plain text with its links clickable."""
    email = get_session().get(OutboxEmail, email_id)
    if email is None:
        abort(404)
    return render_template("mail/show.html", email=email)
