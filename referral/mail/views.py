"""The local outbox: in the embedded default, every email the app sends is here,
so a newcomer can click verification, reset and consent links without a mail
server. It does not exist when mail goes out by SMTP."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, has_request_context, render_template, request

from referral.db import get_session
from referral.mail.delivery import list_outbox_emails
from referral.mail.models import OutboxEmail

bp = Blueprint("mail", __name__)

PER_PAGE = 50


LOOPBACK = ("127.0.0.1", "::1")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _loopback_host(host: str) -> bool:
    """The Host header names this machine (any port): 127.0.0.1, localhost, [::1]."""
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:  # an unbalanced "[" and the like
        return False
    return name in LOOPBACK_NAMES


def outbox_visible() -> bool:
    """The outbox shows everyone's email (reset links included), so it exists
    only with the outbox backend and only for a browser on this machine, not
    through a proxy: a deployment that forgot MAIL_BACKEND=smtp leaks nothing.
    The Host header must name this machine too, so a page of another site
    whose name was rebound to 127.0.0.1 (DNS rebinding) cannot read it."""
    return (
        has_request_context()
        and current_app.config["MAIL_BACKEND"] == "outbox"
        and request.remote_addr in LOOPBACK
        and "X-Forwarded-For" not in request.headers
        and _loopback_host(request.host)
    )


@bp.before_request
def _only_for_a_local_outbox() -> None:
    if not outbox_visible():
        abort(404)


@bp.get("/dev/outbox")
def outbox() -> str:
    """Every email sent, newest first, a page at a time."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    listing = list_outbox_emails(session=get_session(), page=page, per_page=PER_PAGE)
    pages = max(1, -(-listing["total"] // PER_PAGE))
    return render_template("mail/outbox.html", emails=listing["items"], page=page, pages=pages)


@bp.get("/dev/outbox/<int:email_id>")
def show(email_id: int) -> str:
    """One email: its text with the links clickable, and its HTML in a sandbox."""
    email = get_session().get(OutboxEmail, email_id)
    if email is None:
        abort(404)
    return render_template("mail/show.html", email=email)
