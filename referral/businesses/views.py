"""Pages: my business profile, public profiles, and the operator's trade table."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from referral.auth.current import login_required, operator_required
from referral.businesses import services
from referral.businesses.models import Business, Trade
from referral.businesses.schemas import BusinessProfileSchema
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import FormSchema, parse_form

bp = Blueprint("businesses", __name__)
MANAGERS = ("owner", "manager")


def _trades() -> list[Trade]:
    return list(get_session().exec(select(Trade).order_by(Trade.name)))


def _trades_page(status: int = 200, **context: Any) -> tuple[str, int]:
    trades = _trades()
    names = {t.id: t.name for t in trades}
    competition = services.competition_table(get_session())
    competitor_names = {t.id: sorted(names[c] for c in competition.get(t.id, ())) for t in trades}
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template(
        "operator/trades.html", trades=trades, competitor_names=competitor_names, **context
    ), status


def _profile_form(business: Business) -> dict[str, Any]:
    trade = get_session().get(Trade, business.trade_id)
    return {
        "name": business.name,
        "trade": trade.slug if trade else "",
        "zip_code": business.zip_code,
        "radius_miles": business.radius_miles,
        "description": business.description,
        "phone": business.phone,
        "website": business.website,
    }


@bp.route("/business/profile", methods=["GET", "POST"])
@login_required
def edit_profile() -> Response | tuple[str, int]:
    """Edit my business's profile (owners and managers; staff see it read-only)."""
    can_edit = g.user.role in MANAGERS
    context: dict[str, Any] = {
        "trade_options": [(t.slug, t.name) for t in _trades()],
        "can_edit": can_edit,
        "errors": {},
    }
    if request.method == "GET":
        return render_template(
            "businesses/edit_profile.html", form=_profile_form(g.business), **context
        ), 200
    if not can_edit:
        abort(403)
    data, errors = parse_form(BusinessProfileSchema(), request.form)
    if not errors:
        try:
            services.update_business_profile(session=get_session(), business=g.business, data=data)
        except DomainError as error:
            get_session().rollback()
            errors = error.errors or {"_form": [error.message]}
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("businesses.edit_profile"))
    context["errors"] = errors
    return render_template("businesses/edit_profile.html", form=request.form, **context), 422


@bp.get("/businesses/<int:business_id>")
@login_required
def profile(business_id: int) -> str:
    """A business's public profile, as other businesses see it."""
    business = get_session().get(Business, business_id)
    if business is None:
        abort(404)
    trade = get_session().get(Trade, business.trade_id)
    return render_template("businesses/profile.html", business=business, trade=trade)


# --- operator: trades and competition -----------------------------------------------------


class TradeSchema(FormSchema):
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=80, error="Enter a name of 1 to 80 characters."),
    )
    slug = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(
            r"^[a-z0-9]+(-[a-z0-9]+)*$",
            error="Use lower-case letters, digits and single dashes, e.g. 'tile-setting'.",
        ),
    )


@bp.get("/operator/trades")
@operator_required
def trades() -> tuple[str, int]:
    """Every trade and which trades compete with it."""
    return _trades_page()


@bp.post("/operator/trades")
@operator_required
def add_trade() -> Response | tuple[str, int]:
    data, errors = parse_form(TradeSchema(), request.form)
    if not errors:
        try:
            services.add_trade(session=get_session(), name=data["name"], slug=data["slug"])
        except DomainError as error:
            get_session().rollback()
            errors = error.errors
        else:
            flash(f"Trade “{data['name']}” added.", "success")
            return redirect(url_for("businesses.trades"))
    return _trades_page(422, errors=errors, form=request.form)


@bp.route("/operator/trades/<int:trade_id>", methods=["GET", "POST"])
@operator_required
def edit_trade(trade_id: int) -> Response | tuple[str, int]:
    """Rename a trade and choose the trades it competes with."""
    db = get_session()
    trade = db.get(Trade, trade_id)
    if trade is None:
        abort(404)
    competitors = services.competition_table(db).get(trade_id, set())
    if request.method == "POST":
        try:
            ids = {int(value) for value in request.form.getlist("competitors")}
            name = (request.form.get("name") or "").strip()
            if not 1 <= len(name) <= 80:
                raise DomainError("Enter a name of 1 to 80 characters.")
            services.rename_trade(session=db, trade_id=trade_id, name=name)
            services.set_competitors(session=db, trade_id=trade_id, competitor_ids=ids)
        except (ValueError, DomainError) as error:
            db.rollback()
            flash(getattr(error, "message", "Choose trades from the list."), "error")
            return render_template(
                "operator/edit_trade.html", trade=trade, trades=_trades(), competitors=competitors
            ), 422
        flash(f"“{trade.name}” saved.", "success")
        return redirect(url_for("businesses.trades"))
    return render_template(
        "operator/edit_trade.html", trade=trade, trades=_trades(), competitors=competitors
    ), 200
