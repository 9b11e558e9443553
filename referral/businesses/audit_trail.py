"""Page: the audit trail of my business's data (who looked at or changed what).

It names the businesses that acted, so it lives here rather than in the core
audit package that records the events; its blueprint keeps the name "audit"."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from sqlmodel import select

from referral.audit.models import AuditEvent
from referral.auth.current import roles_required
from referral.businesses.models import Business
from referral.db import get_session
from referral.listing import page_of

bp = Blueprint("audit", __name__)


@bp.get("/audit")
@roles_required("owner", "manager")
def index() -> str:
    """The newest audit events about my customers' data."""
    listing = page_of(
        get_session(),
        select(AuditEvent, Business.name)
        .outerjoin(Business, Business.id == AuditEvent.actor_business_id)
        .where(AuditEvent.owner_business_id == g.business.id),
        sorts={"date": AuditEvent.id, "who": Business.name, "what": AuditEvent.action},
        default="-date",
        tiebreak=AuditEvent.id,
    )
    return render_template("audit/index.html", listing=listing)
