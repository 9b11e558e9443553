"""Pages: a business's payments page (getting paid, paying), the Stripe
return routes and the webhook endpoints. The operator's payments page is
settlements' (referral/settlements/views.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlmodel import Session
from werkzeug.wrappers import Response

from referral import live
from referral.auth.current import login_required
from referral.auth.links import absolute_url
from referral.businesses.actor import current_actor
from referral.db import get_session, request_bind
from referral.errors import DomainError
from referral.payments import gateway, services, webhooks
from referral.security import csrf, limiter

bp = Blueprint("payments", __name__)


# What domains above payments show on its page (settlements: the recent ones
# and those the bank wants confirmed): each gives template variables for the
# signed-in business, registered with `payments_page_shows`.
PageContext = Callable[[Session, int], dict[str, Any]]
PAGE_CONTEXT: list[PageContext] = []


def payments_page_shows(provider: PageContext) -> PageContext:
    if provider not in PAGE_CONTEXT:
        PAGE_CONTEXT.append(provider)
    return provider


@bp.get("/payments")
@login_required
def index() -> str:
    db = get_session()
    overview = services.overview(db, g.business.id)
    waiting = request.args.get("waiting", "")
    shown: dict[str, Any] = {}
    for provider in PAGE_CONTEXT:
        shown.update(provider(db, g.business.id))
    return render_template(
        "payments/index.html",
        overview=overview,
        waiting=waiting if not services.done_waiting(overview, waiting) else "",
        live_state=services.live_state(overview),
        **shown,
    )


@bp.get("/payments/status")
@login_required
def status() -> Response:
    """What the payments page waits for (`?waiting=card` or `connect`), as JSON."""
    overview = services.overview(get_session(), g.business.id)
    done = services.done_waiting(overview, request.args.get("waiting", ""))
    return live.status(services.live_state(overview), done=done)


def redirect_to_stripe(start: Callable[[], str]) -> Response:
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
    return redirect_to_stripe(
        lambda: services.start_onboarding(
            session=get_session(),
            actor=current_actor(),
            return_url=absolute_url("payments.connect_return"),
            refresh_url=absolute_url("payments.connect_refresh"),
        )
    )


@bp.get("/payments/connect/return")
@login_required
def connect_return() -> Response:
    """Back from onboarding: the account as Stripe has it now, webhook or not."""
    try:
        account = services.refresh_account(session=get_session(), actor=current_actor())
    except (gateway.PaymentsUnavailable, gateway.PaymentRefused):
        get_session().rollback()
        account = None
    if account is not None and account.charges_enabled and account.payouts_enabled:
        flash("Back from Stripe. Your Stripe account is ready: you can be paid.", "success")
    else:
        flash(
            "Back from Stripe. Your account status updates as soon as Stripe confirms it.", "info"
        )
    # The page waits for the account only while it is not ready yet.
    return redirect(url_for("payments.index", waiting="connect"))


@bp.get("/payments/connect/refresh")
@login_required
def connect_refresh() -> Response:
    """Stripe's onboarding link expired: take in the account's state, make a fresh link."""
    try:
        services.refresh_account(session=get_session(), actor=current_actor())
    except (gateway.PaymentsUnavailable, gateway.PaymentRefused):
        get_session().rollback()
    return redirect_to_stripe(
        lambda: services.start_onboarding(
            session=get_session(),
            actor=current_actor(),
            return_url=absolute_url("payments.connect_return"),
            refresh_url=absolute_url("payments.connect_refresh"),
        )
    )


@bp.post("/payments/card")
@login_required
def card() -> Response:
    """Save (or replace) the card settlements are charged to, on Stripe Checkout."""
    return redirect_to_stripe(
        lambda: services.start_card_setup(
            session=get_session(),
            actor=current_actor(),
            success_url=absolute_url("payments.card_saved") + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=absolute_url("payments.index"),
        )
    )


@bp.get("/payments/card/saved")
@login_required
def card_saved() -> Response:
    return redirect(url_for("payments.index", waiting="card"))


def _receive(endpoint: str) -> tuple[dict[str, object], int]:
    try:
        _event_id, created = webhooks.receive(
            request_bind(),
            request.get_data(cache=False),
            request.headers.get("Stripe-Signature"),
            endpoint=endpoint,
        )
    except gateway.InvalidWebhook as error:
        return {"error": {"code": "invalid_webhook", "message": str(error)}}, 400
    return {"received": True, "duplicate": not created}, 200


@bp.post("/stripe/webhook")
@csrf.exempt
@limiter.exempt
def stripe_webhook() -> tuple[dict[str, object], int]:
    """The platform endpoint's events: verified and stored, then applied by the job worker."""
    return _receive("platform")


@bp.post("/stripe/webhook/connect")
@csrf.exempt
@limiter.exempt
def stripe_connect_webhook() -> tuple[dict[str, object], int]:
    """The Connect endpoint's events (connected accounts'), verified with its own secret."""
    return _receive("connect")
