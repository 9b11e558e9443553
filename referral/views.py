"""Every page blueprint, registered from one list."""

from __future__ import annotations

from flask import Blueprint, Flask, g, render_template

home = Blueprint("home", __name__)


@home.get("/")
def index():  # type: ignore[no-untyped-def]
    """The home page: a dashboard for a signed-in business, a welcome otherwise."""
    if g.get("user") is None:
        return render_template("home/welcome.html")
    return render_template("home/dashboard.html")


@home.get("/healthz")
def health():  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from referral.db import get_session

    get_session().execute(text("SELECT 1"))
    return {"status": "ok"}


def register_blueprints(app: Flask) -> None:
    from referral.analytics.views import bp as analytics
    from referral.api_docs import docs
    from referral.apikeys.views import bp as apikeys
    from referral.audit.views import bp as audit
    from referral.auth.views import bp as auth
    from referral.businesses.views import bp as businesses
    from referral.commissions.views import bp as commissions
    from referral.consent.views import bp as consent
    from referral.customers.views import bp as customers
    from referral.leads.views import bp as leads
    from referral.mail.views import bp as mail
    from referral.notifications.views import bp as notifications
    from referral.partnerships.views import bp as partnerships
    from referral.payments.views import bp as payments
    from referral.referrals.views import bp as referrals
    from referral.settlements.views import bp as settlements

    for blueprint in (
        home,
        auth,
        businesses,
        partnerships,
        customers,
        referrals,
        commissions,
        settlements,
        analytics,
        leads,
        payments,
        consent,
        notifications,
        audit,
        apikeys,
        mail,
        docs,
    ):
        app.register_blueprint(blueprint)
