"""Pages: commissions earned and owed; correcting a won job's value or reporting a refund."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.current import login_required
from referral.commissions import services
from referral.commissions.listing import commission_rows, totals
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import run_action
from referral.money import parse_amount
from referral.referrals.services import get_referral

bp = Blueprint("commissions", __name__)


@bp.get("/commissions")
@login_required
def index() -> str:
    db = get_session()
    earned = commission_rows(db, g.business.id, role="earned")
    owed = commission_rows(db, g.business.id, role="owed")
    return render_template(
        "commissions/index.html",
        earned=earned,
        owed=owed,
        earned_totals=totals(earned),
        owed_totals=totals(owed),
    )


def _amount_action(referral_id: int, field: str, action, done: str) -> Response:  # type: ignore[no-untyped-def]
    db = get_session()
    get_referral(session=db, business_id=g.business.id, referral_id=referral_id)
    cents = parse_amount(request.form.get(field, ""))

    def run() -> None:
        if g.user.role not in ("owner", "manager"):
            raise DomainError("Only owners and managers can change a job's value.")
        if cents is None:
            raise DomainError("Enter an amount in dollars, like 1250 or 1250.50.")
        action(cents)

    run_action(run, done=done)
    return redirect(url_for("referrals.show", referral_id=referral_id))


@bp.post("/referrals/<int:referral_id>/job-value")
@login_required
def correct_value(referral_id: int) -> Response:
    return _amount_action(
        referral_id,
        "job_value",
        lambda cents: services.correct_job_value(
            session=get_session(),
            business_id=g.business.id,
            referral_id=referral_id,
            job_value_cents=cents,
        ),
        "Job value corrected; the commission follows it.",
    )


@bp.post("/referrals/<int:referral_id>/refund")
@login_required
def report_refund(referral_id: int) -> Response:
    return _amount_action(
        referral_id,
        "refund",
        lambda cents: services.report_refund(
            session=get_session(),
            business_id=g.business.id,
            referral_id=referral_id,
            refund_cents=cents,
        ),
        "Refund recorded; the commission is adjusted pro rata.",
    )
