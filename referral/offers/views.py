"""Pages: my offers (owners and managers create, edit and end them), the offers
my partners publish to my customers, the opportunities pipeline with won and
lost, and the public page an offer link opens (no login: the signed link is
the key)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.current import login_required, roles_required
from referral.auth.roles import MANAGING_ROLES
from referral.businesses.actor import current_actor
from referral.db import get_session
from referral.errors import DomainError, ValidationFailed
from referral.forms import run_action
from referral.money import MAX_JOB_CENTS, AmountError, cents_from_dollars
from referral.offers import services
from referral.offers.landing import Landing, open_landing, say_yes
from referral.offers.models import Offer, OfferKind, OpportunityStatus
from referral.offers.services import OfferInput
from referral.security import limiter

bp = Blueprint("offers", __name__)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _form_input(
    kind: str | None = None,
) -> tuple[OfferInput | None, dict[str, Any], dict[str, list[str]]]:
    """The offer form: its values as typed, and the input or the field errors."""
    values = {
        name: request.form.get(name, "").strip()
        for name in (
            "kind",
            "title",
            "benefit",
            "description",
            "valid_from",
            "valid_until",
            "zip_codes",
            "radius_miles",
        )
    }
    if kind is not None:
        values["kind"] = kind
    errors: dict[str, list[str]] = {}
    valid_from = _date(values["valid_from"])
    if valid_from is None:
        errors["valid_from"] = ["Enter the first day as year-month-day, e.g. 2026-12-01."]
    valid_until = _date(values["valid_until"]) if values["valid_until"] else None
    if values["valid_until"] and valid_until is None:
        errors["valid_until"] = ["Enter the last day as year-month-day, or leave it empty."]
    radius = None
    if values["radius_miles"]:
        if values["radius_miles"].isdigit() and len(values["radius_miles"]) <= 4:
            radius = int(values["radius_miles"])
        else:
            errors["radius_miles"] = ["Enter whole miles, from 1 to 500, or leave it empty."]
    if errors or valid_from is None:
        return None, values, errors
    data = OfferInput(
        kind=values["kind"],
        title=values["title"],
        benefit=values["benefit"],
        description=values["description"],
        valid_from=valid_from,
        valid_until=valid_until,
        zip_codes=[z for z in re.split(r"[\s,;]+", values["zip_codes"]) if z],
        radius_miles=radius,
    )
    return data, values, {}


def _values(offer: Offer) -> dict[str, Any]:
    return {
        "kind": offer.kind,
        "title": offer.title,
        "benefit": offer.benefit,
        "description": offer.description,
        "valid_from": offer.valid_from.isoformat(),
        "valid_until": offer.valid_until.isoformat() if offer.valid_until else "",
        "zip_codes": ", ".join(offer.zip_codes),
        "radius_miles": offer.radius_miles or "",
    }


def _kinds() -> list[tuple[str, str]]:
    return [(kind.value, kind.label) for kind in OfferKind]


@bp.get("/offers")
@login_required
def index() -> str:
    """My offers, and the offers my active partners publish to my customers."""
    session = get_session()
    return render_template(
        "offers/index.html",
        offers=services.list_offers(session=session, business_id=g.business.id),
        from_partners=services.partner_offers(session=session, business_id=g.business.id),
        is_current=services.is_current,
        can_manage=g.user.role in MANAGING_ROLES,
        kinds=dict(_kinds()),
    )


@bp.get("/offers/new")
@roles_required(*MANAGING_ROLES)
def new() -> str:
    """A form to publish an offer."""
    today = dt.date.today().isoformat()
    return render_template(
        "offers/form.html",
        offer=None,
        values={"kind": OfferKind.PARTNER.value, "valid_from": today},
        errors={},
        kinds=_kinds(),
    )


@bp.post("/offers")
@roles_required(*MANAGING_ROLES)
def create() -> Response | tuple[str, int]:
    """Publish an offer."""
    data, values, errors = _form_input()
    if data is not None:
        try:
            services.create_offer(session=get_session(), actor=current_actor(), data=data)
        except ValidationFailed as error:
            errors = error.errors
    if errors:
        page = render_template(
            "offers/form.html", offer=None, values=values, errors=errors, kinds=_kinds()
        )
        return page, 422
    flash("Offer published.", "success")
    return redirect(url_for("offers.index"))


@bp.get("/offers/<int:offer_id>")
@roles_required(*MANAGING_ROLES)
def edit(offer_id: int) -> str:
    """One of my offers, to change or end."""
    offer = services.get_offer(session=get_session(), business_id=g.business.id, offer_id=offer_id)
    return render_template(
        "offers/form.html", offer=offer, values=_values(offer), errors={}, kinds=_kinds()
    )


@bp.post("/offers/<int:offer_id>")
@roles_required(*MANAGING_ROLES)
def save(offer_id: int) -> Response | tuple[str, int]:
    """Change an offer."""
    session = get_session()
    offer = services.get_offer(session=session, business_id=g.business.id, offer_id=offer_id)
    data, values, errors = _form_input(kind=offer.kind)
    if data is not None:
        try:
            services.update_offer(
                session=session, actor=current_actor(), offer_id=offer_id, data=data
            )
        except ValidationFailed as error:
            session.rollback()  # nothing half-changed
            errors = error.errors
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("offers.edit", offer_id=offer_id))
        else:
            flash("Offer saved.", "success")
            return redirect(url_for("offers.index"))
    offer = services.get_offer(session=session, business_id=g.business.id, offer_id=offer_id)
    page = render_template(
        "offers/form.html", offer=offer, values=values, errors=errors, kinds=_kinds()
    )
    return page, 422


@bp.post("/offers/<int:offer_id>/end")
@roles_required(*MANAGING_ROLES)
def end(offer_id: int) -> Response:
    """End an offer now."""
    run_action(
        lambda: services.end_offer(session=get_session(), actor=current_actor(), offer_id=offer_id),
        done="Offer ended: its links now say so.",
    )
    return redirect(url_for("offers.index"))


# --- the pipeline -----------------------------------------------------------------


def _pipeline(status: int = 200, **context: Any) -> tuple[str, int]:
    rows = services.list_opportunities(session=get_session(), business_id=g.business.id)
    context.setdefault("errors", {})
    context.setdefault("failed_id", None)
    return render_template(
        "offers/opportunities.html",
        rows=rows,
        today=dt.date.today().isoformat(),
        OPEN=OpportunityStatus.OPEN,
        **context,
    ), status


@bp.get("/opportunities")
@login_required
def opportunities() -> tuple[str, int]:
    """Customers who said yes to my own offers: open first, then won and lost."""
    return _pipeline()


@bp.post("/opportunities/<int:opportunity_id>/won")
@login_required
def won(opportunity_id: int) -> Response | tuple[str, int]:
    """The customer bought: recorded as a job for them."""
    session = get_session()
    services.get_opportunity(
        session=session, business_id=g.business.id, opportunity_id=opportunity_id
    )  # another business's: 404 before the form is read
    amount, won_on = request.form.get("amount", "").strip(), request.form.get("won_on", "").strip()
    errors: dict[str, list[str]] = {}
    cents = None
    try:
        cents = cents_from_dollars(amount, minimum=0, maximum=MAX_JOB_CENTS)
    except AmountError as error:
        errors["amount"] = [str(error) if amount else "Enter what the customer paid, in dollars."]
    day = _date(won_on)
    if day is None:
        errors["won_on"] = ["Enter the day of the sale as year-month-day, e.g. 2026-12-01."]
    if errors or cents is None or day is None:
        return _pipeline(422, errors=errors, failed_id=opportunity_id)
    try:
        services.win_opportunity(
            session=session,
            actor=current_actor(),
            opportunity_id=opportunity_id,
            amount_cents=cents,
            won_on=day,
        )
    except ValidationFailed as error:
        session.rollback()
        return _pipeline(422, errors=error.errors, failed_id=opportunity_id)
    except DomainError as error:
        if error.status == 404:
            raise
        session.rollback()
        flash(error.message, "error")
        return redirect(url_for("offers.opportunities"))
    flash("Won: the sale is recorded as a job for the customer.", "success")
    return redirect(url_for("offers.opportunities"))


@bp.post("/opportunities/<int:opportunity_id>/lost")
@login_required
def lost(opportunity_id: int) -> Response:
    """The customer did not buy."""
    reason = request.form.get("reason", "")
    run_action(
        lambda: services.lose_opportunity(
            session=get_session(),
            actor=current_actor(),
            opportunity_id=opportunity_id,
            reason=reason,
        ),
        done="Marked as lost.",
    )
    return redirect(url_for("offers.opportunities"))


# --- the public page an offer link opens ---------------------------------------------


def _landing_page(landing: Landing, token: str) -> str:
    return render_template("offers/landing.html", landing=landing, token=token)


@bp.get("/o/<token>")
@limiter.limit("60 per minute")
def landing(token: str) -> str:
    """The offer, who makes it, and for a partner's offer what would be shared and why."""
    return _landing_page(open_landing(get_session(), token), token)


@bp.post("/o/<token>")
@limiter.limit("30 per minute")
def yes(token: str) -> str:
    """The customer's yes: a consented referral to the partner, or an opportunity."""
    landing = say_yes(
        get_session(),
        token,
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
    )
    return _landing_page(landing, token)
