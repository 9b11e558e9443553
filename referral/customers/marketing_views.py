"""Public pages for a business's customers about its marketing email: the
one-click unsubscribe (RFC 8058) and the double opt-in confirmation, and the
staff actions on a customer's marketing permission.

No login for the public pages: the signed link is the key. The unsubscribe
POST needs no CSRF token either: a mail client posts `List-Unsubscribe=One-Click`
to it straight from the inbox (RFC 8058), and the token in the URL is what
authorises it; the worst a forged request could do is unsubscribe someone,
which only someone holding their link can do.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.current import login_required
from referral.businesses.models import Business
from referral.customers import marketing, services
from referral.customers.models import Customer, PermissionSource
from referral.db import get_session
from referral.errors import DomainError
from referral.security import csrf, limiter

bp = Blueprint("marketing", __name__)


def _problem(message: str, status: int) -> tuple[str, int]:
    return render_template("consent/problem.html", message=message), status


def _business_of(customer: Customer) -> Business:
    business = get_session().get(Business, customer.business_id)
    assert business is not None
    return business


@bp.route("/marketing/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit("60 per minute")
def unsubscribe(token: str) -> str | tuple[str, int]:
    """Unsubscribe from a business's offers: a button (GET), or at once (POST,
    the mail client's one-click or the button)."""
    db = get_session()
    try:
        if request.method == "POST":
            one_click = request.form.get("List-Unsubscribe") == "One-Click"
            how = "one-click from the mail client" if one_click else "unsubscribe page"
            customer = marketing.unsubscribe(db, token, how=how)
        else:
            customer = marketing.customer_from_unsubscribe_token(db, token)
    except DomainError as error:
        return _problem(error.message, 404)
    done = (
        request.method == "POST"
        or customer.erased
        or (
            customer.marketing_permission == "refused"
            and (not customer.email or marketing.suppression_of(db, customer) is not None)
        )
    )
    return render_template(
        "marketing/unsubscribe.html",
        business=_business_of(customer),
        done=done,
        action=url_for("marketing.unsubscribe", token=token),
    )


@bp.route("/marketing/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def confirm(token: str) -> str | tuple[str, int]:
    """The customer confirms they want a business's offers (double opt-in)."""
    db = get_session()
    try:
        if request.method == "POST":
            customer = marketing.confirm_opt_in(db, token)
        else:
            customer = marketing.customer_from_opt_in_token(db, token)
    except DomainError as error:
        return _problem(error.message, 404)
    return render_template(
        "marketing/confirm.html",
        business=_business_of(customer),
        done=request.method == "POST",
        action=url_for("marketing.confirm", token=token),
    )


@bp.post("/customers/<int:customer_id>/marketing/ask")
@login_required
def ask(customer_id: int) -> Response:
    """Email the customer a link to confirm they want our offers."""
    db = get_session()
    customer = services.get_customer(session=db, business_id=g.business.id, customer_id=customer_id)
    try:
        marketing.request_opt_in(db, business=g.business, customer=customer, user_id=g.user.id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("We emailed the customer a link to confirm.", "success")
    return redirect(url_for("customers.show", customer_id=customer_id))


@bp.post("/customers/<int:customer_id>/marketing/withdraw")
@login_required
def withdraw(customer_id: int) -> Response:
    """Record that the customer no longer wants our offers (they told us)."""
    db = get_session()
    customer = services.get_customer(session=db, business_id=g.business.id, customer_id=customer_id)
    if not customer.erased:
        marketing.withdraw_permission(
            db,
            customer=customer,
            source=PermissionSource.STAFF,
            how="The customer asked us to stop",
            user_id=g.user.id,
        )
    flash("No more offers will be emailed to this customer.", "success")
    return redirect(url_for("customers.show", customer_id=customer_id))
