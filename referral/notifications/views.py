"""Pages: my business's notifications."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from referral.auth.current import login_required
from referral.db import get_session
from referral.notifications import services

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index() -> str:
    """The newest notifications of my business."""
    db = get_session()
    notifications = services.list_notifications(session=db, business_id=g.business.id)
    unread = any(n.read_at is None for n in notifications)
    return render_template("notifications/index.html", notifications=notifications, unread=unread)


@bp.post("/notifications/read")
@login_required
def mark_read() -> Response:
    services.mark_all_read(session=get_session(), business_id=g.business.id)
    return redirect(url_for("notifications.index"))
