"""Pages: commissions earned and owed; correcting a won job's value or reporting a refund."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.current import login_required
from referral.commissions import services
from referral.commissions.listing import (
    EXPORT_HEADER,
    commission_page,
    commission_totals,
    export_rows,
)
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import run_action
from referral.money import MAX_JOB_CENTS, AmountError, cents_from_dollars
from referral.referrals.services import get_referral
from referral.spreadsheet import csv_download

bp = Blueprint("commissions", __name__)


@bp.get("/commissions")
@login_required
def index() -> str:
    db = get_session()
    business_id = g.business.id
    return render_template(
        "commissions/index.html",
        earned=commission_page(db, business_id, role="earned"),
        owed=commission_page(db, business_id, role="owed"),
        earned_totals=commission_totals(db, business_id, role="earned"),
        owed_totals=commission_totals(db, business_id, role="owed"),
    )


@bp.get("/commissions.csv")
@login_required
def export() -> Response:
    """Every commission earned and owed, as CSV (streamed)."""
    return csv_download(
        "commissions.csv", EXPORT_HEADER, partial(export_rows, business_id=g.business.id)
    )


def _amount_action(  # type: ignore[no-untyped-def]
    referral_id: int, field: str, action, done: str, *, minimum: int = 0
) -> Response:
    db = get_session()
    get_referral(session=db, business_id=g.business.id, referral_id=referral_id)

    def run() -> None:
        if g.user.role not in ("owner", "manager"):
            raise DomainError("Only owners and managers can change a job's value.")
        try:
            cents = cents_from_dollars(
                request.form.get(field, ""), minimum=minimum, maximum=MAX_JOB_CENTS
            )
        except AmountError as error:
            label = field.replace("_", " ").capitalize()
            raise DomainError(f"{label}: {error}", errors={field: [str(error)]}) from error
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
        minimum=1,
    )
