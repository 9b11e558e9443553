"""Pages: sign-up, my business profile, public profiles, and the operator's trade table."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import select
from werkzeug.wrappers import Response

from referral.auth.current import login_required, operator_required
from referral.auth.limits import per_email_limit
from referral.auth.roles import MANAGING_ROLES
from referral.auth.services import normalise_email
from referral.businesses import services
from referral.businesses.geo import US_TIME_ZONES, locate_zip, zone_for_zip
from referral.businesses.models import Business, Trade
from referral.businesses.schemas import (
    BusinessProfileSchema,
    NewTradeSchema,
    SignupSchema,
    TradeEditSchema,
)
from referral.businesses.signup import sign_up_business
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import parse_form
from referral.security import limiter

bp = Blueprint("businesses", __name__)


def _refused(error: DomainError) -> dict[str, list[str]]:
    """A business rule said no: undo what the request wrote, keep the reasons."""
    if error.status == 404:
        raise error
    get_session().rollback()
    return error.errors or {"_form": [error.message]}


# --- sign-up ---------------------------------------------------------------------------------


def _trade_options() -> list[tuple[str, str]]:
    return [(t.slug, t.name) for t in get_session().exec(select(Trade).order_by(Trade.name))]


def _signup_page(status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template("auth/signup.html", trades=_trade_options(), **context), status


def _signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
@per_email_limit()
def signup() -> Response | tuple[str, int]:
    """Sign up a business and its owner. The answer is the same whether or not
    the address has an account (that account's owner is told by email)."""
    if request.method == "GET":
        return _signup_page(form={"radius_miles": 25})
    data, errors = parse_form(SignupSchema(), request.form)
    if not errors:
        try:
            sign_up_business(session=get_session(), data=data)
        except DomainError as error:
            get_session().rollback()
            errors = error.errors or {"_form": [error.message]}
        else:
            email = normalise_email(data["email"])
            return render_template("auth/check_email.html", email=email, errors={}, form={}), 200
    return _signup_page(422, form=request.form, errors=errors)


# --- my business's profile -----------------------------------------------------------------


def _profile_page(form: Any, errors: dict[str, list[str]], status: int) -> tuple[str, int]:
    trades = get_session().exec(select(Trade).order_by(Trade.name)).all()
    return render_template(
        "businesses/edit_profile.html",
        form=form,
        errors=errors,
        trade_options=[(t.slug, t.name) for t in trades],
        trade_names={t.slug: t.name for t in trades},
        can_edit=g.user.role in MANAGING_ROLES,
        zone_options=[(z, z.replace("_", " ")) for z in US_TIME_ZONES],
        zip_zone=zone_for_zip(g.business.zip_code) or "UTC",
    ), status


def _saved_profile(business: Business) -> dict[str, Any]:
    trade = get_session().get(Trade, business.trade_id)
    return {
        "name": business.name,
        "trade": trade.slug if trade else "",
        "zip_code": business.zip_code,
        "radius_miles": business.radius_miles,
        "description": business.description,
        "phone": business.phone,
        "website": business.website,
        "time_zone": business.time_zone,
        "postal_address": business.postal_address,
    }


@bp.route("/business/profile", methods=["GET", "POST"])
@login_required
def edit_profile() -> Response | tuple[str, int]:
    """Edit my business's profile (owners and managers; staff see it read-only)."""
    if request.method == "GET":
        return _profile_page(_saved_profile(g.business), {}, 200)
    if g.user.role not in MANAGING_ROLES:
        abort(403)
    data, errors = parse_form(BusinessProfileSchema(), request.form)
    if not errors:
        try:
            services.update_business_profile(
                session=get_session(), business=g.business, role=g.user.role, data=data
            )
        except DomainError as error:
            errors = _refused(error)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("businesses.edit_profile"))
    return _profile_page(request.form, errors, 422)


@bp.get("/businesses/<int:business_id>")
@login_required
def profile(business_id: int) -> str:
    """A business's public profile, as any signed-in business sees it."""
    business = get_session().get(Business, business_id)
    if business is None:
        abort(404)
    return render_template(
        "businesses/profile.html",
        profile=services.public_profile(get_session(), business),
        place=locate_zip(business.zip_code),
    )


# --- operator: trades and competition -------------------------------------------------------


def _trades_page(form: Any, errors: dict[str, list[str]], status: int) -> tuple[str, int]:
    return render_template(
        "operator/trades.html",
        listings=services.list_trades(get_session()),
        form=form,
        errors=errors,
    ), status


def _trade_page(
    trade: Trade, form: dict[str, Any], errors: dict[str, list[str]], status: int
) -> tuple[str, int]:
    query = select(Trade).where(Trade.id != trade.id).order_by(Trade.name)
    others = get_session().exec(query).all()
    return render_template(
        "operator/edit_trade.html", trade=trade, others=others, form=form, errors=errors
    ), status


@bp.get("/operator/trades")
@operator_required
def trades() -> tuple[str, int]:
    """Every trade and which trades compete with it."""
    return _trades_page({}, {}, 200)


@bp.post("/operator/trades")
@operator_required
def add_trade() -> Response | tuple[str, int]:
    """Add a trade to the taxonomy."""
    data, errors = parse_form(NewTradeSchema(), request.form)
    if not errors:
        try:
            services.add_trade(session=get_session(), name=data["name"], slug=data["slug"])
        except DomainError as error:
            errors = _refused(error)
        else:
            flash(f"Trade “{data['name']}” added.", "success")
            return redirect(url_for("businesses.trades"))
    return _trades_page(request.form, errors, 422)


@bp.route("/operator/trades/<int:trade_id>", methods=["GET", "POST"])
@operator_required
def edit_trade(trade_id: int) -> Response | tuple[str, int]:
    """Rename a trade and choose the trades it competes with."""
    trade = get_session().get(Trade, trade_id)
    if trade is None:
        abort(404)
    if request.method == "GET":
        listing = services.list_trades(get_session(), [trade])[0]
        ticked = [str(t.id) for t in listing.competitors]
        return _trade_page(trade, {"name": trade.name, "competitors": ticked}, {}, 200)
    # A checklist sends one value per ticked box; parse_form reads one value per input.
    submitted = {
        "name": request.form.get("name", ""),
        "competitors": request.form.getlist("competitors"),
    }
    data, errors = parse_form(TradeEditSchema(), submitted)  # type: ignore[arg-type]
    if not errors:
        try:
            services.edit_trade(
                session=get_session(),
                trade_id=trade_id,
                name=data["name"],
                competitor_ids=data["competitors"],
            )
        except DomainError as error:
            errors = _refused(error)
        else:
            flash(f"“{data['name']}” saved.", "success")
            return redirect(url_for("businesses.trades"))
    return _trade_page(trade, submitted, errors, 422)
