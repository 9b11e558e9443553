"""The home page and the health check (the app's own pages)."""

from __future__ import annotations

from flask import Blueprint, g, render_template

home = Blueprint("home", __name__)


@home.get("/")
def index():  # type: ignore[no-untyped-def]
    """The home page: a dashboard for a signed-in business, a welcome otherwise."""
    if g.get("user") is None:
        return render_template("home/welcome.html")
    from referral.db import get_session
    from referral.onboarding import first_steps

    steps = first_steps(get_session(), g.user, g.business)
    return render_template(
        "home/dashboard.html", steps=steps if not all(s.done for s in steps) else []
    )


@home.get("/healthz")
def health():  # type: ignore[no-untyped-def]
    """The load balancer's probe: the database answers through the app's pool."""
    from referral.db import ping_database

    ping_database()
    return {"status": "ok"}
