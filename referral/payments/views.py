"""Pages: a business's payments page (getting paid, paying), the Stripe
return routes, the webhook endpoint, and the operator's payments page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.current import login_required, operator_required
from referral.auth.links import absolute_url
from referral.db import engine, get_session
from referral.errors import DomainError
from referral.partnerships.services import Actor
from referral.payments import gateway, services, webhooks
from referral.security import csrf, limiter

bp = Blueprint("payments", __name__)


def _actor() -> Actor:
    return Actor.of_user(g.user, g.business)


@bp.get("/payments")
@login_required
def index() -> str:
    from referral.settlements.services import list_settlements

    db = get_session()
    return render_template(
        "payments/index.html",
        overview=services.overview(db, g.business.id),
        settlements=list_settlements(db, g.business.id, limit=10),
    )


def _to_stripe(start: Callable[[], str]) -> Response:
    """Redirect to a Stripe-hosted page, or back with the reason it could not."""
    try:
        url = start()
    except DomainError as error:
        if error.status == 404:
            raise
        message = error.message
    except gateway.PaymentsUnavailable:
        message = "Stripe cannot be reached right now. Please try again in a minute."
    except gateway.PaymentRefused as error:
        message = f"Stripe refused the request: {error}"
    else:
        return redirect(url, code=303)
    get_session().rollback()
    flash(message, "error")
    return redirect(url_for("payments.index"))


@bp.post("/payments/connect")
@login_required
def connect() -> Response:
    """Create (or continue) the business's Stripe Express onboarding."""
    return _to_stripe(
        lambda: services.start_onboarding(
            session=get_session(),
            actor=_actor(),
            return_url=absolute_url("payments.connect_return"),
            refresh_url=absolute_url("payments.connect_refresh"),
        )
    )


@bp.get("/payments/connect/return")
@login_required
def connect_return() -> Response:
    flash("Back from Stripe. Your account status updates as soon as Stripe confirms it.", "info")
    return redirect(url_for("payments.index"))


@bp.get("/payments/connect/refresh")
@login_required
def connect_refresh() -> Response:
    """Stripe's onboarding link expired: make a fresh one."""
    return _to_stripe(
        lambda: services.start_onboarding(
            session=get_session(),
            actor=_actor(),
            return_url=absolute_url("payments.connect_return"),
            refresh_url=absolute_url("payments.connect_refresh"),
        )
    )


@bp.post("/payments/card")
@login_required
def card() -> Response:
    """Save (or replace) the card settlements are charged to, on Stripe Checkout."""
    return _to_stripe(
        lambda: services.start_card_setup(
            session=get_session(),
            actor=_actor(),
            success_url=absolute_url("payments.card_saved") + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=absolute_url("payments.index"),
        )
    )


@bp.get("/payments/card/saved")
@login_required
def card_saved() -> Response:
    flash("Card received. It shows here as soon as Stripe confirms it.", "info")
    return redirect(url_for("payments.index"))


@bp.post("/stripe/webhook")
@csrf.exempt
@limiter.exempt
def stripe_webhook() -> tuple[dict[str, object], int]:
    """Stripe's events: verified and stored, then applied by the job worker."""
    try:
        _event_id, created = webhooks.receive(
            engine(), request.get_data(cache=False), request.headers.get("Stripe-Signature")
        )
    except gateway.InvalidWebhook as error:
        return {"error": {"code": "invalid_webhook", "message": str(error)}}, 400
    return {"received": True, "duplicate": not created}, 200


@bp.get("/operator/payments")
@operator_required
def operator() -> str:
    from referral.settlements.reconcile import latest
    from referral.settlements.services import operator_settlements

    db = get_session()
    return render_template(
        "operator/payments.html",
        failed_events=webhooks.failed_events(db),
        settlements=operator_settlements(db),
        reconciliation=latest(db),
    )


@bp.post("/operator/payments/reconcile")
@operator_required
def reconcile() -> Response:
    """Start a reconciliation run in the background; the page shows it when done."""
    from referral.jobs.queue import enqueue
    from referral.settlements.models import ReconciliationRun
    from referral.settlements.reconcile import RECONCILE

    db = get_session()
    run = ReconciliationRun()
    db.add(run)
    db.flush()
    enqueue(db, RECONCILE, {"run_id": run.id}, max_attempts=3)
    flash("Reconciliation started.", "success")
    return redirect(url_for("payments.operator"))


@bp.post("/operator/payments/events/<int:event_id>/replay")
@operator_required
def replay(event_id: int) -> Response:
    webhooks.replay(get_session(), event_id)
    flash("Event queued again.", "success")
    return redirect(url_for("payments.operator"))


@bp.post("/operator/payments/settlements/<int:settlement_id>/refund")
@operator_required
def refund_settlement(settlement_id: int) -> Response:
    """Refund a settlement charge in full (the transfer and fee are reversed with it)."""
    from referral.settlements.reversals import refund_settlement as refund

    try:
        refund(get_session(), settlement_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    except (gateway.PaymentsUnavailable, gateway.PaymentRefused) as error:
        flash(f"Stripe did not refund: {error}", "error")
    else:
        flash("Refund requested; the ledger follows when Stripe confirms it.", "success")
    return redirect(url_for("payments.operator"))
