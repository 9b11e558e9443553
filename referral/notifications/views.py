"""Pages: my business's notifications."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from referral.auth.current import login_required
from referral.db import get_session
from referral.listing import page_of
from referral.notifications import services
from referral.notifications.models import Notification

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index() -> str:
    """The newest notifications of my business."""
    db = get_session()
    listing = page_of(
        db,
        select(Notification).where(Notification.business_id == g.business.id),
        sorts={"date": Notification.id},
        default="-date",
        tiebreak=Notification.id,
    )
    unread = services.count_unread(session=db, business_id=g.business.id) > 0
    return render_template("notifications/index.html", listing=listing, unread=unread)


@bp.post("/notifications/read")
@login_required
def mark_read() -> Response:
    services.mark_all_read(session=get_session(), business_id=g.business.id)
    return redirect(url_for("notifications.index"))
