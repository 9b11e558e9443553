"""Pages: settlements with their lines, "settle now", monthly statements; on
the payments page, the recent settlements and those to confirm with the bank
(and the confirmation on Stripe Checkout); and the operator's payments page
(webhook events, settlements, reconciliation)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import or_
from sqlmodel import Session, select

from referral import live
from referral.auth.current import login_required, operator_required
from referral.auth.links import absolute_url
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.commissions.services import approve_due
from referral.db import get_session, utcnow
from referral.errors import DomainError
from referral.jobs.queue import enqueue
from referral.listing import page_of
from referral.localtime import display_zone, local_date
from referral.payments import gateway, webhooks
from referral.payments.views import payments_page_shows, redirect_to_stripe
from referral.referrals.models import Referral
from referral.settlements import reconcile as reconciliation
from referral.settlements import reversals, services, statements
from referral.settlements.models import IN_FLIGHT, WAITING_REASONS, ReconciliationRun, Settlement
from referral.spreadsheet import csv_download

bp = Blueprint("settlements", __name__)


def _names(ids: set[int]) -> dict[int, str]:
    rows = get_session().exec(select(Business.id, Business.name).where(Business.id.in_(ids)))
    return dict(rows.all())


@bp.get("/settlements")
@login_required
def index() -> str:
    mine = g.business.id
    listing = page_of(
        get_session(),
        select(Settlement).where(or_(Settlement.debtor_id == mine, Settlement.creditor_id == mine)),
        sorts={"date": Settlement.id, "value": Settlement.net_cents, "status": Settlement.status},
        default="-date",
        tiebreak=Settlement.id,
    )
    settlements = listing.items
    ids = {s.debtor_id for s in settlements} | {s.creditor_id for s in settlements}
    return render_template(
        "settlements/index.html",
        listing=listing,
        settlements=settlements,
        names=_names(ids) if ids else {},
        reasons=WAITING_REASONS,
    )


@bp.get("/settlements.csv")
@login_required
def export() -> Response:
    """Every settlement of this business, as CSV (streamed)."""
    return csv_download(
        "settlements.csv",
        services.SETTLEMENT_EXPORT_HEADER,
        partial(services.export_settlements, business_id=g.business.id),
    )


@bp.get("/settlements/<int:settlement_id>")
@login_required
def show(settlement_id: int) -> str:
    db = get_session()
    settlement = services.get_settlement(db, g.business.id, settlement_id)
    lines = services.lines_of(db, settlement_id)
    referral_ids = {commission.referral_id for _, commission in lines}
    needs = dict(
        db.exec(select(Referral.id, Referral.need).where(Referral.id.in_(referral_ids))).all()
    )
    return render_template(
        "settlements/show.html",
        settlement=settlement,
        lines=lines,
        needs=needs,
        names=_names({settlement.debtor_id, settlement.creditor_id}),
        reasons=WAITING_REASONS,
        in_flight=IN_FLIGHT,
    )


@bp.get("/settlements/<int:settlement_id>/status")
@login_required
def status(settlement_id: int) -> Response:
    """A settlement's status, as JSON, for its page while it is being charged."""
    settlement = services.get_settlement(get_session(), g.business.id, settlement_id)
    return live.status(settlement.status, done=settlement.status not in IN_FLIGHT)


@bp.post("/settlements/run")
@login_required
def settle_now() -> Response:
    """Settle this business's partnerships now instead of waiting for the weekly run."""
    if g.user.role not in ("owner", "manager"):
        flash("Only owners and managers can start a settlement.", "error")
        return redirect(url_for("settlements.index"))
    db = get_session()
    approve_due(db, business_id=g.business.id)
    built = services.build_settlements(db, business_id=g.business.id)
    failed = services.open_failures(db, business_id=g.business.id)
    if failed:
        flash(
            f"{len(failed)} partnership(s) could not be settled now; the platform team is told,"
            " and the next run tries again. The others are not held up.",
            "error",
        )
    if built:
        flash(f"{len(built)} settlement(s) started.", "success")
    else:
        flash(
            "Nothing to settle: no approved commissions are waiting (or one is under way).", "info"
        )
    return redirect(url_for("settlements.index"))


@bp.get("/statements")
@login_required
def statement() -> str:
    """This business's statement for a month (?month=2026-11)."""
    report = _statement()
    return render_template("settlements/statement.html", report=report)


@bp.get("/statements.csv")
@login_required
def statement_csv() -> Response:
    report = _statement()
    return Response(
        statements.as_csv(report),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="statement-{report.month:%Y-%m}.csv"'
        },
    )


def _statement() -> statements.Statement:
    zone = display_zone()
    month = statements.parse_month(request.args.get("month"), today=local_date(utcnow(), zone))
    return statements.statement(get_session(), g.business.id, month, zone)


@payments_page_shows
def _on_the_payments_page(session: Session, business_id: int) -> dict[str, Any]:
    return {
        "settlements": services.list_settlements(session, business_id, limit=10),
        "to_confirm": services.awaiting_authentication(session, business_id),
    }


@bp.post("/payments/settlements/<int:settlement_id>/confirm")
@login_required
def confirm_settlement(settlement_id: int) -> Response:
    """Pay a settlement the bank wants confirmed, on Stripe Checkout (3-D Secure there)."""
    return redirect_to_stripe(
        lambda: services.authentication_checkout(
            get_session(),
            actor=Actor.of_user(g.user, g.business),
            settlement_id=settlement_id,
            success_url=absolute_url("settlements.settlement_confirmed"),
            cancel_url=absolute_url("payments.index"),
        )
    )


@bp.get("/payments/settlements/confirmed")
@login_required
def settlement_confirmed() -> Response:
    flash("Payment received. The settlement shows as paid as soon as Stripe confirms it.", "info")
    return redirect(url_for("payments.index"))


@bp.get("/operator/payments")
@operator_required
def operator() -> str:
    db = get_session()
    return render_template(
        "operator/payments.html",
        failed_events=webhooks.failed_events(db),
        refused_events=webhooks.refused_events(db),
        settlements=services.operator_settlements(db),
        settlement_failures=services.open_failures(db),
        reconciliation=reconciliation.latest(db),
    )


@bp.post("/operator/payments/reconcile")
@operator_required
def reconcile() -> Response:
    """Start a reconciliation run in the background; the page shows it when done."""
    db = get_session()
    run = ReconciliationRun()
    db.add(run)
    db.flush()
    enqueue(db, reconciliation.RECONCILE, {"run_id": run.id}, max_attempts=3)
    flash("Reconciliation started.", "success")
    return redirect(url_for("settlements.operator"))


@bp.post("/operator/payments/events/<int:event_id>/replay")
@operator_required
def replay(event_id: int) -> Response:
    webhooks.replay(get_session(), event_id)
    flash("Event queued again.", "success")
    return redirect(url_for("settlements.operator"))


@bp.post("/operator/payments/settlements/<int:settlement_id>/refund")
@operator_required
def refund_settlement(settlement_id: int) -> Response:
    """Refund a settlement charge in full (the transfer and fee are reversed with it)."""
    try:
        reversals.refund_settlement(get_session(), settlement_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    except (gateway.PaymentsUnavailable, gateway.PaymentRefused) as error:
        flash(f"Stripe did not refund: {error}", "error")
    else:
        flash("Refund requested; the ledger follows when Stripe confirms it.", "success")
    return redirect(url_for("settlements.operator"))
